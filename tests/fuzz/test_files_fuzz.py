"""hypothesis over every file the app reads, through each command as an operator runs it.

A file made of a valid header and rows of arbitrary fields (quotes, commas, newlines, a NUL,
bytes that are not UTF-8, a field past the csv module's limit) either loads or is refused with a
CommandError whose message names the line; a refused file changes no row of the registry,
notices or intake (the ImportRun recording the attempt aside). With --skip-invalid the
eligible-customer import loads exactly the rows its run reports created. The program file is
fuzzed by replacing one line of the demo program with arbitrary text."""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import AuditEntry, ImportRun, ServiceAccount
from tests.fuzz.conftest import HEADERS, command_args

pytestmark = pytest.mark.django_db
FAST = settings(
    max_examples=12,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
DEMO_PROGRAM = Path(__file__).resolve().parents[2] / "accounts" / "demo" / "demo_program.toml"
CSV_COMMANDS = sorted(set(HEADERS) - {"load_program"})

cell = st.one_of(
    st.text(max_size=12).map(str.encode),
    st.sampled_from([b"", b"1", b"3012345678", b"2027-03-02", b"Y", b"ACCEPTED", b"mailed"]),
    st.binary(max_size=6),  # not UTF-8, most of the time
    st.sampled_from([b'"a,b"', b'"unclosed', b'a"b', b"\x00", b"x" * 131_073]),
)
rows = st.lists(st.lists(cell, min_size=1, max_size=22), max_size=5)


def snapshot() -> dict[str, int]:
    """Row counts of every table the commands may write, but the record of import attempts and
    the audit log (which records a refused attempt too, by design)."""
    return {
        m._meta.label: m._default_manager.count()
        for name in ("accounts", "cca_notices", "optouts")
        for m in apps.get_app_config(name).get_models()
        if m is not ImportRun and m is not AuditEntry
    }


def write(tmp_path, header: str, body: list[list[bytes]]) -> Path:
    path = tmp_path / "input.csv"
    path.write_bytes(header.encode() + b"\n" + b"\n".join(b",".join(r) for r in body) + b"\n")
    return path


def refused_properly(exc: CommandError, before: dict[str, int], *, csv: bool = True) -> None:
    message = str(exc)
    message.encode("utf-8")  # printable on any terminal: no lone surrogate
    assert message.strip()
    if csv:
        # An X12 file (CCASR responses) has segments and bytes where a CSV has lines.
        where = r"line \d+|header|column|no read dates|no rows|empty|segment \d+|byte \d+"
        assert re.search(where, message), message
    assert snapshot() == before, "a refused file changed the database"


@pytest.mark.parametrize("command", CSV_COMMANDS)
def test_every_file_loads_or_is_refused_naming_the_line(command, file_program, tmp_path):
    @FAST
    @given(body=rows)
    def check(body):
        path = write(tmp_path, HEADERS[command], body)
        before = snapshot()
        try:
            call_command(*command_args(command, path))
        except CommandError as exc:
            refused_properly(exc, before)

    check()


def test_skip_invalid_loads_exactly_the_rows_it_reports(file_program, tmp_path):
    @FAST
    @given(body=rows)
    def check(body):
        path = write(tmp_path, HEADERS["import_accounts"], body)
        before = ServiceAccount.objects.count()
        try:
            call_command(*command_args("import_accounts", path), "--skip-invalid")
        except CommandError as exc:
            refused_properly(exc, {**snapshot(), "accounts.ServiceAccount": before})
            return
        run = ImportRun.objects.latest("pk")
        assert run.outcome in (ImportRun.Outcome.LOADED, ImportRun.Outcome.PARTIAL)
        assert ServiceAccount.objects.count() - before == run.created

    check()


def test_the_program_file_loads_or_is_refused(db, tmp_path):
    lines = DEMO_PROGRAM.read_bytes().split(b"\n")

    @FAST
    @given(at=st.integers(0, len(lines) - 1), text=st.one_of(cell, st.binary(max_size=30)))
    def check(at, text):
        path = tmp_path / "program.toml"
        path.write_bytes(b"\n".join([*lines[:at], text, *lines[at + 1 :]]))
        before = snapshot()
        try:
            call_command("load_program", str(path))
        except CommandError as exc:
            refused_properly(exc, before, csv=False)

    check()
