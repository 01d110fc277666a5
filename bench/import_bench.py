"""Benchmark (not a test): `protocolc import` time per page, against the bare readers.

    .venv/bin/python bench/import_bench.py [--copies N]

Makes a Word file and a PDF from N copies of the Emmaüs seed text (tests/data/seeds), then
times, per format: the bare reader (python-docx paragraphs, pdfplumber page text) and the
whole import (reader + layout + recognition + draft); prints time per page and the ratio
import / bare reader. Run it on a quiet machine; absolute times differ between machines.
"""

from __future__ import annotations

import argparse
import html
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = ROOT / "tests" / "data" / "seeds" / "002_82edb70f72006dd2.txt"


def _make_files(folder: Path, copies: int) -> tuple[Path, Path, Path, int]:
    import docx
    from weasyprint import HTML

    text = "\n".join([SEED.read_text(encoding="utf-8")] * copies)
    txt = folder / "sheet.txt"
    txt.write_text(text, encoding="utf-8")
    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    word = folder / "sheet.docx"
    document.save(str(word))
    paragraphs = "".join(f"<p>{html.escape(line) or '&#160;'}</p>" for line in text.splitlines())
    page = ("<html><head><meta charset='utf-8'><style>@page { size: A4; margin: 15mm }"
            " p { margin: 0; font: 10pt 'DejaVu Sans', sans-serif; white-space: pre-wrap }</style></head>"
            f"<body>{paragraphs}</body></html>")
    pdf = folder / "sheet.pdf"
    document_pdf = HTML(string=page).render()
    document_pdf.write_pdf(str(pdf))
    return txt, word, pdf, len(document_pdf.pages)


def _best(function: object, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=4, help="copies of the seed text per document")
    args = parser.parse_args()
    import docx
    import pdfplumber

    from compiler.importer import import_document
    from compiler.tables import load

    load()
    with tempfile.TemporaryDirectory() as tmp:
        txt, word, pdf, pages = _make_files(Path(tmp), args.copies)

        def bare_pdf() -> None:
            with pdfplumber.open(str(pdf)) as opened:
                for page in opened.pages:
                    page.extract_text()

        def bare_docx() -> None:
            for paragraph in docx.Document(str(word)).paragraphs:
                _ = paragraph.text

        rows = [
            ("pdf", _best(bare_pdf), _best(lambda: import_document(pdf))),
            ("docx", _best(bare_docx), _best(lambda: import_document(word))),
            ("txt", _best(lambda: txt.read_text(encoding="utf-8")), _best(lambda: import_document(txt))),
        ]
    print(f"document: {args.copies} copies of the Emmaüs seed = {pages} A4 pages (as a PDF at 10 pt)")
    print(f"{'format':<6} {'bare reader':>12} {'import':>10} {'per page':>10} {'import/bare':>12}")
    for name, bare, full in rows:
        print(f"{name:<6} {bare * 1000:>10.0f}ms {full * 1000:>8.0f}ms {full / pages * 1000:>8.1f}ms {full / bare:>11.1f}x")


if __name__ == "__main__":
    main()
