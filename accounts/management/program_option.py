"""The `--program SLUG` option every command shares."""

from django.core.management.base import CommandError

from accounts.models import Program


def program_from_option(slug: str) -> Program:
    """The program named by --program, with its utility; a CommandError naming the known slugs."""
    found = Program.objects.select_related("utility").filter(slug=slug).first()
    if found is None:
        known = (
            ", ".join(Program.objects.values_list("slug", flat=True))
            or "none; run load_program first"
        )
        raise CommandError(f"--program: no program with slug {slug!r} (known: {known})")
    return found
