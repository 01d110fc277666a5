"""End to end: `protocolc build` on the shipped book, as a user runs it, and what the
printed Emmaüs sheet must show (issue: every drug and dose of the seed in nl notation,
the real version and n/N on every page, no placeholder)."""

from __future__ import annotations

import functools
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, TODAY, protocol_id

pypdf = pytest.importorskip("pypdf")
pytest.importorskip("weasyprint")

EMMAUS = "emmaus-gemetastaseerd-borstcarcinoom"


# The second build prints one sheet of every kind again — the Emmaüs and doelgerichte seed sheets
# (decision charts and decision tables, dose tables, radiotherapy, loading doses), a regimen with
# supportive-care timing and PRN, one with phases, one with dose levels and dose-modification tables,
# a radiotherapy course — in one worker process (the shipped book is printed by one per core),
# uncached. Printing the other sheets a second time would prove nothing these do not:
# reproducibility is the printer's, not a sheet's. (The NSCLC seed, as long to print as Emmaüs,
# adds only two kinds of plain paragraph to what these print.)
AGAIN = ("borst/emmaus-gemetastaseerd-borstcarcinoom", "borst/doelgerichte-therapie-borstkanker",
         "regimes/borst/ac-q21d", "regimes/borst/paclitaxel-trastuzumab-wekelijks",
         "regimes/borst/trastuzumab-emtansine-adjuvant", "regimes/borst/rt-borst-40gy-15-fracties")


@pytest.fixture(scope="module")
def second_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A second, uncached build of sheets of the book, started at once (their PDFs must be byte-identical)."""
    again = tmp_path_factory.mktemp("again") / "output"
    sources = [str(ROOT / "protocols" / f"{name}.protocol") for name in AGAIN]
    process = subprocess.Popen([sys.executable, "-m", "compiler", "build", *sources, "-o", str(again), "--no-cache",
                                "-j", "1", "-q", "--today", TODAY.isoformat()],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield process, again
    if process.poll() is None:
        process.kill()
    process.communicate()


@pytest.fixture(scope="module")
def book(second_build: tuple[subprocess.Popen[str], Path], request: pytest.FixtureRequest) -> Path:
    """The shipped book as `protocolc build protocols` writes it (built once per run, see conftest.py),
    asked for after the second build has started, so the two print at the same time."""
    shipped: Path = request.getfixturevalue("shipped_book")
    return shipped


def pages(pdf: Path) -> list[str]:
    return list(_pages(pdf.read_bytes()))


@functools.lru_cache(maxsize=4)
def _pages(data: bytes) -> tuple[str, ...]:
    # pypdf's text extraction of the Emmaüs PDF takes seconds: once per PDF, not per test
    reader = pypdf.PdfReader(io.BytesIO(data))
    return tuple(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def test_book_layout(book: Path) -> None:
    manifest = json.loads((book / "manifest.json").read_text())
    seeds = {EMMAUS, "doelgerichte-therapie-borstkanker", "nsclc-immuuntherapie"}
    regimes = {p.read_text(encoding="utf-8").split("\n", 1)[0].removeprefix("id: ").strip()
               for p in (ROOT / "protocols" / "regimes").rglob("*.protocol")}
    assert set(manifest["protocols"]) == seeds | regimes
    for pid, entry in manifest["protocols"].items():
        assert (book / entry["html"]).is_file() and (book / entry["pdf"]).is_file(), pid
        assert len(entry["sha256"]) == 64
    index = (book / "index.html").read_text()
    assert all(pid in index for pid in manifest["protocols"])
    assert (book / "rules" / "index.html").is_file() and (book / "rules" / "F001.html").is_file()


def test_emmaus_pdf_every_page_has_title_version_and_n_of_N(book: Path) -> None:
    texts = pages(book / "protocols" / f"{EMMAUS}.pdf")
    total = len(texts)
    assert total >= 4
    for number, text in enumerate(texts, start=1):
        assert "Gemetastaseerd borstcarcinoom" in text, number
        assert "Versie 1.0" in text, number
        assert f"{number}/{total}" in text, number
        assert ("Is dit een geprinte versie? Dan is die enkel geldig als ze overeenstemt met de elektronische "
                "versie op het procedureboek — versie 1.0") in text, number


SEED_DRUGS = ["tamoxifen", "letrozol", "anastrozol", "exemestaan", "fulvestrant", "everolimus", "medroxyprogesteron",
              "megestrol", "paclitaxel", "bevacizumab", "pembrolizumab", "sacituzumab", "docetaxel", "trastuzumab",
              "pertuzumab", "deruxtecan", "emtansine", "tucatinib", "capecitabine", "epirubicine", "cyclofosfamide",
              "doxorubicine", "vinorelbine", "eribuline", "methotrexaat", "carboplatine", "gemcitabine", "denosumab",
              "zoledroninezuur", "ibandroninezuur"]
SEED_DOSES = ["2,5 mg", "1 mg", "25 mg", "500 mg", "10 mg", "250 mg", "160 mg", "1 × 8 Gy", "5 × 4 Gy", "8 × 4 Gy",
              "10 × 3 Gy", "13 × 3 Gy", "5 × 7 Gy", "3 × 10 Gy", "3 × 9 Gy", "5 × 6 Gy", "4 × 12 Gy", "8 × 7,5 Gy",
              "10 × 6 Gy", "5 × 3 Gy"]


def test_emmaus_pdf_has_every_seed_drug_and_dose_in_nl_notation(book: Path) -> None:
    text = " ".join(pages(book / "protocols" / f"{EMMAUS}.pdf"))
    lowered = text.lower()
    missing = [d for d in SEED_DRUGS if d not in lowered]
    assert not missing, missing
    missing = [d for d in SEED_DOSES if d not in text]
    assert not missing, missing
    # the change note quotes what it corrected ("8 x 7.5 Gy als 8 x 7,5 Gy"); the sheet itself must not
    body = re.sub(r"Wijziging:.*?THERAPEUTISCHE DOELSTELLINGEN", "", text, count=1)
    assert not re.search(r"[0-9]\.[0-9] ?(mg|Gy)", body), "a dose in en notation on an nl sheet"


def test_emmaus_pdf_has_no_placeholder(book: Path) -> None:
    text = " ".join(pages(book / "protocols" / f"{EMMAUS}.pdf"))
    assert "[" not in text
    assert "Emmaüs versie" not in text


def test_pdf_identity_in_metadata(book: Path) -> None:
    manifest = json.loads((book / "manifest.json").read_text())
    entry = manifest["protocols"][EMMAUS]
    info = pypdf.PdfReader(io.BytesIO((book / entry["pdf"]).read_bytes())).metadata
    assert f"protocolc:id={EMMAUS};version=1.0;status=review;sha256={entry['sha256']}" in str(info.get("/Keywords"))


def test_every_emmaus_page_has_a_decodable_qr_code(book: Path, tmp_path: Path) -> None:
    import shutil

    for tool in ("pdftoppm", "zbarimg"):
        if shutil.which(tool) is None:
            if os.environ.get("PROTOCOLC_REQUIRE_TOOLS"):
                pytest.fail(f"{tool} is required in CI")
            pytest.skip(f"{tool} not installed (.ci/run installs it)")
    pdf = book / "protocols" / f"{EMMAUS}.pdf"
    # each page's bottom 40 mm (the running footer, in the 20 mm margin, with its QR code) at 150 dpi,
    # as a phone camera sees it; rasterizing whole pages took six times as long
    dpi, a4 = 150, (210, 297)
    x, y, width, height = (round(mm / 25.4 * dpi) for mm in (0, a4[1] - 40, a4[0], 40))
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-x", str(x), "-y", str(y), "-W", str(width), "-H", str(height),
                    str(pdf), str(tmp_path / "page")], check=True, timeout=300)
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == len(pages(pdf))
    expected = f"QR-Code:https://procedureboek.invalid/protocols/{EMMAUS}.html?version=1.0"
    for image in images:
        decoded = subprocess.run(["zbarimg", "-q", str(image)], capture_output=True, text=True, timeout=60).stdout
        assert expected in decoded.splitlines(), image.name


def test_two_builds_give_byte_identical_pdfs(book: Path, second_build: tuple[subprocess.Popen[str], Path]) -> None:
    process, again = second_build
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    expected = {f"{protocol_id(ROOT / 'protocols' / f'{name}.protocol')}.pdf" for name in AGAIN}
    assert {pdf.name for pdf in (again / "protocols").glob("*.pdf")} == expected
    for name in sorted(expected):
        assert (again / "protocols" / name).read_bytes() == (book / "protocols" / name).read_bytes(), name


def test_injected_markup_neither_executes_nor_loads(tmp_path: Path) -> None:
    header = "\n".join((ROOT / "tests" / "fixtures" / "F001" / "pass_generic.protocol").read_text().split("\n")[:11])
    book_dir = tmp_path / "book"
    book_dir.mkdir()
    (book_dir / "x.protocol").write_text(
        header.replace("id: fixture", "id: inject") + "\n# Sectie\n"
        "Tekst <script>alert(1)</script> en <img src=\"file:///etc/passwd\"> en <link rel=stylesheet href=\"http://x/\">.\n"
        '  allow X001 "test: markup in the text must be shown as text"\n'
        "drug tamoxifen (Nolvadex) 20 mg po daily\n")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "compiler", "build", str(book_dir), "-o", str(out), "-q"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    html = (out / "protocols" / "inject.html").read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<img src="file:///etc/passwd">' not in html
    text = " ".join(pages(out / "protocols" / "inject.pdf"))
    assert "<script>alert(1)</script>" in text  # shown as text, never run or fetched
    assert "root:" not in text


def test_pdf_text_reads_in_document_order(book: Path) -> None:
    text = " ".join(pages(book / "protocols" / f"{EMMAUS}.pdf"))
    headings = ["THERAPEUTISCHE DOELSTELLINGEN", "HORMONALE THERAPIE", "RADIOTHERAPIE", "CHEMOTHERAPIE",
                "ONDERSTEUNENDE THERAPIE", "HEELKUNDE"]
    positions = [text.find(h) for h in headings]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), positions
    # the watermark is drawn, not written: no stray letters of REVIEW between the words
    assert " R E V I E W " not in text and "\nW\n" not in text
