"""The printed sheets, read back from the PDF pages (poppler's pdftotext word boxes, pypdf).

Every shipped protocol is printed once per session (`shipped_pdfs` in conftest.py) and
every assertion here reads those pages: no drug name or dose split across lines, nothing
overprinted, no text under 8 pt, who approves worded by status, loading doses in the dose
column, the page counts.
"""

from __future__ import annotations

import io
import itertools
import re
import shutil
import subprocess
from dataclasses import dataclass
from xml.etree import ElementTree

import pytest

from compiler.tables import load

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler's pdftotext is not installed")

EMMAUS = "emmaus-gemetastaseerd-borstcarcinoom"
NSCLC = "nsclc-immuuntherapie"
TARGETED = "doelgerichte-therapie-borstkanker"
# the page budgets: Emmaüs's source sheet is 4 pages, its printed sheet at most 9 (issue 15)
MAX_PAGES = {EMMAUS: 9, NSCLC: 12, TARGETED: 6}
UNITS = ("mg/m²", "mg/kg", "mg", "mcg", "g", "Gy", "mL", "eenheden", "units")
NUMBER = re.compile(r"^\d+(?:[.,]\d+)?(?:[–-]\d+(?:[.,]\d+)?)?$")


@dataclass(frozen=True)
class Word:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class Page:
    number: int
    blocks: list[list[list[Word]]]  # blocks → lines → words

    @property
    def words(self) -> list[Word]:
        return [word for block in self.blocks for line in block for word in line]


def read_pages(pdf: bytes) -> list[Page]:
    """The pages of a PDF as blocks of lines of words with their boxes (pdftotext -bbox-layout)."""
    out = subprocess.run(["pdftotext", "-bbox-layout", "-", "-"], input=pdf, capture_output=True, check=True)
    xhtml = re.sub(rb"<!DOCTYPE[^>]*>", b"", out.stdout).replace(b' xmlns="http://www.w3.org/1999/xhtml"', b"")
    root = ElementTree.fromstring(xhtml)
    pages: list[Page] = []
    for number, page in enumerate(root.iter("page"), start=1):
        blocks = []
        for block in page.iter("block"):
            lines = []
            for line in block.iter("line"):
                lines.append([Word(w.text or "", float(w.get("xMin", 0)), float(w.get("yMin", 0)),
                                   float(w.get("xMax", 0)), float(w.get("yMax", 0))) for w in line.iter("word")])
            blocks.append(lines)
        pages.append(Page(number, blocks))
    return pages


@pytest.fixture(scope="module")
def pages(shipped_pdfs: dict[str, bytes]) -> dict[str, list[Page]]:
    """The pages of the sheets these tests read (the seed sheets), from the shipped book's PDFs."""
    return {stem: read_pages(shipped_pdfs[stem]) for stem in MAX_PAGES}


def drug_names() -> set[str]:
    """Every drug name a sheet can print (formulary names in both languages, tall-man forms)."""
    tables = load()
    names: set[str] = set()
    for entry in tables.drugs.values():
        for name in (entry.get("names") or {}).values():
            if isinstance(name, str):
                names.add(name.lower())
    names.update(str(e.get("tallman", "")).lower() for e in tables.tallman if e.get("tallman"))
    return {n for n in names if len(n) >= 5}


def test_shipped_book_is_printed(pages: dict[str, list[Page]]) -> None:
    assert set(MAX_PAGES) <= set(pages)


@pytest.mark.parametrize("stem", sorted(MAX_PAGES))
def test_page_count(pages: dict[str, list[Page]], stem: str) -> None:
    assert len(pages[stem]) <= MAX_PAGES[stem]


def _splits(page: Page, names: set[str]) -> list[str]:
    """Drug names and doses broken across two lines of one text block."""
    tokens = {t for name in names for t in re.split(r"[\s/()+,]+", name) if len(t) >= 5}
    pairs = {tuple(name.split()) for name in names if len(name.split()) == 2}
    found: list[str] = []
    for block in page.blocks:
        for first, second in itertools.pairwise(block):
            if not first or not second:
                continue
            end, start = first[-1].text, second[0].text
            joined = (end.rstrip("-‐\u00ad") + start).lower()
            for token in tokens:
                if token in joined and token not in end.lower() and token not in start.lower():
                    found.append(f"p{page.number}: {end} / {start}")
            if (end.lower(), start.lower()) in pairs:
                found.append(f"p{page.number}: {end} / {start}")
            if NUMBER.match(end) and start in UNITS:
                found.append(f"p{page.number}: dose {end} / {start}")
    return found


@pytest.mark.parametrize("stem", sorted(MAX_PAGES))
def test_no_drug_name_or_dose_is_split_across_lines(pages: dict[str, list[Page]], stem: str) -> None:
    names = drug_names()
    found = [split for page in pages[stem] for split in _splits(page, names)]
    assert not found, found


def _overlaps(page: Page) -> list[str]:
    words = sorted((w for w in page.words if w.text.strip()), key=lambda w: w.x0)
    found: list[str] = []
    for index, word in enumerate(words):
        for other in words[index + 1:]:
            if other.x0 >= word.x1:
                break
            width = min(word.x1, other.x1) - max(word.x0, other.x0)
            height = min(word.y1, other.y1) - max(word.y0, other.y0)
            smaller = min((word.x1 - word.x0) * (word.y1 - word.y0), (other.x1 - other.x0) * (other.y1 - other.y0))
            # boxes of neighbouring lines touch by a hair; overprinted words share a real area
            if width > 1 and height > 1 and width * height > 0.2 * smaller:
                found.append(f"p{page.number}: {word.text!r} over {other.text!r}")
    return found


@pytest.mark.parametrize("stem", sorted(MAX_PAGES))
def test_nothing_is_overprinted(pages: dict[str, list[Page]], stem: str) -> None:
    found = [overlap for page in pages[stem] for overlap in _overlaps(page)]
    assert not found, found


@pytest.mark.parametrize("stem", sorted(MAX_PAGES))
def test_no_text_under_8_pt(shipped_pdfs: dict[str, bytes], stem: str) -> None:
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(io.BytesIO(shipped_pdfs[stem]))
    sizes: list[tuple[float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if not text.strip():
            return
        scale_tm = (tm[2] ** 2 + tm[3] ** 2) ** 0.5
        scale_cm = (cm[2] ** 2 + cm[3] ** 2) ** 0.5
        sizes.append((size * scale_tm * scale_cm, text))

    for page in reader.pages:
        page.extract_text(visitor_text=visit)
    assert sizes
    small = sorted({(round(s, 2), t.strip()[:30]) for s, t in sizes if s < 7.95})
    assert not small, small[:10]


def _text(pages: list[Page]) -> str:
    return "\n".join(" ".join(w.text for w in line) for page in pages for block in page.blocks for line in block)


def test_sheet_in_review_names_who_is_to_approve(pages: dict[str, list[Page]]) -> None:
    text = _text(pages[EMMAUS])
    assert "Goedgekeurd door" not in text and "Goedgekeurd op" not in text
    assert "Te keuren door:" in text and "Medisch-Farmaceutisch Comité" in text


def test_footer_has_identity_print_date_and_validity(pages: dict[str, list[Page]]) -> None:
    for page in pages[EMMAUS]:
        bottom = " ".join(w.text for w in page.words if w.y0 > 760)
        assert "emmaus-gemetastaseerd-borstcarcinoom" in bottom and "Versie 1.0" in bottom, page.number
        assert "afgedrukt 23-11-2026" in bottom and "geldig tot 23-11-2028" in bottom, page.number
        assert f"{page.number}/{len(pages[EMMAUS])}" in bottom


def _column_of(page: Page, word: Word, headers: tuple[str, ...]) -> str:
    """The table column a word stands in: the header above it whose left edge is nearest on its left."""
    above = [w for w in page.words if w.text in headers and w.y1 <= word.y0 + 1]
    row = max((w.y0 for w in above), default=None)
    assert row is not None, word
    candidates = [w for w in above if abs(w.y0 - row) < 2 and w.x0 <= word.x0 + 1]
    return max(candidates, key=lambda w: w.x0).text


def test_loading_doses_stand_in_the_dose_column_before_the_maintenance_dose(pages: dict[str, list[Page]]) -> None:
    headers = ("GENEESMIDDEL", "DOSIS", "TOEDIENING", "SCHEMA", "OPMERKINGEN")
    seen = {"pertuzumab": 0, "trastuzumab": 0}
    for page in pages[EMMAUS]:
        for block in page.blocks:
            words = [w for line in block for w in line]
            texts = [w.text for w in words]
            for first, unit, then, drug in (("840", "mg", "420", "pertuzumab"), ("8", "mg/kg", "6", "trastuzumab")):
                for at in (i for i, t in enumerate(texts[:-4]) if t == first and texts[i + 1] == unit):
                    if texts[at + 2] != "(oplaaddosis);":
                        continue
                    assert _column_of(page, words[at], headers) == "DOSIS", texts
                    assert texts[at + 3:at + 6] == ["daarna", then, unit], texts
                    seen[drug] += 1
    assert all(seen.values()), seen


def test_tall_man_letters_wherever_a_drug_is_named(pages: dict[str, list[Page]]) -> None:
    tallman = {str(e["tallman"]).lower(): str(e["tallman"]) for e in load().tallman if e.get("tallman")}
    for stem in MAX_PAGES:
        text = _text(pages[stem])
        for plain, tall in tallman.items():
            lower = re.findall(rf"(?<![\w]){plain}", text, re.IGNORECASE)
            wrong = [found for found in lower if found != tall[:len(found)]]
            assert not wrong, (stem, tall, wrong)


def _headings(stem: str) -> set[str]:
    from compiler.pipeline import compile_file
    from tests.conftest import SHIPPED, TODAY

    path = next(p for p in SHIPPED if p.stem == stem)
    protocol = compile_file(path, TODAY).protocol
    assert protocol is not None
    return {f"{s.number} {s.title}".lower() for s in protocol.all_sections()}


@pytest.mark.parametrize("stem", sorted(MAX_PAGES))
def test_no_heading_is_orphaned_at_the_foot_of_a_page(pages: dict[str, list[Page]], stem: str) -> None:
    headings = _headings(stem)
    for page in pages[stem][:-1]:
        body = [line for block in page.blocks for line in block if line and line[0].y1 < 780]
        last = max(body, key=lambda line: line[0].y0)
        text = " ".join(w.text for w in last).lower()
        assert text not in headings, (page.number, text)
        # nor a lead line ("Aromataseremmers:", "• atezolizumab, ongeacht PD-L1:") without what it introduces
        assert not text.endswith(":"), (page.number, text)


def test_administration_column_is_not_wrapped_onto_many_lines(pages: dict[str, list[Page]]) -> None:
    found = 0
    for page in pages[EMMAUS]:
        for block in page.blocks:
            lines = [" ".join(w.text for w in line) for line in block]
            for index, line in enumerate(lines):
                if line.startswith("infuus eerst"):
                    joined = " ".join(lines[index:index + 2])
                    assert "daarna" in joined and joined.rstrip().endswith("min"), lines[index:index + 5]
                    found += 1
    assert found
