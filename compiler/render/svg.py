"""Text in generated SVG pictures: measured with the packaged font, wrapped, escaped.

The flowcharts and timelines are drawn by protocolc itself, so label widths are measured
with the same DejaVu Sans that WeasyPrint embeds (browsers that fall back to a narrower
sans serif only gain room). Every label is a `<text>` element (selectable, searchable,
read by `pdftotext`); `text_boxes` recomputes their boxes from a finished SVG so tests
can prove that no two labels overlap.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

from markupsafe import Markup, escape

from compiler.render.pdf import ASSETS_DIR

FONT_FAMILY = "'Protocolc Sans', 'DejaVu Sans', Verdana, sans-serif"
FONTS = {False: ASSETS_DIR / "fonts" / "DejaVuSans.ttf", True: ASSETS_DIR / "fonts" / "DejaVuSans-Bold.ttf"}
ASCENT = 1901 / 2048  # DejaVu Sans hhea ascent / descent per em
DESCENT = 483 / 2048
SVG_NS = "http://www.w3.org/2000/svg"


@functools.lru_cache(maxsize=2)
def _advances(bold: bool) -> tuple[dict[int, float], float]:
    """Advance width per code point, in em, and the fallback width."""
    from fontTools.ttLib import TTFont

    font = TTFont(str(FONTS[bold]))
    units = float(font["head"].unitsPerEm)
    metrics = font["hmtx"].metrics
    widths = {code: metrics[name][0] / units for code, name in font.getBestCmap().items()}
    return widths, 0.62


def text_width(text: str, size: float, bold: bool = False) -> float:
    """The advance width of `text` at `size` (user units) in the packaged font."""
    widths, fallback = _advances(bold)
    return sum(widths.get(ord(ch), fallback) for ch in text) * size


def _pieces(word: str, width: float, size: float, bold: bool) -> list[str]:
    """A word too long for a line, split after hyphens (or, failing that, anywhere)."""
    parts = [p for p in re.split(r"(?<=[-/–])", word) if p]
    out: list[str] = []
    for part in parts:
        if out and text_width(out[-1] + part, size, bold) <= width:
            out[-1] += part
            continue
        while text_width(part, size, bold) > width and len(part) > 1:
            cut = len(part) - 1
            while cut > 1 and text_width(part[:cut], size, bold) > width:
                cut -= 1
            out.append(part[:cut])
            part = part[cut:]
        out.append(part)
    return out


def wrap(text: str, width: float, size: float, bold: bool = False) -> list[str]:
    """Greedy word wrap to `width`; never returns an empty list for non-empty text."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, size, bold) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        if text_width(word, size, bold) <= width:
            current = word
        else:
            *full, current = _pieces(word, width, size, bold)
            lines.extend(full)
    if current:
        lines.append(current)
    return lines


def number(value: float) -> str:
    """A coordinate without needless digits."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True, slots=True)
class Label:
    """One line of text placed at (x, baseline y)."""

    x: float
    y: float
    text: str
    size: float
    bold: bool = False
    italic: bool = False
    fill: str = "#1b1f23"
    anchor: str = "start"
    href: str | None = None
    css_class: str = ""

    def width(self) -> float:
        """Advance width of the label."""
        return text_width(self.text, self.size, self.bold)

    def svg(self) -> Markup:
        """The `<text>` element (inside an `<a>` when the label is a link)."""
        attributes = [f'x="{number(self.x)}"', f'y="{number(self.y)}"', f'font-size="{number(self.size)}"']
        if self.bold:
            attributes.append('font-weight="bold"')
        if self.italic:
            attributes.append('font-style="italic"')
        if self.anchor != "start":
            attributes.append(f'text-anchor="{self.anchor}"')
        if self.css_class:
            attributes.append(f'class="{escape(self.css_class)}"')
        attributes.append(f'fill="{escape(self.fill)}"')
        element = Markup("<text {}>{}</text>").format(Markup(" ".join(attributes)), self.text)
        if self.href is not None:
            return Markup('<a href="{}">{}</a>').format(self.href, element)
        return element


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned rectangle."""

    x0: float
    y0: float
    x1: float
    y1: float

    def intersects(self, other: Box) -> bool:
        """True when the interiors overlap (touching edges do not count)."""
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1

    def contains(self, other: Box, slack: float = 0.5) -> bool:
        """True when `other` lies inside this box."""
        return (other.x0 >= self.x0 - slack and other.x1 <= self.x1 + slack
                and other.y0 >= self.y0 - slack and other.y1 <= self.y1 + slack)


def label_box(x: float, y: float, text: str, size: float, bold: bool, anchor: str = "start") -> Box:
    """The box a label covers: advance width × (ascent + descent)."""
    width = text_width(text, size, bold)
    left = x - width / 2 if anchor == "middle" else x - width if anchor == "end" else x
    return Box(left, y - ASCENT * size, left + width, y + DESCENT * size)


def standalone(svg: str) -> str:
    """An inline SVG as a standalone document (with its namespace), for goldens and XML parsing."""
    return svg if "xmlns=" in svg[:200] else svg.replace("<svg ", f'<svg xmlns="{SVG_NS}" ', 1)


def parse(svg: str) -> ElementTree.Element:
    """The SVG as an element tree (namespace added when the SVG came from the page)."""
    return ElementTree.fromstring(standalone(svg))


def text_boxes(svg: str) -> list[tuple[str, Box]]:
    """Every `<text>` of a finished SVG with the box it covers (for the overlap tests)."""
    root = parse(svg)
    out: list[tuple[str, Box]] = []
    for element in root.iter(f"{{{SVG_NS}}}text"):
        text = "".join(element.itertext())
        out.append((text, label_box(float(element.get("x", "0")), float(element.get("y", "0")), text,
                                    float(element.get("font-size", "10")), element.get("font-weight") == "bold",
                                    element.get("text-anchor", "start"))))
    return out


def rect_boxes(svg: str) -> list[Box]:
    """Every `<rect>` of a finished SVG as a box (node frames, calendar cells)."""
    root = parse(svg)
    out: list[Box] = []
    for element in root.iter(f"{{{SVG_NS}}}rect"):
        x, y = float(element.get("x", "0")), float(element.get("y", "0"))
        out.append(Box(x, y, x + float(element.get("width", "0")), y + float(element.get("height", "0"))))
    return out


def svg_open(width: float, height: float, label_id: str, css_class: str) -> Markup:
    """The opening `<svg>` tag: scales to the page width, keeps its aspect ratio.

    role="group", not "img": the charts hold links, and an image may not contain controls.
    """
    # no xmlns: inside HTML the parser puts <svg> in the SVG namespace, and the page stays free of URLs
    return Markup(
        '<svg class="{}" viewBox="0 0 {} {}" width="100%" '
        'preserveAspectRatio="xMinYMin meet" role="group" aria-labelledby="{}-title {}-desc" '
        'font-family="{}">').format(css_class, number(width), number(height), label_id, label_id, FONT_FAMILY)
