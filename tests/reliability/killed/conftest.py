"""Killed-worker tests: the batch and letter fixtures (a program with a mailer ID, notices)."""

from tests.batches.conftest import _today, notice_for, program  # noqa: F401  (fixtures)
from tests.mailers.conftest import demo_program, make_account  # noqa: F401  (fixtures)
