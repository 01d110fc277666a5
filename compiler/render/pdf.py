"""HTML page → A4 PDF with WeasyPrint, reproducibly and without touching the network.

WeasyPrint is imported inside `html_to_pdf` only: `check` and the language server import
the pipeline, and must not pay for (or depend on) the PDF stack.

Reproducibility: no creation/modification dates, a fixed PDF file identifier derived
from the identity, packaged fonts (never the system's), so the same source gives the
same bytes. Every resource goes through `fetch_asset`, which serves files under
`compiler/render/assets/` and refuses everything else (http, https, other files).

Speed: a process that prints several sheets (a `build` worker) loads the fonts and
parses the packaged stylesheets once (at its first sheet, or `warm`), not once per sheet. `pdf_key` names a
PDF by what it is made of — the page's HTML, the identity, the stylesheets and assets
it uses, this module and the PDF libraries' versions — so a data change that does not
change what a sheet shows does not print it again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

ASSET_SCHEME = "protocolc-asset"
ASSETS_DIR = Path(__file__).resolve().parent / "assets"
MEDIA_TYPES = {".ttf": "font/ttf", ".otf": "font/otf", ".css": "text/css", ".png": "image/png",
               ".svg": "image/svg+xml", ".txt": "text/plain"}
IDENTITY_KEYS = ("id", "version", "status", "sha256")
# fontTools stamps subset fonts with the current time unless SOURCE_DATE_EPOCH is set
# (reproducible-builds.org); 1980-01-01, the usual reproducible-build epoch.
FONT_EPOCH = "315532800"
# PDF/UA-1 (tagged PDF): WeasyPrint writes the structure tree and the XMP identification.
PDF_VARIANT = "pdf/ua-1"


class AssetRefused(ValueError):
    """A URL that is not a packaged asset (network, other files, unknown schemes)."""


def asset_path(url: str) -> Path:
    """The packaged file a URL names, or AssetRefused.

    Accepted: `protocolc-asset:fonts/DejaVuSans.ttf`, a bare relative name
    (`fonts/DejaVuSans.ttf`) and `file://` URLs that point inside the assets folder.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == ASSET_SCHEME:
        relative = unquote(parts.path).lstrip("/")
        candidate = ASSETS_DIR / relative
    elif scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise AssetRefused(f"refused: {url} is not a local file")
        candidate = Path(unquote(parts.path))
    elif scheme == "" and not parts.netloc and not url.startswith("/"):
        candidate = ASSETS_DIR / unquote(parts.path)
    else:
        raise AssetRefused(f"refused: {url} is not a packaged asset (only {ASSET_SCHEME}: is served)")
    resolved = candidate.resolve()
    if not resolved.is_relative_to(ASSETS_DIR) or not resolved.is_file():
        raise AssetRefused(f"refused: {url} is not a packaged asset")
    if resolved.suffix.lower() not in MEDIA_TYPES:
        raise AssetRefused(f"refused: {url} has an unsupported type")
    return resolved


WATERMARK_URL = re.compile(rf"{ASSET_SCHEME}:watermark/([A-Z]{{2,16}})\.svg")


def fetch_asset(url: str) -> tuple[bytes, str]:
    """The bytes and media type of a packaged asset; AssetRefused for anything else.

    `protocolc-asset:watermark/WORD.svg` is generated (glyph outlines of the packaged font).
    """
    watermark = WATERMARK_URL.fullmatch(url)
    if watermark is not None:
        from compiler.render.watermark import watermark_svg

        return watermark_svg(watermark.group(1)), "image/svg+xml"
    path = asset_path(url)
    return path.read_bytes(), MEDIA_TYPES[path.suffix.lower()]


@functools.lru_cache(maxsize=1)
def _fonts_css() -> str:
    return (ASSETS_DIR / "fonts.css").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _paged_css() -> str:
    return (ASSETS_DIR / "paged.css").read_text(encoding="utf-8")


def _watermark_css(identity: Mapping[str, str]) -> str:
    """`@page` background with the status watermark, for every status but approved."""
    status = identity.get("status", "draft") or "draft"
    if status == "approved":
        return ""
    from compiler import model as m
    from compiler.render.view import watermark_word
    from compiler.render.words import status_label

    language = identity.get("language") or "nl"
    try:
        label = status_label(language if language in ("nl", "en") else "nl", m.Status(status))
    except ValueError:
        label = status_label("nl", m.Status.DRAFT)
    word = watermark_word(label)
    return f'@page {{ background: url("{ASSET_SCHEME}:watermark/{word}.svg") no-repeat center / 100% 100%; }}'



def _fetcher() -> Any:
    """A WeasyPrint URL fetcher that serves packaged assets only (refusals stop the render)."""
    import weasyprint
    from weasyprint.urls import URLFetcherResponse

    class PackagedAssetFetcher(weasyprint.URLFetcher):  # type: ignore[misc]
        """Serves `fetch_asset` and nothing else."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            data, media_type = fetch_asset(url)
            return URLFetcherResponse(url, data, {"Content-Type": media_type})

    return PackagedAssetFetcher(fail_on_errors=True)


@contextlib.contextmanager
def _fixed_font_timestamps() -> Iterator[None]:
    """Set SOURCE_DATE_EPOCH (unless the caller did) while fonts are subset and written."""
    if "SOURCE_DATE_EPOCH" in os.environ:
        yield
        return
    os.environ["SOURCE_DATE_EPOCH"] = FONT_EPOCH
    try:
        yield
    finally:
        os.environ.pop("SOURCE_DATE_EPOCH", None)


def identity_string(identity: Mapping[str, str]) -> str:
    """`protocolc:id=…;version=…;status=…;sha256=…`, stored in the PDF keywords and subject."""
    return "protocolc:" + ";".join(f"{key}={identity.get(key, '')}" for key in IDENTITY_KEYS)


@dataclass
class _Printer:
    """What every sheet printed in this process shares: the fetcher, fonts and parsed stylesheets."""

    fetcher: Any
    font_config: Any
    fonts: Any
    paged: dict[str, Any] = field(default_factory=dict)  # paged.css + watermark → parsed stylesheet
    lock: threading.Lock = field(default_factory=threading.Lock)  # WeasyPrint's font state is not thread-safe

    def stylesheets(self, identity: Mapping[str, str]) -> list[Any]:
        import weasyprint

        text = _page_css(identity)
        if text not in self.paged:
            self.paged[text] = weasyprint.CSS(string=text, url_fetcher=self.fetcher, font_config=self.font_config)
        return [self.fonts, self.paged[text]]


_PRINTER: list[_Printer] = []  # at most one per process, made by `warm` or the first `html_to_pdf`
_PRINTER_LOCK = threading.Lock()


def warm() -> None:
    """Import WeasyPrint, load the packaged fonts and parse the stylesheets now, not at the first sheet."""
    printer = _printer()
    for status in ("draft", "approved"):
        printer.stylesheets({"status": status, "language": "nl"})


def _printer() -> _Printer:
    with _PRINTER_LOCK:
        if not _PRINTER:
            import weasyprint
            from weasyprint.text.fonts import FontConfiguration

            fetcher = _fetcher()
            font_config = FontConfiguration()
            fonts = weasyprint.CSS(string=_fonts_css(), url_fetcher=fetcher, font_config=font_config)
            _PRINTER.append(_Printer(fetcher, font_config, fonts))
        return _PRINTER[0]


def _page_css(identity: Mapping[str, str]) -> str:
    """The PDF-only stylesheet of a sheet: pages, running header and footer, the status watermark."""
    return _paged_css() + _watermark_css(identity)


# What the page marks for the screen only (flowcharts, course timelines, calendars that repeat their
# table, the findings list), all `display: none` in print: WeasyPrint parsed and styled it only to
# drop it, a quarter of a sheet's printing time. The PDF is byte-identical without it.
_SCREEN_ONLY = re.compile(r"<!--screen-->.*?<!--/screen-->", re.DOTALL)


def printable(html: str) -> str:
    """The page without its screen-only parts (marked `<!--screen-->` … `<!--/screen-->`, never nested)."""
    return _SCREEN_ONLY.sub("", html)


def html_to_pdf(html: str, identity: dict[str, str]) -> bytes:
    """Print a protocol page (from `render_protocol`) to an A4 PDF.

    `identity` holds "id", "version", "status", "sha256", "title", "language"; it goes into
    the PDF metadata (title, keywords, subject and custom `protocolc*` entries) so a file
    can be verified later. Same html and identity → byte-identical PDF (whether or not the
    process printed other sheets before: the shared fonts and stylesheets are read-only).
    """
    import weasyprint

    printer = _printer()
    with printer.lock:
        document = weasyprint.HTML(string=printable(html), url_fetcher=printer.fetcher).render(
            stylesheets=printer.stylesheets(identity), font_config=printer.font_config)
        metadata = document.metadata
        tag = identity_string(identity)
        metadata.title = identity.get("title") or metadata.title
        metadata.keywords = [tag]
        metadata.description = tag
        metadata.generator = "protocolc"
        metadata.created = None
        metadata.modified = None
        if identity.get("language"):
            metadata.lang = identity["language"]
        metadata.custom = {f"protocolc{key.capitalize()}": identity.get(key, "") for key in IDENTITY_KEYS}
        file_id = hashlib.sha256(tag.encode("utf-8")).hexdigest()[:32].encode("ascii")
        with _fixed_font_timestamps():
            pdf = document.write_pdf(pdf_identifier=file_id, pdf_variant=PDF_VARIANT, custom_metadata=True)
    assert isinstance(pdf, bytes)
    return pdf


# The packages whose code turns HTML into PDF bytes; a new version may lay out or write differently.
PDF_PACKAGES = ("weasyprint", "pydyf", "fonttools", "tinycss2", "cssselect2", "tinyhtml5", "brotli", "zopfli")
ASSET_URL = re.compile(rf"{ASSET_SCHEME}:[^\s\"')]+")
PDF_CODE = ("pdf.py", "watermark.py")  # this stage's own code (the HTML carries everything the page shows)


def pdf_key(html: str, identity: Mapping[str, str]) -> str:
    """The cache key of the PDF `html_to_pdf(html, identity)` prints: a hash of everything it is made of.

    The page's HTML as the printer is given it (`printable`: the resolved model and the
    findings, without the screen-only parts), the identity (PDF metadata and watermark),
    the PDF-only stylesheets and every packaged asset they or the page name (fonts, the
    generated watermark), this stage's code, and the versions of the libraries that lay out
    and write the PDF. Nothing else: a data table or a check that changes no sheet's printed
    HTML (or only its flowchart, timeline or findings list) changes no PDF key.
    """
    from compiler.cache import key_for

    html = printable(html)
    css = _fonts_css() + "\n" + _page_css(identity)
    assets = sorted(set(ASSET_URL.findall(css)) | set(ASSET_URL.findall(html)))
    parts = [_pdf_stage_fingerprint(), os.environ.get("SOURCE_DATE_EPOCH", FONT_EPOCH),
             json.dumps({key: identity.get(key, "") for key in sorted(identity)}),
             hashlib.sha256(css.encode("utf-8")).hexdigest()]
    parts += [f"{url}={_asset_digest(url)}" for url in assets]
    parts.append(hashlib.sha256(html.encode("utf-8")).hexdigest())
    return key_for("pdf", *parts)


@functools.lru_cache(maxsize=64)
def _asset_digest(url: str) -> str:
    try:
        data, _ = fetch_asset(url)
    except (AssetRefused, ValueError):
        return "refused"  # printing it fails; the key only has to differ from a served asset's
    return hashlib.sha256(data).hexdigest()


@functools.lru_cache(maxsize=1)
def _pdf_stage_fingerprint() -> str:
    """The protocolc version, this stage's code, and the PDF libraries' versions (Python and native)."""
    from importlib import metadata

    from compiler import __version__

    parts = [__version__, PDF_VARIANT, FONT_EPOCH]
    here = Path(__file__).resolve().parent
    parts += [hashlib.sha256((here / name).read_bytes()).hexdigest() for name in PDF_CODE]
    # every packaged asset, whatever names it (a font a stylesheet names, a bare relative URL)
    for path in sorted(p for p in ASSETS_DIR.rglob("*") if p.is_file()):
        parts.append(f"{path.relative_to(ASSETS_DIR).as_posix()}={hashlib.sha256(path.read_bytes()).hexdigest()}")
    for package in PDF_PACKAGES:
        try:
            parts.append(f"{package}={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{package}=-")
    parts.append(_native_versions())
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def _native_versions() -> str:
    """Pango, HarfBuzz and Fontconfig versions (they shape and place the text), as far as they can be read."""
    import ctypes
    import ctypes.util

    found = []
    for library, function, text in (("pango-1.0", "pango_version_string", True),
                                    ("harfbuzz", "hb_version_string", True),
                                    ("fontconfig", "FcGetVersion", False)):
        value = "?"
        with contextlib.suppress(OSError, AttributeError, TypeError):
            name = ctypes.util.find_library(library)
            if name is not None:
                call = getattr(ctypes.CDLL(name), function)
                call.restype = ctypes.c_char_p if text else ctypes.c_int
                result = call()
                value = result.decode("ascii", "replace") if isinstance(result, bytes) else str(result)
        found.append(f"{library}={value}")
    return ";".join(found)
