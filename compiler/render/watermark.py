"""The DRAFT/REVIEW/… watermark as an SVG of glyph outlines, not text.

Drawn as text, the watermark's letters land between the lines of the sheet when the
PDF is read by `pdftotext` or a screen reader ("Verlenging R overleving"). Outlines
taken from the packaged font look the same and are not text at all.
"""

from __future__ import annotations

import functools
import re

from compiler.render.pdf import ASSETS_DIR

WORD = re.compile(r"[A-Z]{2,16}")
FONT = ASSETS_DIR / "fonts" / "DejaVuSans-Bold.ttf"
COLOUR = "#b3261e"
OPACITY = "0.11"


@functools.lru_cache(maxsize=16)
def watermark_svg(word: str) -> bytes:
    """An SVG with `word` as outlines, rotated 45°, for a full A4 page background."""
    if not WORD.fullmatch(word):
        raise ValueError(f"watermark word must be 2-16 capital letters, not {word!r}")
    from fontTools.pens.svgPathPen import SVGPathPen
    from fontTools.pens.transformPen import TransformPen
    from fontTools.ttLib import TTFont

    font = TTFont(str(FONT))
    glyphs = font.getGlyphSet()
    cmap = font.getBestCmap()
    units = font["head"].unitsPerEm
    pen = SVGPathPen(glyphs)
    x = 0
    for char in word:
        glyph = glyphs[cmap[ord(char)]]
        # font units have y up; flip to SVG's y down and advance along the baseline
        glyph.draw(TransformPen(pen, (1, 0, 0, -1, x, 0)))
        x += glyph.width
    width, height = x, units
    path = pen.getCommands()
    # A4 portrait 210 × 297: the word runs corner to corner at -45°, scaled to fit.
    scale = 250 / width
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" viewBox="0 0 210 297">'
        f'<g transform="translate(105 148.5) rotate(-45) scale({scale:.6f}) translate({-width / 2:.1f} {height * 0.36:.1f})">'
        f'<path d="{path}" fill="{COLOUR}" fill-opacity="{OPACITY}"/></g></svg>'
    )
    return svg.encode("utf-8")
