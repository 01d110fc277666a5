"""Versions and releases (issue 6): the release register, the clinical diff, the version
policy and verify — run from the command line as a user would, in a temporary copy of a
small book (the shipped protocols/ is never touched)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from compiler.versions import policy
from compiler.versions.register import read_register, verify_chain
from compiler.versions.report import compare, render_html, write_text
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data"
GOLDENS = ROOT / "tests" / "goldens" / "diff"
BOOK = DATA / "versions"
SHEET = "protocols/borst/hormonaal.protocol"
PID = "borst-hormonaal"
APPROVER = "Medisch-Farmaceutisch Comité"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "compiler", *args], cwd=cwd, capture_output=True, text=True,
                            env=env, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def chain_ok(root: Path) -> None:
    register = read_register(root)
    assert register.problems == (), register.problems
    assert verify_chain(register.records) == []


@dataclass
class LifeCycle:
    book: Path
    steps: dict[str, subprocess.CompletedProcess[str]]

    @property
    def root(self) -> Path:
        return self.book / "protocols"

    @property
    def pdf_1_0(self) -> Path:
        return self.root / ".archive" / PID / "1.0.pdf"


@pytest.fixture(scope="module")
def life(tmp_path_factory: pytest.TempPathFactory) -> LifeCycle:
    """draft → check → release 1.0 → editorial edit → release 1.1 → dose change with a minor
    raise (refused) → release 2.0; the register chain is verified after each step.
    Only the 1.0 release renders its PDF (the others use --no-pdf: PDFs are slow)."""
    book = tmp_path_factory.mktemp("life") / "book"
    shutil.copytree(BOOK, book)
    sheet = book / SHEET
    steps: dict[str, subprocess.CompletedProcess[str]] = {}
    steps["check draft"] = run("check", "protocols", "--today", "2026-11-23", cwd=book)
    steps["release 1.0"] = run("release", SHEET, "--approver", APPROVER, "--today", "2026-11-23", cwd=book)
    chain_ok(book / "protocols")
    edit(sheet, "Bij progressie: zie §ai.", "Bij ziekteprogressie: zie §ai.")
    steps["check edited 1.0"] = run("check", "protocols", "--today", "2026-11-23", cwd=book)
    edit(sheet, "version: 1.0", "version: 1.1")
    edit(sheet, "change note: Eerste versie.", "change note: Tekst verduidelijkt.")
    steps["release 1.1"] = run("release", SHEET, "--approver", APPROVER, "--no-pdf", "--today", "2026-11-24",
                               cwd=book)
    chain_ok(book / "protocols")
    edit(sheet, "500 mg IM", "250 mg IM")
    edit(sheet, "version: 1.1", "version: 1.2")
    steps["release 1.2"] = run("release", SHEET, "--approver", APPROVER, "--no-pdf", "--note", "Dosis fulvestrant.",
                               "--today", "2026-11-25", cwd=book)
    chain_ok(book / "protocols")
    edit(sheet, "version: 1.2", "version: 2.0")
    steps["release 2.0"] = run("release", SHEET, "--approver", APPROVER, "--no-pdf", "--note", "Dosis fulvestrant.",
                               "--today", "2026-11-25", "--accept", "D003", "test: reduced dose", cwd=book)
    chain_ok(book / "protocols")
    steps["check 2.0"] = run("check", "protocols", "--today", "2026-11-25", cwd=book)
    return LifeCycle(book, steps)


def test_life_cycle_answers(life: LifeCycle) -> None:
    steps = life.steps
    assert steps["check draft"].returncode == 0, steps["check draft"].stdout
    assert steps["release 1.0"].returncode == 0, steps["release 1.0"].stdout + steps["release 1.0"].stderr
    assert "released borst-hormonaal 1.0" in steps["release 1.0"].stdout
    assert steps["check edited 1.0"].returncode == 1
    assert "error[V005]" in steps["check edited 1.0"].stdout
    assert steps["release 1.1"].returncode == 0, steps["release 1.1"].stdout + steps["release 1.1"].stderr
    assert "(editorial)" in steps["release 1.1"].stdout and "superseded borst-hormonaal 1.0" in steps["release 1.1"].stdout
    refused = steps["release 1.2"]
    assert refused.returncode == 1 and "release refused" in refused.stderr
    assert "error[V006]" in refused.stdout and "fulvestrant: dosis 500 mg → 250 mg" in refused.stdout
    assert steps["release 2.0"].returncode == 0, steps["release 2.0"].stdout + steps["release 2.0"].stderr
    assert "(clinical)" in steps["release 2.0"].stdout
    assert steps["check 2.0"].returncode == 0, steps["check 2.0"].stdout


def test_register_and_archive(life: LifeCycle) -> None:
    register = read_register(life.root)
    states = [(r.seq, r.version, r.status, r.change_class) for r in register.records]
    assert states == [(1, "1.0", "approved", "clinical"), (2, "1.1", "approved", "editorial"),
                      (3, "1.0", "superseded", "editorial"), (4, "2.0", "approved", "clinical"),
                      (5, "1.1", "superseded", "clinical")]
    first = register.records[0]
    assert first.author == "Ziekenhuisapotheek" and first.approver == APPROVER and first.approved == "2026-11-23"
    assert first.note == "Eerste versie." and first.compiler.startswith("protocolc ") and len(first.data) == 16
    assert len(first.pdf_sha256) == 64 and life.pdf_1_0.is_file()
    for version in ("1.0", "1.1", "2.0"):
        assert (life.root / ".archive" / PID / f"{version}.protocol").is_file()
    assert not (life.root / ".archive" / PID / "1.2.protocol").exists()  # refused: nothing archived
    # the author's file is never rewritten by release
    assert "status: draft" in (life.book / SHEET).read_text()
    assert register.current(PID) is not None and register.current(PID).version == "2.0"  # type: ignore[union-attr]


def test_verify_superseded_pdf(life: LifeCycle) -> None:
    result = run("verify", str(life.pdf_1_0), cwd=life.book)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "superseded: borst-hormonaal 1.0 is superseded by 1.1; current version 2.0" in result.stdout
    assert "[clinical] fulvestrant: dosis 500 mg → 250 mg" in result.stdout


def test_verify_tampered_pdf_is_altered(life: LifeCycle, tmp_path: Path) -> None:
    data = bytearray(life.pdf_1_0.read_bytes())
    index = data.index(b"stream") + 100
    data[index] ^= 0x01  # one byte of page content; the identity in the metadata is intact
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(bytes(data))
    result = run("verify", str(tampered), "--book", "protocols", cwd=life.book)
    assert result.returncode == 5, result.stdout + result.stderr
    assert result.stdout.startswith("altered:")
    # relabelled as the current version in one metadata entry (a rewritten PDF)
    pypdf = pytest.importorskip("pypdf")
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(str(life.pdf_1_0)))
    keywords = str(writer.metadata["/Keywords"]) if writer.metadata else ""
    writer.add_metadata({"/Keywords": keywords.replace("version=1.0", "version=2.0")})
    relabelled = tmp_path / "relabelled.pdf"
    with relabelled.open("wb") as stream:
        writer.write(stream)
    result = run("verify", str(relabelled), "--book", "protocols", "--format", "json", cwd=life.book)
    assert result.returncode == 5 and json.loads(result.stdout)["answer"] == "altered"


def test_verify_printed_identity(life: LifeCycle) -> None:
    register = read_register(life.root)
    current = register.current(PID)
    assert current is not None
    answers = {
        ("--id", PID, "--version", "2.0", "--hash", current.sha256[:12]): 0,
        ("--id", PID, "--version", "1.1"): 3,
        ("--id", PID, "--version", "3.0"): 4,
        ("--id", PID, "--version", "2.0", "--hash", "deadbeef"): 5,
        ("--id", "geen-protocol", "--version", "1.0"): 6,
    }
    for args, code in answers.items():
        result = run("verify", *args, cwd=life.book)
        assert result.returncode == code, (args, result.stdout, result.stderr)


def test_verify_bad_input(life: LifeCycle, tmp_path: Path) -> None:
    not_pdf = tmp_path / "note.pdf"
    not_pdf.write_text("geen pdf")
    result = run("verify", str(not_pdf), "--book", "protocols", cwd=life.book)
    assert result.returncode == 6 and "not a PDF" in result.stdout
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n garbage")
    assert run("verify", str(broken), "--book", "protocols", cwd=life.book).returncode == 6
    assert run("verify", str(tmp_path / "missing.pdf"), "--book", "protocols", cwd=life.book).returncode == 2
    assert run("verify", "--id", PID, "--version", "1.0", cwd=tmp_path).returncode == 2  # no register here
    assert run("verify", cwd=life.book).returncode == 2


def test_one_byte_edit_of_released_source_fails_check_with_V005(life: LifeCycle, tmp_path: Path) -> None:
    book = tmp_path / "book"
    shutil.copytree(life.book, book)
    sheet = book / SHEET
    data = bytearray(sheet.read_bytes())
    data[data.index(b"Bij ziekteprogressie")] = ord("b")  # one byte, version unchanged (2.0)
    sheet.write_bytes(bytes(data))
    result = run("check", "protocols", "--today", "2026-11-25", cwd=book)
    assert result.returncode == 1
    assert "error[V005]" in result.stdout
    assert "--> protocols/borst/hormonaal.protocol:3:10" in result.stdout


def test_release_refusals(life: LifeCycle, tmp_path: Path) -> None:
    book = tmp_path / "book"
    shutil.copytree(life.book, book)
    sheet = book / SHEET
    # the same version again
    result = run("release", SHEET, "--approver", APPROVER, "--no-pdf", "--today", "2026-11-25", cwd=book)
    assert result.returncode == 1 and "V005" in result.stdout
    edit(sheet, "version: 2.0", "version: 2.1")
    edit(sheet, "Bij ziekteprogressie", "Bij progressie")
    # approver is the author; no change note; open query; review date passed
    result = run("release", SHEET, "--approver", "Ziekenhuisapotheek", "--no-pdf", "--note", "x",
                 "--today", "2026-11-25", cwd=book)
    assert result.returncode == 1 and "error[V002]" in result.stdout
    text = "".join(line for line in sheet.read_text().splitlines(keepends=True) if not line.startswith("change note:"))
    sheet.write_text(text.replace("Bij progressie: zie §ai.", "Bij progressie: zie §ai.\nquery: klopt dit?"))
    result = run("release", SHEET, "--approver", APPROVER, "--no-pdf", "--today", "2029-01-01", cwd=book)
    assert result.returncode == 1
    for code in ("error[V007]", "error[X006]", "error[V004]"):
        assert code in result.stdout, (code, result.stdout)
    chain_ok(book / "protocols")
    assert len(read_register(book / "protocols").records) == 5  # nothing appended


def test_broken_register_is_reported_and_blocks(life: LifeCycle, tmp_path: Path) -> None:
    book = tmp_path / "book"
    shutil.copytree(life.book, book)
    register = book / "protocols" / "RELEASES.jsonl"
    lines = register.read_text().splitlines()
    record = json.loads(lines[1])
    record["approver"] = "Iemand anders"
    lines[1] = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    register.write_text("\n".join(lines) + "\n")
    result = run("check", "protocols", "--today", "2026-11-25", cwd=book)
    assert result.returncode == 1 and "error[V009]" in result.stdout
    assert "record 2 (borst-hormonaal 1.1 approved) was edited" in result.stdout
    assert run("verify", "--id", PID, "--version", "2.0", cwd=book).returncode == 1
    register.write_bytes(b"\xff\xfe garbage\n")
    result = run("check", "protocols", "--today", "2026-11-25", cwd=book)
    assert result.returncode == 1 and "not UTF-8" in result.stdout


def test_history_for_the_book(life: LifeCycle) -> None:
    from compiler.versions.register import history

    records = history(life.root, PID)
    assert [r["version"] for r in records] == ["1.0", "1.1", "1.0", "2.0", "1.1"]
    assert history(life.root, "onbekend") == []


def test_diff_between_archived_versions_and_html_report(life: LifeCycle, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    result = run("diff", f"{PID}@1.0", f"{PID}@2.0", "--html", str(report), cwd=life.book)
    assert result.returncode == 0, result.stderr
    html = report.read_text()
    assert "fulvestrant" in html and "klinisch" in html and "Versiebeleid" in html
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")
    result = run("diff", f"{PID}@1.0", f"{PID}@9.9", cwd=life.book)
    assert result.returncode == 2 and "not in the archive" in result.stderr


# ---------------------------------------------------------------- the clinical diff


LETROZOLE_OLD = DATA / "diff" / "base.protocol"


def test_letrozole_dose_only_diff_in_nl(tmp_path: Path) -> None:
    old = tmp_path / "a.protocol"
    new = tmp_path / "b.protocol"
    text = LETROZOLE_OLD.read_text()
    old.write_text(text)
    new.write_text(text.replace("2,5 mg po daily", "25 mg po daily").replace("version: 1.0", "version: 2.0"))
    result = run("diff", str(old), str(new), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    changes = [line for line in result.stdout.splitlines() if line.startswith("  [")]
    assert changes == ["  [klinisch] letrozol: dosis 2,5 mg → 25 mg"]
    data = json.loads(run("diff", str(old), str(new), "--format", "json", cwd=tmp_path).stdout)
    assert [(c["class"], c["text"]) for c in data["changes"]] == [("clinical", "letrozol: dosis 2,5 mg → 25 mg")]
    assert data["language"] == "nl" and data["verdict"]["ok"] is True


VARIANTS: dict[str, list[tuple[str, str]]] = {
    "no-change-reformatted": [("  - drug letrozole (Femara) 2,5 mg po daily, tablet",
                               "  - drug letrozol (Femara)   2.5 mg   po daily ,  tablet  // opmaak"),
                              ("Controle van de schildklierfunctie voor elke cyclus.",
                               "Controle van de schildklierfunctie\n\n// commentaar\nvoor   elke cyclus.")],
    "dose": [("2,5 mg po", "5 mg po")],
    "route": [("500 mg IM days", "500 mg subcut days")],
    "interval": [("200 mg IV every 3 weeks", "200 mg IV every 6 weeks")],
    "days": [("days 1, 8, 15, cycle", "days 1, 8, cycle")],
    "cycles": [("6 cycles", "4 cycles")],
    "cycle-length": [("cycle 28 days", "cycle 21 days")],
    "infusion": [("infusion 60 min", "infusion 180 min")],
    "max-duration": [("max 2 years", "max 1 years")],
    "form": [("po daily, tablet", "po daily, capsule")],
    "brand": [("letrozole (Femara)", "letrozole (Letrozol Sandoz)")],
    "drug-added": [("  - drug letrozole (Femara) 2,5 mg po daily, tablet",
                    "  - drug letrozole (Femara) 2,5 mg po daily, tablet\n  - drug anastrozole 1 mg po daily, tablet")],
    "drug-removed": [("  - drug letrozole (Femara) 2,5 mg po daily, tablet\n", "")],
    "condition-changed": [("only when postmenopausal", "only when postmenopausal or castrated")],
    "branch-threshold": [("when PD-L1 TPS >= 50%:", "when PD-L1 TPS >= 1%:")],
    "branch-added": [("  otherwise:", "  when PD-L1 TPS < 1%:\n    - regimen paclitaxel-bevacizumab\n  otherwise:")],
    "regimen": [("- regimen paclitaxel-bevacizumab", "- regimen carboplatin-gemcitabine")],
    "fractionation": [("rt 5 x 4 Gy = 20 Gy", "rt 5 x 5 Gy = 25 Gy")],
    "text": [("Controle van de schildklierfunctie voor elke cyclus.", "Controle van de schildklierfunctie elke 6 weken.")],
    "section-title": [("# Chemotherapie {chemo}", "# Chemotherapie (wekelijks) {chemo}")],
    "metadata": [("scope: Volwassen patiënten", "scope: Alle volwassen patiënten")],
    "phase": [("then 500 mg IM every 28 days", "then 250 mg IM every 28 days")],
}


EDITORIAL_KINDS = ("text", "section-title", "metadata", "brand")


@pytest.mark.parametrize("kind", sorted(VARIANTS))
def test_diff_goldens(kind: str, update_goldens: bool) -> None:
    old = LETROZOLE_OLD.read_text()
    editorial = kind.startswith("no-change") or kind in EDITORIAL_KINDS
    new = old.replace("version: 1.0", "version: 1.1" if editorial else "version: 2.0")
    for before, after in VARIANTS[kind]:
        assert before in new, before
        new = new.replace(before, after, 1)
    report = compare("a.protocol", old.encode(), "b.protocol", new.encode())
    stream = io.StringIO()
    write_text(report, stream, colour=False)
    golden = GOLDENS / f"{kind}.txt"
    if update_goldens or not golden.exists():
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(stream.getvalue())
    assert stream.getvalue() == golden.read_text()
    assert report.verdict.ok and report.verdict.code is None
    if kind.startswith("no-change"):
        assert report.changes == ()
    elif kind in EDITORIAL_KINDS:
        assert {c.change_class for c in report.changes} == {"editorial"}
    else:
        assert any(c.change_class == "clinical" for c in report.changes)


def test_version_policy() -> None:
    base = LETROZOLE_OLD.read_text().encode()
    dose = compare("a", base, "b", base.replace(b"2,5 mg po", b"5 mg po")).changes
    text = compare("a", base, "b", base.replace(b"elke cyclus", b"elke kuur")).changes
    assert policy("1.0", "1.1", dose).code == "V006" and not policy("1.0", "1.1", dose).ok
    assert policy("1.0", "2.0", dose).ok
    assert policy("1.0", "1.1", text).ok and policy("1.0", "1.1", text).code is None
    assert policy("1.0", "2.0", text).severity == "info"
    assert policy("1.1", "1.0", text).code == "V005"


def test_html_report_escapes_and_is_self_contained() -> None:
    base = LETROZOLE_OLD.read_text()
    new = base.replace("voor elke cyclus.", "voor elke cyclus <script>alert(1)</script>.")
    html = render_html(compare("a", base.encode(), "b", new.encode()))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<link" not in html and "src=" not in html
    assert "redactioneel" in html and "Versiebeleid" in html


def test_diff_from_git_revision(tmp_path: Path) -> None:
    book = tmp_path / "repo"
    shutil.copytree(BOOK, book)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"]
    try:
        subprocess.run(["git", "init", "-q"], cwd=book, check=True, capture_output=True)
        subprocess.run(["git", "add", "."], cwd=book, check=True, capture_output=True)
        subprocess.run([*git, "commit", "-q", "-m", "v1"], cwd=book, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("git not available")
    edit(book / SHEET, "2,5 mg", "5 mg")
    result = run("diff", f"{PID}@git:HEAD", SHEET, "--book", "protocols", cwd=book)
    assert "[klinisch] letrozol: dosis 2,5 mg → 5 mg" in result.stdout, result.stdout + result.stderr
    result = run("diff", f"{PID}@git:nope", SHEET, "--book", "protocols", cwd=book)
    assert result.returncode == 2 and "git show" in result.stderr
