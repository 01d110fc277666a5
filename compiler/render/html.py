"""Render a checked protocol as one self-contained, accessible HTML5 page (Jinja2).

The page needs nothing from outside: the stylesheet is inlined, there are no images,
scripts or web fonts. The same page is what WeasyPrint turns into the PDF
(`compiler.render.pdf`), so print layout (A4, running header and footer, watermark)
lives in the same stylesheet under `@page` and `@media print`.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping
from importlib import resources

import jinja2
from markupsafe import Markup, escape

from compiler.bookconfig import BookConfig
from compiler.pipeline import Compiled
from compiler.qr import qr_svg
from compiler.render.view import build_view, calendar_repeats_table, unsplit, unsplit_words
from compiler.tables import Tables

PACKAGE = "compiler.render"


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja2 environment (built once): packaged templates, autoescaping on."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(PACKAGE, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["unsplit"] = unsplit
    env.globals["unsplit_words"] = unsplit_words
    env.globals["repeats_table"] = calendar_repeats_table
    return env


@functools.lru_cache(maxsize=1)
def stylesheet() -> str:
    """The packaged page stylesheet (screen and print)."""
    return resources.files(PACKAGE).joinpath("assets", "protocol.css").read_text(encoding="utf-8")


def render_protocol(compiled: Compiled, tables: Tables, config: BookConfig | None = None,
                    printed: datetime.date | None = None, links: Mapping[str, str] | None = None) -> str:
    """The HTML page of one compiled protocol.

    `config` (the book's configuration) supplies the validity notice's wording and the
    base URL the footer's QR code points at; without it the defaults are used. `printed`
    (the build date) is printed in the page footer; without it the footer has no date.
    `links` (from the book: "index", "pdf", "report", "history", and for a superseded
    version "current" and "current_version") are relative URLs shown on screen.
    Raises ValueError when the file did not build into a protocol (nothing to render).
    """
    if compiled.protocol is None:
        raise ValueError(f"{compiled.path}: no protocol to render")
    config = config or BookConfig()
    view = build_view(compiled.protocol, compiled.diagnostics, tables)
    notice = config.validity_notice.get(view.language)
    if notice:
        separator = {"nl": "versie", "en": "version"}[view.language]
        view.validity = f"{notice} — {separator} {view.version}"
    if printed is not None:
        view.printed = printed.strftime("%d-%m-%Y") if view.language == "nl" else printed.isoformat()
    url = config.protocol_url(view.id, view.version)
    # the QR code is our own SVG (segno); the URL inside it is escaped by segno
    title = {"nl": "QR-code naar de elektronische versie", "en": "QR code to the electronic version"}[view.language]
    view.qr = Markup(qr_svg(url, title))
    # the stylesheet is our own packaged file, never user input
    view.css = Markup(stylesheet())
    author = compiled.protocol.meta.author.value if compiled.protocol.meta.author else ""
    outdated = escape(view.labels["outdated"]).replace(
        "{printed}", Markup('<span class="printed-version"></span>')).replace("{version}", escape(view.version))
    return environment().get_template("protocol.html.j2").render(
        v=view, labels=view.labels, author=author, links=dict(links or {}), outdated=outdated)
