"""Readers: a Word, PDF, HTML or plain-text document as a list of physical lines.

Every reader returns the document's text as `RawLine`s in reading order, with what the
format itself says about structure (a Word heading style, an HTML list depth, a table
row) as hints. Deciding what a line *is* happens later, the same way for every format,
which is what makes a draft identical whichever format the sheet came in.

Each reader refuses what it cannot read safely with `ImportRefused` (a size limit on
the opened file, a zip that expands too far, a file that is not what its suffix says);
the heavy readers (python-docx, pdfplumber) are imported only when needed.
"""

from __future__ import annotations

import html.parser
import os
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_TEXT_BYTES = 2 * 1024 * 1024
MAX_BINARY_BYTES = 40 * 1024 * 1024
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024
MAX_PDF_PAGES = 300
SUFFIXES = (".docx", ".pdf", ".txt", ".md", ".html", ".htm")


class ImportRefused(Exception):
    """The input cannot be imported; the message says why (shown as is)."""


@dataclass(frozen=True, slots=True)
class RawLine:
    """One line of the document as read.

    `number` counts the document's text lines from 1, blank lines not counted (what the
    import report and the draft's comments refer to); `page` is the PDF page, when known. `style` is a
    structure hint from the format: "heading" (with `level`), "bullet" (with `level`),
    "row" (a table row, cells joined by " | ") or "" (a plain line).
    """

    number: int
    text: str
    page: int | None = None
    style: str = ""
    level: int = 0


def read_document(path: Path) -> list[RawLine]:
    """The lines of a document, by its suffix."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ImportRefused(f"cannot import `{path.suffix or path.name}` files; use one of " + ", ".join(SUFFIXES))
    limit = MAX_TEXT_BYTES if suffix in (".txt", ".md", ".html", ".htm") else MAX_BINARY_BYTES
    data = _read_bytes(path, limit)
    if suffix == ".docx":
        return _numbered(_docx_lines(path, data))
    if suffix == ".pdf":
        return _numbered(_pdf_lines(data))
    text = _decode(data, path)
    if suffix in (".html", ".htm"):
        return _numbered(_html_lines(text))
    if suffix == ".md":
        return _numbered(_markdown_lines(text))
    return _numbered(RawLine(0, line) for line in text.splitlines())


def _read_bytes(path: Path, limit: int) -> bytes:
    """The file's bytes, read from the opened descriptor with a byte limit (not `st_size`)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise ImportRefused(f"cannot open {path}: {error.strerror}") from error
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ImportRefused(f"{path} is not a regular file")
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1 << 16):
            size += len(chunk)
            if size > limit:
                raise ImportRefused(f"{path} is larger than the import limit of {limit // (1024 * 1024)} MB")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _decode(data: bytes, path: Path) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Word's "save as text" on Windows writes cp1252; it decodes every byte but five.
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError as error:
            raise ImportRefused(f"{path} is neither UTF-8 nor Windows-1252 text (byte {error.start})") from error


def _numbered(lines: Iterator[RawLine] | list[RawLine]) -> list[RawLine]:
    """Text lines numbered from 1; blank lines are dropped (a PDF has none, so numbers agree across formats)."""
    out: list[RawLine] = []
    for line in lines:
        for part in line.text.replace("\r", "\n").replace("\v", "\n").split("\n"):
            if part.strip():
                out.append(RawLine(len(out) + 1, part, line.page, line.style, line.level))
    return out


# ------------------------------------------------------------------ Word


def _check_zip(data: bytes, path: Path) -> None:
    import io

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as error:
        raise ImportRefused(f"{path} is not a Word (.docx) file: {error}") from error
    if expanded > MAX_UNZIPPED_BYTES:
        raise ImportRefused(f"{path} expands to {expanded // (1024 * 1024)} MB, above the import limit")


def _docx_lines(path: Path, data: bytes) -> Iterator[RawLine]:
    import io

    _check_zip(data, path)
    import docx  # python-docx, imported only for Word files

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as error:  # python-docx raises several unrelated types for a damaged package
        raise ImportRefused(f"{path} could not be read as a Word document: {error}") from error
    yield from _docx_blocks(document)
    for section in document.sections:
        for part in (section.header, section.footer):
            if part is not None and not part.is_linked_to_previous:
                for paragraph in part.paragraphs:
                    if paragraph.text.strip():
                        yield RawLine(0, paragraph.text, style="furniture")


def _docx_blocks(document: Any) -> Iterator[RawLine]:
    """Paragraphs and tables in body order (python-docx lists them separately)."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    # `paragraph.style` searches the style list on every call; one id → name map is linear.
    style_names = {style.style_id: str(style.name or "") for style in document.styles}
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            yield _docx_paragraph(Paragraph(child, document), style_names)
        elif tag == "tbl":
            for row in Table(child, document).rows:
                cells = [" ".join(cell.text.split()) for cell in row.cells]
                unique = [c for i, c in enumerate(cells) if c and (i == 0 or c != cells[i - 1])]
                if unique:
                    yield RawLine(0, " | ".join(unique), style="row")


def _docx_paragraph(paragraph: Any, style_names: dict[str, str]) -> RawLine:
    style_id = paragraph._p.style  # the paragraph's pStyle value, None for the default style
    lowered = style_names.get(style_id, "").lower() if style_id else ""
    if lowered.startswith(("heading", "kop")) and lowered.split()[-1].isdigit():
        return RawLine(0, paragraph.text, style="heading", level=int(lowered.split()[-1]))
    if lowered == "title":
        return RawLine(0, paragraph.text, style="title")
    level = _docx_list_level(paragraph, lowered)
    if level:
        return RawLine(0, paragraph.text, style="bullet", level=level)
    return RawLine(0, paragraph.text)


def _docx_list_level(paragraph: Any, style_name: str) -> int:
    properties = paragraph._p.pPr  # the paragraph's numbering lives in its XML properties
    numbering = properties.numPr if properties is not None else None
    if numbering is not None and numbering.ilvl is not None and numbering.ilvl.val is not None:
        return int(numbering.ilvl.val) + 1
    if style_name.startswith("list"):
        last = style_name.split()[-1]
        return int(last) if last.isdigit() else 1
    return 0


# ------------------------------------------------------------------ PDF


def _pdf_lines(data: bytes) -> Iterator[RawLine]:
    import io

    if not data.startswith(b"%PDF"):
        raise ImportRefused("the file is not a PDF (no %PDF header)")
    import pdfplumber  # imported only for PDF files

    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            if len(pdf.pages) > MAX_PDF_PAGES:
                raise ImportRefused(f"the PDF has {len(pdf.pages)} pages, above the import limit of {MAX_PDF_PAGES}")
            for number, page in enumerate(pdf.pages, start=1):
                text = page.extract_text(x_tolerance=1.5, y_tolerance=3) or ""
                for line in text.split("\n"):
                    yield RawLine(0, line, page=number)
    except ImportRefused:
        raise
    except Exception as error:  # pdfminer raises many types for a damaged file
        raise ImportRefused(f"the PDF could not be read: {type(error).__name__}: {error}") from error


# ------------------------------------------------------------------ HTML and Markdown


class _HtmlText(html.parser.HTMLParser):
    """Block-level text of an HTML page: headings, list items with their depth, rows, paragraphs."""

    BLOCKS = frozenset({"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "br", "section",
                        "article", "header", "footer", "blockquote", "pre", "table", "ul", "ol", "dt", "dd"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[RawLine] = []
        self._text: list[str] = []
        self._style = ""
        self._level = 0
        self._lists = 0
        self._skip = 0
        self._cells: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "template"):
            self._skip += 1
        elif tag in ("td", "th") and self._cells is not None:
            self._flush_cell()
        elif tag in self.BLOCKS:
            self._flush()
            if tag in ("ul", "ol"):
                self._lists += 1
            elif tag == "li":
                self._style, self._level = "bullet", max(1, self._lists)
            elif tag[0] == "h" and tag[1:].isdigit():
                self._style, self._level = "heading", int(tag[1:])
            elif tag == "tr":
                self._cells = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "template"):
            self._skip = max(0, self._skip - 1)
        elif tag in ("td", "th") and self._cells is not None:
            self._flush_cell()
        elif tag == "tr" and self._cells is not None:
            self._flush_cell()
            cells, self._cells = [c for c in self._cells if c], None
            if cells:
                self.lines.append(RawLine(0, " | ".join(cells), style="row"))
        elif tag in self.BLOCKS:
            self._flush()
            if tag in ("ul", "ol"):
                self._lists = max(0, self._lists - 1)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._text.append(data)

    def _flush_cell(self) -> None:
        if self._cells is not None:
            self._cells.append(" ".join("".join(self._text).split()))
            self._text = []

    def _flush(self) -> None:
        if self._cells is not None:
            return
        text = " ".join("".join(self._text).split())
        if text:
            self.lines.append(RawLine(0, text, style=self._style, level=self._level))
        self._text, self._style, self._level = [], "", 0

    def close(self) -> None:
        super().close()
        self._cells = None
        self._flush()


def _html_lines(text: str) -> list[RawLine]:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    return parser.lines


def _markdown_lines(text: str) -> Iterator[RawLine]:
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if stripped.startswith("#"):
            marks = len(stripped) - len(stripped.lstrip("#"))
            if stripped[marks:marks + 1] in (" ", ""):
                yield RawLine(0, stripped[marks:].strip(), style="heading", level=marks)
                continue
        if stripped[:2] in ("- ", "* ", "+ "):
            indent = len(line) - len(stripped)
            yield RawLine(0, stripped[2:], style="bullet", level=indent // 2 + 1)
            continue
        if stripped.startswith("|") and stripped.rstrip().endswith("|"):
            cells = [c.strip() for c in stripped.strip().strip("|").split("|")]
            if all(set(c) <= set("-: ") for c in cells):
                continue  # the header separator row carries no text
            yield RawLine(0, " | ".join(c for c in cells if c), style="row")
            continue
        yield RawLine(0, line)
