"""The opt-out fixtures (a program with fees, products and reads; a pinned business date) and the
IVR's signing token, shared by the language tests."""

from tests.optouts.conftest import _clear_cache, make_account, program, today  # noqa: F401
from tests.optouts.test_ivr import twilio_token  # noqa: F401
