import csv
import datetime as dt
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.services.demo_data import (
    DEMO_PHASES,
    ERROR_KINDS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    demo_data_generate,
)

DEMO_TOML = Path(__file__).resolve().parents[2] / "accounts" / "demo" / "demo_program.toml"
TODAY = dt.date(2026, 11, 23)
CLASSES = {
    "residential",
    "small_commercial",
    "medium_commercial",
    "large_commercial",
    "industrial",
    "street_lighting",
    "agricultural",
}


def rows_of(path):
    with open(path, newline="") as fp:
        return list(csv.DictReader(fp))


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "accounts.csv"
    demo_data_generate(path=path, accounts=20000, seed=7, today=TODAY)
    return path, rows_of(path)


def test_header_is_the_interface_and_values_are_well_formed(sample):
    path, rows = sample
    assert path.read_text().splitlines()[0].split(",") == list(REQUIRED_COLUMNS)
    numbers = [r["account_number"] for r in rows]
    assert len(set(numbers)) == len(rows) == 20000
    assert all(len(n) == 10 and n.isdigit() for n in numbers)
    for r in rows:
        assert r["customer_class"] in CLASSES
        assert 1 <= int(r["read_cycle"]) <= 21
        assert {r[k] for k in ("care", "nem", "medical_baseline", "direct_access")} <= {"Y", "N"}
        assert len(r["service_zip"]) == 5 and r["service_zip"].isdigit()
        assert r["phase"] in DEMO_PHASES
        assert r["customer_name"] and r["service_address"] and r["mailing_address"]


def test_population_is_realistic(sample):
    _, rows = sample
    n = len(rows)
    classes = Counter(r["customer_class"] for r in rows)
    assert 0.86 < classes["residential"] / n < 0.90
    assert set(classes) == CLASSES
    assert 0.08 < sum(r["language"] == "es" for r in rows) / n < 0.12
    assert 0.10 < sum(r["care"] == "Y" for r in rows) / n < 0.30
    assert 0.02 < sum(r["nem"] == "Y" for r in rows) / n < 0.15
    assert 0 < sum(r["direct_access"] == "Y" for r in rows) < n * 0.01
    assert {r["service_city"] for r in rows} >= {"TEMECULA", "HEMET", "PALM SPRINGS"}
    assert all(r["service_zip"].startswith(("92", "91")) for r in rows)  # one county
    assert set(Counter(r["read_cycle"] for r in rows)) == {str(k) for k in range(1, 22)}
    other_mail = [r for r in rows if r["mailing_address"] != r["service_address"]]
    assert 0.08 < len(other_mail) / n < 0.25
    assert any(r["mailing_address"].startswith("PO BOX") for r in other_mail)
    assert any(r["mailing_state"] != "CA" for r in other_mail)
    assert len({r["customer_name"] for r in rows}) > n * 0.3


def test_rate_schedules_match_the_demo_program_and_its_classes(sample):
    with open(DEMO_TOML, "rb") as fp:
        declared = {r["code"]: r["customer_class"] for r in tomllib.load(fp)["rate_schedules"]}
    _, rows = sample
    used = {(r["rate_schedule"], r["customer_class"]) for r in rows}
    assert all(declared.get(code) == cls for code, cls in used), used
    assert {
        "D",
        "D-CARE",
        "TOU-D-4-9PM",
        "TOU-D-PRIME",
        "TOU-GS-1",
        "TOU-GS-3",
        "TOU-8",
        "LS-1",
        "TOU-PA-2",
    } <= {c for c, _ in used}


def test_same_seed_same_file_other_seed_other_file(tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    demo_data_generate(path=a, accounts=500, seed=3, today=TODAY)
    demo_data_generate(path=b, accounts=500, seed=3, today=TODAY)
    demo_data_generate(path=c, accounts=500, seed=4, today=TODAY)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_enrolled_share_fills_status_date_and_product(tmp_path):
    path = tmp_path / "e.csv"
    demo_data_generate(path=path, accounts=4000, seed=1, enrolled_share=0.3, today=TODAY)
    rows = rows_of(path)
    assert list(rows[0]) == [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]
    enrolled = [r for r in rows if r["status"]]
    assert 0.25 < len(enrolled) / len(rows) < 0.35
    assert {r["status"] for r in enrolled} == {"enrolled", "participant"}
    for r in enrolled:
        when = dt.date.fromisoformat(r["enrollment_date"])
        assert when < TODAY and r["product"] in {"light-green", "deep-green"}
        assert (r["status"] == "participant") == ((TODAY - when).days > 120)
        assert r["direct_access"] == "N"
        assert not (r["care"] == "Y" and r["product"] == "deep-green")
    assert all(not r["enrollment_date"] and not r["product"] for r in rows if not r["status"])


def test_with_errors_plants_each_kind_where_it_says(tmp_path):
    path = tmp_path / "bad.csv"
    result = demo_data_generate(path=path, accounts=3000, seed=2, with_errors=True, today=TODAY)
    assert {p.kind for p in result.planted} == set(ERROR_KINDS)
    assert len(result.planted) == 3 * len(ERROR_KINDS)
    lines = {i + 2: r for i, r in enumerate(rows_of(path))}
    numbers = Counter(r["account_number"] for r in lines.values())
    for p in result.planted:
        row = lines[p.line]
        assert row[p.column] == p.value
        if p.kind == "duplicate_account":
            assert numbers[p.value] == 2
        if p.kind == "bad_class":
            assert row["customer_class"] not in CLASSES
        if p.kind == "missing_required":
            assert row[p.column] == ""
    # rows without a planted defect stay clean
    planted_lines = {p.line for p in result.planted}
    clean = [r for line, r in lines.items() if line not in planted_lines]
    assert all(
        r["customer_class"] in CLASSES and r["language"] in {"en", "es", "vi", "zh", "tl", "ko"}
        for r in clean
    )


def test_command_writes_file_and_lists_planted_rows(tmp_path, capsys):
    out = tmp_path / "cmd.csv"
    call_command(
        "generate_demo_data",
        "--accounts",
        "1000",
        "--out",
        str(out),
        "--with-errors",
        "--seed",
        "5",
    )
    text = capsys.readouterr().out
    assert f"wrote 1000 accounts to {out}" in text
    assert "planted 10 bad rows:" in text
    assert "bad_zip" in text and "duplicate_account" in text
    assert len(rows_of(out)) == 1000


def test_command_rejects_bad_arguments(tmp_path):
    with pytest.raises(CommandError, match=r"--enrolled-share.*between 0 and 1"):
        call_command(
            "generate_demo_data",
            "--accounts",
            "10",
            "--out",
            str(tmp_path / "x.csv"),
            "--enrolled-share",
            "1.5",
        )
    with pytest.raises(CommandError, match=r"--accounts.*at least 1"):
        call_command("generate_demo_data", "--accounts", "0", "--out", str(tmp_path / "x.csv"))


@pytest.mark.django_db
def test_the_importer_rejects_exactly_the_planted_rows_and_loads_the_rest(tmp_path):
    importing = pytest.importorskip("accounts.services.importing")
    from accounts.models import ServiceAccount
    from accounts.services.programs import program_load
    from accounts.services.status import Actor

    program = program_load(path=DEMO_TOML, today=TODAY).program
    path = tmp_path / "bad.csv"
    result = demo_data_generate(
        path=path, accounts=2000, seed=9, with_errors=True, enrolled_share=0.2, today=TODAY
    )
    with pytest.raises(importing.ImportRejected) as exc:
        importing.accounts_import(
            program=program, path=path, actor=Actor("test"), skip_invalid=False, progress=False
        )
    assert {e.line for e in exc.value.errors} == {p.line for p in result.planted}
    assert not ServiceAccount.objects.exists()

    loaded = importing.accounts_import(
        program=program, path=path, actor=Actor("test"), skip_invalid=True, progress=False
    )
    assert loaded.rejected == len(result.planted) and loaded.created == 2000 - len(result.planted)
    assert ServiceAccount.objects.filter(status__in=["enrolled", "participant"]).count() > 300


def test_a_larger_file_starts_with_the_rows_of_a_smaller_one(tmp_path):
    small, large = tmp_path / "s.csv", tmp_path / "l.csv"
    demo_data_generate(path=small, accounts=300, seed=3, today=TODAY)
    demo_data_generate(path=large, accounts=900, seed=3, today=TODAY)
    assert large.read_text().startswith(small.read_text())
