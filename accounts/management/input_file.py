"""The FILE argument of every command that reads one: a readable file, or the command stops
with a message saying why (no such file, a folder, not readable), never a traceback."""

import argparse
from pathlib import Path

from accounts.services.text_files import InputFileError, input_file_check


def input_file(value: str) -> Path:
    """argparse `type=` for a file to read."""
    try:
        return input_file_check(value)
    except InputFileError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
