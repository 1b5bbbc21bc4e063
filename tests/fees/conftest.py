"""The opt-out fixtures (program with reads on the 2nd, fee schedule, products, pinned date,
staff, an opt-out after the free window), shared from tests/optouts/conftest.py."""

from tests.optouts.conftest import (  # noqa: F401
    TODAY,
    _clear_cache,
    groups,
    make_account,
    program,
    staff,
    terminate,
    today,
)
