"""Every command that reads a file refuses a file it cannot read with a message, never a
traceback: a folder, bytes that are not UTF-8, a field past the csv module's limit, a NUL."""

import pytest
from django.core.management import CommandError, call_command

from tests.fuzz.conftest import HEADERS, command_args

pytestmark = pytest.mark.django_db
COMMANDS = sorted(HEADERS)


def bad_line(command: str) -> int:
    return HEADERS[command].count("\n") + 2


@pytest.mark.parametrize("command", COMMANDS)
def test_a_folder_is_refused(command, file_program, tmp_path):
    with pytest.raises(CommandError, match="is a folder, not a file"):
        call_command(*command_args(command, tmp_path))


@pytest.mark.parametrize("command", COMMANDS)
def test_bytes_that_are_not_utf8_are_refused_naming_the_line(command, file_program, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(HEADERS[command].encode() + b"\n" + "Mu\xf1oz,\xe9\n".encode("latin-1"))
    where = (
        r"byte \d+ is not ASCII"  # an X12 file: its refusal names the byte
        if command == "import_ccasr_responses"
        else rf"line {bad_line(command)}\b.*not UTF-8"
    )
    with pytest.raises(CommandError, match=where):
        call_command(*command_args(command, path))


@pytest.mark.parametrize("command", COMMANDS)
def test_a_field_over_the_csv_limit_is_refused_naming_the_line(command, file_program, tmp_path):
    path = tmp_path / "long.csv"
    path.write_text(HEADERS[command] + "\n" + "1," + "x" * 131_073 + "\n")
    where = r"segment \d+" if command == "import_ccasr_responses" else f"line {bad_line(command)}"
    with pytest.raises(CommandError, match=where):
        call_command(*command_args(command, path))


@pytest.mark.parametrize("command", COMMANDS)
def test_a_nul_byte_is_refused_naming_the_line(command, file_program, tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(HEADERS[command].encode() + b"\n1,a\x00b\n")
    # An X12 file has segments, not lines: its refusal names the byte.
    where = "is a NUL" if command == "import_ccasr_responses" else f"line {bad_line(command)}"
    with pytest.raises(CommandError, match=where):
        call_command(*command_args(command, path))


def test_lines_end_as_spreadsheets_end_them_and_errors_name_the_line(tmp_path):
    from accounts.services.text_files import InputFileError, text_lines

    path = tmp_path / "mac.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b\r1,2\r\n3,4\n5,\xff\n")
    with pytest.raises(InputFileError, match=r"^line 4: not UTF-8 text \(byte 0xff at column 3\)"):
        list(text_lines(path))
    path.write_bytes(b"a,b\r1,2\r\n3,4\n")
    assert list(text_lines(path)) == ["a,b\r", "1,2\r\n", "3,4\n"]
