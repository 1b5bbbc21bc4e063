"""Reliability tests: the opt-out channels when a part fails or requests collide."""

from tests.optouts.conftest import (  # noqa: F401  (fixtures shared with the opt-out tests)
    _clear_cache,
    groups,
    make_account,
    program,
    staff,
    today,
)
