"""QR codes for printed sheets: the URL of the protocol version's page, as inline SVG.

A scan of a printed copy opens the published page of exactly that id and version, so an
old print lands on a page that says it is superseded.
"""

from __future__ import annotations

import functools
import io


@functools.lru_cache(maxsize=256)
def qr_svg(url: str, title: str) -> str:
    """An inline `<svg>` QR code for `url` (error correction M, quiet zone 2 modules)."""
    import segno

    code = segno.make(url, error="m", micro=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="svg", scale=1, border=2, xmldecl=False, svgns=False, title=title, nl=False,
              svgclass="qr", lineclass=None, omitsize=True, dark="#000")
    return buffer.getvalue().decode("utf-8")
