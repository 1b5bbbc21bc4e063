"""issue_api_token USER [--days N] [--program SLUG ...] [--revoke-existing]: an API token.

For an API-feed user (docs/api.md "Tokens"): creates the user in the "API feed" group when it
does not exist, grants it the programs named, and prints a new token once. Only the token's
SHA-512 digest is stored (django-rest-knox); it expires after --days (default API_TOKEN_TTL_DAYS).
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from knox.models import AuthToken
from knox.settings import knox_settings

from accounts.management.program_option import program_from_option
from accounts.models import ProgramAccess

API_FEED_GROUP = "API feed"


class Command(BaseCommand):
    help = "Issue an API token for a user (created in the API feed group if missing)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--days", type=int, help="Days until the token expires.")
        parser.add_argument(
            "--program",
            action="append",
            default=[],
            help="Program slug the user may see (repeat for several).",
        )
        parser.add_argument(
            "--revoke-existing", action="store_true", help="Revoke the user's other tokens first."
        )

    def handle(self, *args, username, days, program, revoke_existing, **options):
        if days is not None and not (1 <= days <= 3650):
            raise CommandError("--days: give a number of days from 1 to 3650")
        programs = [program_from_option(slug) for slug in program]
        User = get_user_model()
        with transaction.atomic():
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_unusable_password()  # a feed signs in with its token only
                user.save()
                group = Group.objects.filter(name=API_FEED_GROUP).first()
                if group is None:
                    raise CommandError(f"group {API_FEED_GROUP!r} is missing: run migrate first")
                user.groups.add(group)
            if not user.is_active:
                raise CommandError(f"user {username!r} is inactive")
            for p in programs:
                ProgramAccess.objects.get_or_create(user=user, program=p)
            revoked = 0
            if revoke_existing:
                revoked, _ = AuthToken.objects.filter(user=user).delete()
            ttl = dt.timedelta(days=days) if days is not None else knox_settings.TOKEN_TTL
            instance, token = AuthToken.objects.create(user=user, expiry=ttl)
        self.stdout.write(
            f"user {username} ({'created' if created else 'existing'}), "
            f"{revoked} token(s) revoked, new token expires {instance.expiry:%Y-%m-%d %H:%M %Z}"
        )
        self.stdout.write(f"token: {token}")
        self.stdout.write("Store it now: only its digest is kept, it cannot be shown again.")
