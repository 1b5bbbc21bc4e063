"""The trading-partner profile in the program file: loaded, checked by key, updated in place,
never touching the control-number counters."""

import datetime as dt
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from accounts.models import TradingPartner
from accounts.services.programs import ProgramFileError, program_load_document

DEMO = Path(__file__).resolve().parents[2] / "accounts" / "demo" / "demo_program.toml"
TODAY = dt.date(2026, 11, 23)

pytestmark = pytest.mark.django_db


def demo() -> dict:
    with open(DEMO, "rb") as fp:
        return tomllib.load(fp, parse_float=Decimal)


def load(data):
    return program_load_document(data=data, source="t.toml", today=TODAY)


def test_the_demo_profile_is_sces_and_reloads_in_place():
    load(demo())
    p = TradingPartner.objects.get(program__slug="demo")
    assert (p.x12_version, p.usage, p.sender_id, p.receiver_id) == ("004010", "T", "IVCE", "SCE")
    assert p.utility_generates_connects and p.preenrollment_optouts == "csv"
    p.last_interchange_control_number = 41
    p.save()
    data = demo()
    data["trading_partner"]["usage"] = "production"
    data["trading_partner"]["codes"] = {"disconnect": ["7", "099"]}
    result = load(data)
    p.refresh_from_db()
    assert result.counts["trading partner"] == {"updated": 1}
    assert (p.usage, p.codes, p.last_interchange_control_number) == (
        "P",
        {"disconnect": ["7", "099"]},
        41,
    )
    assert TradingPartner.objects.count() == 1


def test_a_bad_profile_is_reported_by_key():
    data = demo()
    tp = data["trading_partner"]
    tp.update(
        usage="live",
        segment_terminator="*",  # the same as the element separator
        sender_id="IV*CE",
        x12_version="003040",
        mass_enrollment_connects="nobody",
        sftp_port=70000,
        codes={"connect": "021", "bogus": "1"},
    )
    with pytest.raises(ProgramFileError) as exc:
        load(data)
    errors = "\n".join(exc.value.errors)
    for expected in (
        "trading_partner.usage: 'live' is not one of test, production",
        "trading_partner.element_separator: the three separators must differ",
        "trading_partner.sender_id: 'IV*CE' contains a separator character",
        "trading_partner.x12_version: '003040' is not one of 004010, 005010",
        "trading_partner.mass_enrollment_connects: 'nobody' is not one of utility, cca",
        "trading_partner.sftp_port: must be a port number",
        "trading_partner.codes.connect: must be a list of 2 codes",
        "trading_partner.codes.bogus: unknown code",
    ):
        assert expected in errors
    assert not TradingPartner.objects.exists()


def test_a_program_file_without_a_profile_gets_one_from_its_names():
    data = demo()
    del data["trading_partner"]
    load(data)
    p = TradingPartner.objects.get()
    assert (p.sender_id, p.receiver_id, p.mass_enrollment_connects) == ("IVCE", "SCE", "utility")
