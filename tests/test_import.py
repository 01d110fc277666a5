"""`protocolc import`: Word, PDF, HTML and text sheets become draft protocols, losing nothing.

The Emmaüs seed is imported as text, and as a Word and a PDF file made here from the same
text: the three drafts must be identical, parse, keep every input line, hold ≥ 90 % of the
drug, RT and regimen statements of the hand-made protocol, and `check` must report the
slips the seed is known for.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from compiler import model as m
from compiler.importer import ImportRefused, import_document
from compiler.importer.readers import read_document
from compiler.pipeline import compile_file, compile_text
from tests.conftest import ROOT, TODAY

SEEDS = ROOT / "tests" / "data" / "seeds"  # copies of ../shared/seeds 002 and 004
EMMAUS_SEED = SEEDS / "002_82edb70f72006dd2.txt"
NSCLC_SEED = SEEDS / "004_b9e963251b9c8244.txt"
EMMAUS = ROOT / "protocols" / "borst" / "emmaus-gemetastaseerd-borstcarcinoom.protocol"


def _docx_from_text(text: str, path: Path) -> Path:
    import docx

    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    document.save(str(path))
    return path


def _pdf_from_text(text: str, path: Path) -> Path:
    import html

    from weasyprint import HTML

    paragraphs = "".join(f"<p>{html.escape(line) or '&#160;'}</p>" for line in text.splitlines())
    page = ("<html><head><meta charset='utf-8'><style>@page { size: A4; margin: 12mm }"
            " p { margin: 0; font: 7pt 'DejaVu Sans', sans-serif; white-space: pre }</style></head>"
            f"<body>{paragraphs}</body></html>")
    HTML(string=page).write_pdf(str(path))
    return path


@pytest.fixture(scope="module")
def seed_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("seed-formats")
    text = EMMAUS_SEED.read_text(encoding="utf-8")
    txt = folder / "emmaus.txt"
    txt.write_text(text, encoding="utf-8")
    return {"txt": txt, "docx": _docx_from_text(text, folder / "emmaus.docx"),
            "pdf": _pdf_from_text(text, folder / "emmaus.pdf")}


@pytest.fixture(scope="module")
def drafts(seed_files: dict[str, Path]) -> dict[str, str]:
    return {kind: import_document(path).draft for kind, path in seed_files.items()}


def _without_source_name(draft: str) -> str:
    return "\n".join(line for line in draft.splitlines() if "emmaus." not in line)


def test_the_three_formats_give_the_same_draft(drafts: dict[str, str]) -> None:
    assert _without_source_name(drafts["docx"]) == _without_source_name(drafts["txt"])
    assert _without_source_name(drafts["pdf"]) == _without_source_name(drafts["txt"])


@pytest.mark.parametrize("kind", ["txt", "docx", "pdf"])
def test_every_input_line_is_in_the_draft(seed_files: dict[str, Path], kind: str) -> None:
    result = import_document(seed_files[kind])
    assert result.lost == []
    draft = " ".join(result.draft.split())
    for line in read_document(seed_files[kind]):
        text = " ".join(line.text.split()).lstrip("•−–-o ").strip()
        if text and not re.fullmatch(r".*\d+/\d+", text):
            assert text in draft, f"line {line.number} lost: {text!r}"


def test_the_draft_parses_and_is_a_draft(drafts: dict[str, str]) -> None:
    result = compile_text("emmaus.protocol", drafts["txt"].encode(), TODAY)
    assert result.protocol is not None
    assert not [d for d in result.diagnostics if d.code == "P001"]
    assert result.protocol.meta.status is m.Status.DRAFT


def _keys(protocol: m.Protocol) -> Counter[tuple[str, ...]]:
    keys: Counter[tuple[str, ...]] = Counter()
    for item in protocol.all_items():
        if isinstance(item, m.DrugLine) and item.drug_id:
            keys[("drug", item.drug_id)] = 1
        elif isinstance(item, m.RegimenLine) and item.regimen_id:
            keys[("regimen", item.regimen_id)] = 1
        elif isinstance(item, m.Fractionation) and item.fractions is not None and item.dose_per_fraction is not None:
            keys[("rt", str(item.fractions.value), str(item.dose_per_fraction.value))] = 1
    return keys


def test_most_statements_of_the_hand_made_protocol_are_recognised(drafts: dict[str, str]) -> None:
    hand = compile_file(EMMAUS, TODAY).protocol
    draft = compile_text("emmaus.protocol", drafts["txt"].encode(), TODAY).protocol
    assert hand is not None and draft is not None
    wanted, found = _keys(hand), _keys(draft)
    hits = [key for key in wanted if key in found]
    assert len(hits) / len(wanted) >= 0.9, sorted(set(wanted) - set(found))


def test_check_reports_the_seed_slips(drafts: dict[str, str]) -> None:
    result = compile_text("emmaus.protocol", drafts["txt"].encode(), TODAY)
    codes = {d.code for d in result.diagnostics}
    messages = " ".join(d.message for d in result.diagnostics)
    assert "X001" in codes and "[Emmaüs versie]" in messages  # the footer placeholder, kept as the version
    assert "F001" in codes and re.search(r"zolendronaat", messages, re.IGNORECASE)
    assert "S007" in codes  # "maandelijks"
    assert "X004" in codes  # "TC weekly"
    syrup = [d for d in result.diagnostics if d.code in ("D001", "D002") and "10000 mg" in d.message]
    assert syrup, "100 mL of 500 mg/5 mL a day (10 g) must be reported"
    queries = [d.message for d in result.diagnostics if d.code == "X006"]
    assert any("TC" in q for q in queries) and any("maandelijks" in q for q in queries)
    assert any("flesinhoud" in q for q in queries)  # the volume that could be a bottle size


def test_print_artefacts_are_removed_and_listed(seed_files: dict[str, Path]) -> None:
    result = import_document(seed_files["txt"])
    whys = Counter(a.why for a in result.artefacts)
    assert whys["printed-copy notice"] == 2 and whys["document footer (title and version)"] == 1
    body = result.draft.split("// Printresten")[0]
    assert "geprinte versie" not in body.replace("// ", "") or "Is dit een geprinte versie" not in body


def test_brand_becomes_generic_with_brand_and_jargon_is_kept(drafts: dict[str, str]) -> None:
    draft = drafts["txt"]
    assert "drug megestrolacetaat (Megace) 160 mg po daily, tablet" in draft
    assert "drug Letrozole (Femara) 2,5 mg po daily, tablet" in draft
    assert "regimen \"Adria mono q3w\"" in draft  # jargon stays for the reviewer (F003)
    assert "// bron r." in draft  # the author's line beside each statement


def test_nsclc_faq_imports_without_loss_and_yields_its_schedules() -> None:
    result = import_document(NSCLC_SEED)
    assert result.lost == []
    queries = [line for line in result.draft.splitlines() if "query:" in line]
    text = "\n".join(queries)
    assert re.search(r"nivolumab: every 2 weeks", text)
    assert re.search(r"pembrolizumab: every 3 weeks, every 6 weeks", text)
    assert re.search(r"durvalumab: every 2 weeks, every 4 weeks, infusion 60 min", text)
    compiled = compile_text("nsclc.protocol", result.draft.encode(), TODAY)
    assert not [d for d in compiled.diagnostics if d.code == "P001"]


def test_import_is_deterministic(seed_files: dict[str, Path]) -> None:
    assert import_document(seed_files["txt"]).draft == import_document(seed_files["txt"]).draft


def test_html_and_markdown_structure(tmp_path: Path) -> None:
    page = tmp_path / "sheet.html"
    page.write_text("<html><body><h1>Hormonale therapie</h1><ul><li>Letrozole (Femara) 2,5 mg 1 co/d po"
                    "<ul><li>niet bij premenopauze</li></ul></li></ul><table><tr><td>Dag</td><td>1</td></tr></table>"
                    "<script>alert(1)</script></body></html>", encoding="utf-8")
    draft = import_document(page).draft
    assert "# Hormonale therapie" in draft
    assert "- drug Letrozole (Femara) 2,5 mg po daily, tablet" in draft
    assert "Dag | 1" in draft and "alert" not in draft
    note = tmp_path / "sheet.md"
    note.write_text("# Titel\n\n- Anastrozole 1 mg 1 co/d po\n  - bij voorkeur 's ochtends\n", encoding="utf-8")
    md = import_document(note).draft
    assert "- drug Anastrozole 1 mg po daily, tablet" in md and "  - bij voorkeur 's ochtends" in md


def test_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    fake = tmp_path / "sheet.pdf"
    fake.write_bytes(b"not a pdf")
    with pytest.raises(ImportRefused, match="not a PDF"):
        import_document(fake)
    zipped = tmp_path / "sheet.docx"
    zipped.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(ImportRefused):
        import_document(zipped)
    with pytest.raises(ImportRefused, match="cannot import"):
        import_document(tmp_path / "sheet.odt")
    with pytest.raises(ImportRefused, match="not a regular file"):
        import_document(_fifo(tmp_path))


def _fifo(tmp_path: Path) -> Path:
    import os

    path = tmp_path / "pipe.txt"
    os.mkfifo(path)
    return path


def test_invisible_characters_are_removed_and_counted(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.txt"
    sheet.write_text("1 HORMONALE THERAPIE\n\u200bLetrozole (Femara) 2,5 mg 1 co/d po\n", encoding="utf-8")
    result = import_document(sheet)
    assert result.invisible_removed == 1
    assert "drug Letrozole (Femara) 2,5 mg po daily, tablet" in result.draft


def test_command_writes_drafts_never_over_existing_files(tmp_path: Path) -> None:
    out = tmp_path / "drafts"
    command = [sys.executable, "-m", "compiler", "import", str(EMMAUS_SEED), str(NSCLC_SEED), "-o", str(out),
               "--format", "json"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)["imports"]
    assert [Path(e["draft"]).name for e in report] == ["002-82edb70f72006dd2.protocol", "004-b9e963251b9c8244.protocol"]
    emmaus = report[0]
    assert emmaus["lines_not_in_draft"] == [] and emmaus["statements"]["drug"] >= 10
    assert emmaus["queries"] >= 5 and len(emmaus["artefacts_removed"]) == 3
    assert any(d["code"] == "X001" for d in emmaus["diagnostics"])
    draft = out / "002-82edb70f72006dd2.protocol"
    draft.write_text("edited by the reviewer\n", encoding="utf-8")
    again = subprocess.run(command[:-2], capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "exists already" in again.stdout
    assert draft.read_text(encoding="utf-8") == "edited by the reviewer\n"
