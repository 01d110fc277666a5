"""`protocolc data audit` and the book's `formulary_overrides` (issue 13, item 4)."""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path

import pytest

from compiler import cli
from compiler.bookconfig import ConfigError, load_config
from compiler.data_audit import audit, human
from compiler.overrides import apply_overrides
from compiler.pipeline import compile_file
from compiler.tables import Tables, load
from compiler.validation import render_report
from tests.conftest import ROOT, TODAY

TABLES = load()
DAY = datetime.date(2026, 12, 1)
ROW = ("    dose: {route: IV, unit: mg, usual: [8, 16], max: null, frequency: \"once, day 1\", use: antiemetic,\n"
       "           source: \"Lokaal protocol v3\", source_type: local, section: \"2.1\", last_verified: 2026-10-01}\n")
OVERRIDE = ("formulary_overrides:\n  - drug: dexamethasone\n    action: add\n"
            "    reason: \"Lokaal anti-emetisch protocol (MFC 2026-10)\"\n" + ROW)


def _book(tmp_path: Path, text: str) -> Path:
    (tmp_path / "book.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_every_packaged_row_has_a_source_and_the_audit_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["data", "audit", "--format", "json", "--today", "2026-12-01", "--book", str(ROOT)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["without_source"] == 0
    assert data["counts"]["rows"] == len(data["rows"]) > 100
    first = data["rows"][0]
    assert {"usual", "max", "source", "section", "age_days", "stale", "origin"} <= set(first)


def test_human_output_lists_range_limit_source_section_and_age() -> None:
    text = human(audit(TABLES, DAY, drug_ids=["ondansetron"]))
    assert "#1 8 mg IV once for antiemetic; max 16" in text
    assert "smpc: Ondansetron Kabi" in text and "section 4.2" in text and "verified 2026-12-01 (0 d)" in text


def test_rows_older_than_the_review_interval_are_flagged() -> None:
    later = audit(TABLES, datetime.date(2029, 1, 1), review_years=2, drug_ids=["ondansetron"])
    assert all(r.stale for r in later.rows)
    assert not any(r.stale for r in audit(TABLES, datetime.date(2029, 1, 1), 5, drug_ids=["ondansetron"]).rows)


def test_a_row_without_source_fails_the_audit(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    drugs = dict(TABLES.drugs)
    entry = dict(drugs["ondansetron"])
    entry["doses"] = [{**entry["doses"][0], "source": ""}]
    drugs["ondansetron"] = entry
    broken: Tables = dataclasses.replace(TABLES, drugs=drugs, fingerprint="test-no-source")
    assert [r.drug_id for r in audit(broken, DAY).missing_source] == ["ondansetron"]
    monkeypatch.setattr("compiler.tables.load", lambda: broken)
    assert cli.main(["data", "audit", "--drug", "ondansetron", "--book", str(ROOT)]) == 1
    assert "ondansetron row 0 has no source" in capsys.readouterr().err


def test_overrides_are_applied_listed_and_in_the_report(tmp_path: Path) -> None:
    config = load_config(_book(tmp_path, "data_review_years: 1\n" + OVERRIDE))
    assert config.data_review_years == 1
    result = audit(TABLES, DAY, config.data_review_years, config.formulary_overrides, ["dexamethasone"])
    added = [r for r in result.rows if r.origin.startswith("book.yaml")]
    assert len(added) == 1 and added[0].usual == "8-16" and "MFC 2026-10" in added[0].reason
    applied = apply_overrides(TABLES, config.formulary_overrides)
    assert applied.fingerprint != TABLES.fingerprint
    assert len(applied.drugs["dexamethasone"]["doses"]) == len(TABLES.drugs["dexamethasone"]["doses"]) + 1
    sheet = compile_file(ROOT / "tests" / "data" / "regimen_sheets" / "ac-q21d-antiemetics.protocol", TODAY)
    page = render_report([sheet], [], TODAY, config)
    assert "Doseringsgegevens (data-audit)" in page and "Lokale aanpassingen" in page and "MFC 2026-10" in page
    assert "aprepitant" in page


@pytest.mark.parametrize(("text", "message"), [
    ("formulary_overrides: {drug: x}\n", "must be a list"),
    ("formulary_overrides:\n  - drug: dexamethasone\n    action: add\n" + ROW, "needs a `reason`"),
    ("formulary_overrides:\n  - drug: nodrug\n    reason: r\n" + ROW, "unknown drug `nodrug`"),
    ("formulary_overrides:\n  - drug: dexamethasone\n    action: replace\n    reason: r\n" + ROW, "needs `row: N`"),
    ("formulary_overrides:\n  - drug: dexamethasone\n    action: replace\n    row: 99\n    reason: r\n" + ROW,
     "has no row 99"),
    ("formulary_overrides:\n  - drug: dexamethasone\n    reason: r\n    dose: {route: IV, unit: mg, usual: [8, 16]}\n",
     "needs `frequency`"),
    ("formulary_overrides:\n  - drug: dexamethasone\n    reason: r\n" + ROW.replace("[8, 16]", "[16, 8]"),
     "low <= high"),
    ("formulary_overrides:\n  - drug: dexamethasone\n    reason: r\n" + ROW.replace("max: null", "max: 10"),
     "below the usual high"),
    ("formulary_overrides:\n  - drug: dexamethasone\n    reason: r\n" + ROW.replace("unit: mg", "unit: mgs"),
     "unit `mgs`"),
    ("formulary_overrides:\n  - drug: dexamethasone\n    reason: r\n    colour: red\n" + ROW, "unknown key `colour`"),
    ("data_review_years: yes\n", "must be a number"),
    ("data_review_years: 0\n", "between 0 and 10"),
])
def test_bad_overrides_are_reported_without_traceback(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_book(tmp_path, text))
    assert message in str(caught.value)


def test_a_bad_override_is_exit_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = _book(tmp_path, "formulary_overrides:\n  - drug: nodrug\n    reason: r\n" + ROW)
    assert cli.main(["data", "audit", "--book", str(book)]) == 2
    err = capsys.readouterr().err
    assert "unknown drug `nodrug`" in err and "Traceback" not in err


SIXTEEN = (b"id: fixture\ntitle: Fixture\nversion: 1.0\nstatus: draft\nlanguage: nl\nowner: Dienst medische oncologie\n"
           b"author: Ziekenhuisapotheek\nnext review: 2028-11-23\nscope: Fixture\nreference: protocolc test suite\n\n"
           b"# Anti-emese\ndrug ondansetron 16 mg IV once, infusion 15 min for antiemetic\n")
WIDER = ("formulary_overrides:\n  - drug: ondansetron\n    action: replace\n    row: 1\n"
         "    reason: \"Lokaal: 16 mg IV bij hoog emetogene chemotherapie\"\n"
         "    dose: {route: IV, unit: mg, usual: [8, 16], max: 16, frequency: once, use: antiemetic,\n"
         "           source: \"Lokaal protocol v3\", source_type: local, section: \"2.1\", last_verified: 2026-10-01}\n")


def test_the_checks_use_the_books_overrides(tmp_path: Path) -> None:
    from compiler.overrides import use_overrides
    from compiler.pipeline import compile_text

    before = [d.code for d in compile_text("x.protocol", SIXTEEN, TODAY).diagnostics]
    assert "D001" in before
    config = load_config(_book(tmp_path, WIDER))
    try:
        use_overrides(config.formulary_overrides)
        after = [d.code for d in compile_text("x.protocol", SIXTEEN, TODAY).diagnostics]
    finally:
        use_overrides(())
    assert "D001" not in after


def test_check_reads_the_book_yaml_of_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = _book(tmp_path, WIDER)
    (book / "anti-emese.protocol").write_bytes(SIXTEEN)
    try:
        assert cli.main(["check", "--no-cache", "--strict", str(book)]) == 0
    finally:
        from compiler.overrides import use_overrides

        use_overrides(())
    assert "0 warning(s)" in capsys.readouterr().out
