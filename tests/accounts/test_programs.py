import datetime as dt
import shutil
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.models import FeeSchedule, Phase, Product, Program, RateSchedule, Utility
from accounts.services.programs import ProgramFileError, program_load, program_load_document

DEMO = Path(__file__).resolve().parents[2] / "accounts" / "demo" / "demo_program.toml"
TODAY = dt.date(2026, 11, 23)

pytestmark = pytest.mark.django_db


def demo_data() -> dict:
    with open(DEMO, "rb") as fp:
        return tomllib.load(fp, parse_float=Decimal)


def load(data, today=TODAY):
    return program_load_document(data=data, source="test.toml", today=today)


def errors_of(data, today=TODAY) -> list[str]:
    with pytest.raises(ProgramFileError) as exc:
        load(data, today)
    return exc.value.errors


def test_demo_file_loads_everything():
    result = program_load(path=DEMO, today=TODAY)
    program = Program.objects.get(slug="demo")
    assert result.created
    assert program.utility.code == "SCE"
    assert program.ivr_phone == "+19515550101"  # normalised to E.164
    assert program.cutoff_unit == "business" and program.cutoff_days == 5
    assert program.return_address.startswith("Inland Valley Clean Energy\nPO Box 1000")
    assert list(program.phases.values_list("name", "number")) == [("Phase 1", 1), ("Phase 2", 2)]
    assert Product.objects.get(program=program, is_default=True).code == "light-green"
    assert (
        RateSchedule.objects.get(utility=program.utility, code="TOU-8").customer_class
        == "industrial"
    )
    fee = FeeSchedule.objects.get(program=program, customer_class="large_commercial")
    assert fee.admin_fee == Decimal("25.00") and fee.cost_recovery_charge == Decimal("0.00")
    assert FeeSchedule.objects.filter(program=program).count() == 7


def test_loading_again_updates_in_place():
    load(demo_data())
    data = demo_data()
    data["program"]["name"] = "Inland Valley Clean Power"
    data["phases"][1]["enrollment_end"] = dt.date(2027, 6, 15)
    data["products"][0]["default"], data["products"][1]["default"] = False, True
    result = load(data)
    assert not result.created
    assert Program.objects.count() == 1 and Utility.objects.count() == 1
    assert (
        Phase.objects.count() == 2
        and Product.objects.count() == 2
        and FeeSchedule.objects.count() == 7
    )
    assert Program.objects.get().name == "Inland Valley Clean Power"
    assert Phase.objects.get(name="Phase 2").enrollment_end == dt.date(2027, 6, 15)
    assert Product.objects.get(is_default=True).code == "deep-green"
    assert result.counts["phases"] == {"created": 0, "updated": 1, "unchanged": 1}


def test_unknown_key_gets_did_you_mean():
    data = demo_data()
    data["settings"]["cutof_days"] = 10
    data["bogus_section"] = {}
    errors = errors_of(data)
    assert "settings.cutof_days: unknown key; did you mean 'cutoff_days'?" in errors
    assert any(e.startswith("bogus_section: unknown section") for e in errors)


def test_every_problem_is_reported_by_key_path_and_nothing_written():
    data = demo_data()
    data["phases"][1]["enrollment_start"] = dt.date(2027, 3, 1)
    data["phases"][1]["enrollment_end"] = dt.date(2027, 2, 1)
    data["settings"]["cutoff_unit"] = "weeks"
    data["settings"]["reentry_fee"] = Decimal("12.345")
    data["program"]["phone"] = "555"
    data["fees"][0]["customer_class"] = "residental"
    del data["utility"]["name"]
    errors = errors_of(data)
    assert "phases[1].enrollment_end: 2027-02-01 is before enrollment_start 2027-03-01" in errors
    assert "settings.cutoff_unit: 'weeks' is not one of calendar, business" in errors
    assert "settings.reentry_fee: 12.345 has more than 2 decimal places" in errors
    assert "program.phone: '555' is not a valid telephone number" in errors
    assert any(
        e.startswith("fees[0].customer_class: 'residental' is not one of")
        and "did you mean 'residential'" in e
        for e in errors
    )
    assert "utility.name: is required" in errors
    assert Program.objects.count() == 0 and Utility.objects.count() == 0


def test_types_are_checked():
    data = demo_data()
    data["settings"]["free_window_days"] = "60"
    data["settings"]["accept_optouts_before_notice"] = "yes"
    data["program"]["languages"] = ["en", "Spanish"]
    data["products"][1]["default"] = True
    errors = errors_of(data)
    assert "settings.free_window_days: must be a whole number, not '60'" in errors
    assert (
        "settings.accept_optouts_before_notice: must be true or false (no quotes), not 'yes'"
        in errors
    )
    assert any(e.startswith("program.languages: 'Spanish' not ISO 639-1") for e in errors)
    assert "products: exactly one product must have default = true; found 2" in errors


def test_phase_rules_are_checked():
    data = demo_data()
    data["phases"][0].update(rule="customer_class", values=["residential", "farm"])
    data["phases"][1].update(rule="rate_schedule", values=["TOU-X"])
    errors = errors_of(data)
    assert any(e.startswith("phases[0].values: 'farm' is not one of") for e in errors)
    assert "phases[1].values: rate schedule 'TOU-X' is not in [[rate_schedules]]" in errors


def test_fee_in_force_cannot_be_changed_but_a_new_row_can_be_added():
    load(demo_data())
    data = demo_data()
    data["fees"][0]["admin_fee"] = Decimal("7.50")
    errors = errors_of(data)
    assert len(errors) == 1
    assert "residential fee from 2025-01-01 is already in force" in errors[0]
    assert "add a new [[fees]] row with a later effective_from" in errors[0]
    assert FeeSchedule.objects.get(customer_class="residential").admin_fee == Decimal("5.00")

    data = demo_data()
    data["fees"].append(
        {
            "customer_class": "residential",
            "effective_from": dt.date(2027, 7, 1),
            "admin_fee": Decimal("7.50"),
        }
    )
    load(data)
    assert FeeSchedule.objects.filter(customer_class="residential").count() == 2
    # a row not yet in force may still be corrected
    data["fees"][-1]["admin_fee"] = Decimal("6.00")
    load(data)
    assert FeeSchedule.objects.get(
        customer_class="residential", effective_from=dt.date(2027, 7, 1)
    ).admin_fee == Decimal("6.00")


def test_missing_fee_classes_get_the_default_table():
    data = demo_data()
    data["fees"] = data["fees"][:1]
    load(data)
    fees = dict(FeeSchedule.objects.values_list("customer_class", "admin_fee"))
    assert fees == {
        "residential": Decimal("5.00"),
        "small_commercial": Decimal("5.00"),
        "medium_commercial": Decimal("10.00"),
        "large_commercial": Decimal("25.00"),
        "industrial": Decimal("25.00"),
        "street_lighting": Decimal("10.00"),
        "agricultural": Decimal("10.00"),
    }


def test_command_success_and_failure(tmp_path, capsys):
    call_command("load_program", str(DEMO))
    assert "program demo created" in capsys.readouterr().out

    bad = tmp_path / "bad.toml"
    shutil.copy(DEMO, bad)
    bad.write_text(bad.read_text().replace('cutoff_unit = "business"', 'cutoff_unit = "weeks"'))
    with pytest.raises(
        CommandError, match=r"settings.cutoff_unit: 'weeks' is not one of calendar, business"
    ):
        call_command("load_program", str(bad))

    broken = tmp_path / "broken.toml"
    broken.write_text("[program\nslug = 1\n")
    with pytest.raises(CommandError, match=r"(?s)broken.toml: .*not valid TOML: .*line 1"):
        call_command("load_program", str(broken))


def test_two_programs_cannot_share_an_ivr_line():
    """The called number decides a call's program: a shared line would put an opt-out in either."""
    from django.db import IntegrityError, transaction

    load(demo_data())
    other = demo_data()
    other["program"]["slug"], other["program"]["name"] = "other", "Other Clean Energy"
    errors = errors_of(other)
    assert errors == [
        "program.ivr_phone: +19515550101 is already the IVR line of program 'demo'; each program"
        " needs its own (the called number picks the program)"
    ]
    assert not Program.objects.filter(slug="other").exists()
    other["program"]["ivr_phone"] = "+1 951 555 0199"
    load(other)  # its own line: loads
    with pytest.raises(IntegrityError), transaction.atomic():
        Program.objects.filter(slug="other").update(ivr_phone="+19515550101")
    Program.objects.filter(slug="other").update(ivr_phone="")
    Program.objects.filter(slug="demo").update(ivr_phone="")  # no line: not a clash


def test_the_board_reports_threshold_may_be_stricter_than_15_15_never_looser():
    data = demo_data()
    data["settings"]["suppression_min_customers"] = 10
    data["settings"]["suppression_max_share_pct"] = 20
    errors = errors_of(data)
    assert (
        "settings.suppression_min_customers: 10 is fewer than 15: a program's threshold may only "
        "be stricter than the CPUC's 15/15 rule" in errors
    )
    assert any(
        e.startswith("settings.suppression_max_share_pct: 20 is more than 15") for e in errors
    )
    assert Program.objects.count() == 0

    data["settings"].update(suppression_min_customers=25, suppression_max_share_pct=Decimal("12.5"))
    program = load(data).program
    program.refresh_from_db()
    assert program.suppression_min_customers == 25
    assert program.suppression_max_share_pct == Decimal("12.50")
    # A file without the keys keeps them; a new program starts at the rule itself.
    del data["settings"]["suppression_min_customers"]
    assert load(data).program.suppression_min_customers == 25
    data["program"].update(slug="other", ivr_phone="+19515550199")
    del data["settings"]["suppression_max_share_pct"]
    other = load(data).program
    assert (other.suppression_min_customers, other.suppression_max_share_pct) == (15, 15)
