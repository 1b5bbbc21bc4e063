"""The opt-out fixtures (program with reads on the 2nd, fee schedule, products, pinned date,
staff, an opt-out after the free window), shared from tests/optouts/conftest.py, and the
program's trading-partner profile."""

import pytest

from accounts.models import TradingPartner
from accounts.services.trading_partners import trading_partner_for
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


@pytest.fixture
def partner(program, tmp_path):  # noqa: F811
    """The profile as the demo's (SCE: the utility generates mass-enrollment Connects), its
    exchange folder in the test's temporary directory."""
    p = trading_partner_for(program=program)
    p.sender_id, p.receiver_id = "CLEAN", "SCE"
    p.folder = str(tmp_path / "exchange")
    p.save()
    return p


@pytest.fixture
def cca_sends(partner):
    """A utility whose profile says the CCA sends the mass-enrollment Connects."""
    partner.mass_enrollment_connects = TradingPartner.ConnectsBy.CCA
    partner.save()
    return partner
