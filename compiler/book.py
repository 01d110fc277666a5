"""The procedure book: check every protocol, render the clean ones, write the site.

A protocol with an unacknowledged error is never rendered: its page would be a sheet
that must not be published. Every output file is written atomically.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import jinja2

from compiler import __version__, report
from compiler.checks import load_rules
from compiler.diagnostics import REGISTRY
from compiler.fsutil import write_atomic, write_text_atomic
from compiler.pipeline import Compiled, book_diagnostics, compile_file, find_protocols
from compiler.tables import load

INDEX_TEMPLATE = """<!DOCTYPE html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Procedureboek</title>
<style>
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1a1a1a; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ccc; }
th { background: #eef2f5; }
.status-approved { color: #1b5e20; } .status-review, .status-draft { color: #8a4b00; }
.failed { color: #b00020; font-weight: bold; }
</style>
</head>
<body>
<main>
<h1>Procedureboek</h1>
<p>Gebouwd met protocolc {{ version }}.</p>
<table>
<caption>Protocollen</caption>
<thead><tr><th scope="col">Titel</th><th scope="col">Id</th><th scope="col">Versie</th><th scope="col">Status</th>
<th scope="col">Eigenaar</th><th scope="col">Volgende herziening</th><th scope="col">Documenten</th></tr></thead>
<tbody>
{% for row in rows %}<tr>
<td>{{ row.title }}</td><td>{{ row.id }}</td><td>{{ row.version }}</td>
<td class="status-{{ row.status }}">{{ row.status }}</td><td>{{ row.owner }}</td><td>{{ row.next_review }}</td>
<td>{% if row.failed %}<span class="failed">niet gepubliceerd: {{ row.errors }} fout(en)</span>
{%- else %}<a href="{{ row.html }}">HTML</a>{% if row.pdf %} · <a href="{{ row.pdf }}">PDF</a>{% endif %}{% endif %}
 · <a href="{{ row.report }}">validatierapport</a></td>
</tr>
{% endfor %}</tbody>
</table>
</main>
</body>
</html>
"""


@dataclass
class BookOutcome:
    """What a build did."""

    results: list[Compiled] = field(default_factory=list)
    rendered: list[str] = field(default_factory=list)
    failed: bool = False


def _identity(result: Compiled) -> dict[str, str]:
    assert result.protocol is not None and result.source is not None
    meta = result.protocol.meta
    return {
        "id": meta.id.value if meta.id else "",
        "version": str(meta.version) if meta.version else "",
        "status": meta.status.value if meta.status else "",
        "sha256": result.source.sha256,
        "title": meta.title.value if meta.title else "",
        "language": meta.language or "nl",
    }


def build_book(paths: Sequence[Path], output: Path, pdf: bool = True, today: datetime.date | None = None,
               stream: TextIO | None = None) -> BookOutcome:
    """Check all protocols under `paths` and write the book to `output`."""
    load_rules()
    tables = load()
    outcome = BookOutcome()
    files = find_protocols(paths)
    outcome.results = [compile_file(path, today) for path in files]
    extra = book_diagnostics(outcome.results)
    rows = []
    manifest: dict[str, object] = {"generator": f"protocolc {__version__}", "data": tables.fingerprint, "protocols": {}}
    for result in outcome.results:
        if result.protocol is None or result.source is None or result.protocol.meta.id is None:
            outcome.failed = True
            continue
        identity = _identity(result)
        pid = identity["id"]
        errors = result.errors + sum(1 for d in extra if d.span.file == result.path and d.severity.value == "error")
        report_path = Path("protocols") / f"{pid}.report.json"
        own_extra = [d for d in extra if d.span.file == result.path]
        report_json = json.dumps(report.as_json([result], own_extra), indent=2, ensure_ascii=False)
        write_text_atomic(output / report_path, report_json + "\n")
        row = {**identity, "owner": result.protocol.meta.owner.value if result.protocol.meta.owner else "",
               "next_review": result.protocol.meta.next_review.isoformat() if result.protocol.meta.next_review else "",
               "failed": errors > 0, "errors": errors, "report": report_path.as_posix(), "html": "", "pdf": ""}
        if errors:
            outcome.failed = True
            rows.append(row)
            continue
        from compiler.render.html import render_protocol

        html = render_protocol(result, tables)
        html_path = Path("protocols") / f"{pid}.html"
        write_text_atomic(output / html_path, html)
        row["html"] = html_path.as_posix()
        entry: dict[str, str] = {**identity, "html": html_path.as_posix(),
                                 "html_sha256": hashlib.sha256(html.encode()).hexdigest()}
        if pdf:
            from compiler.render.pdf import html_to_pdf

            document = html_to_pdf(html, identity)
            pdf_path = Path("protocols") / f"{pid}.pdf"
            write_atomic(output / pdf_path, document)
            row["pdf"] = pdf_path.as_posix()
            entry["pdf"] = pdf_path.as_posix()
            entry["pdf_sha256"] = hashlib.sha256(document).hexdigest()
        manifest["protocols"][pid] = entry  # type: ignore[index]
        outcome.rendered.append(pid)
        rows.append(row)
    environment = jinja2.Environment(autoescape=True)
    index = environment.from_string(INDEX_TEMPLATE).render(rows=rows, version=__version__)
    write_text_atomic(output / "index.html", index)
    write_text_atomic(output / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    _write_rule_pages(output)
    if stream is not None:
        report.human(outcome.results, extra, stream)
        stream.write(f"built {len(outcome.rendered)} of {len(outcome.results)} protocol(s) into {output}\n")
    return outcome


RULE_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ rule.code }} {{ rule.name }}</title></head>
<body><main><h1>{{ rule.code }} {{ rule.name }}</h1>
<p>Severity: {{ rule.severity.value }}. {{ rule.summary }}.</p>
{% for para in paragraphs %}<p>{{ para }}</p>
{% endfor %}<p><a href="index.html">All rules</a></p></main></body></html>
"""

RULE_INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>protocolc rules</title></head>
<body><main><h1>protocolc rules</h1><ul>
{% for rule in rules %}<li><a href="{{ rule.code }}.html">{{ rule.code }}</a> {{ rule.name }}
 ({{ rule.severity.value }}): {{ rule.summary }}</li>
{% endfor %}</ul></main></body></html>
"""


def _write_rule_pages(output: Path) -> None:
    environment = jinja2.Environment(autoescape=True)
    page = environment.from_string(RULE_TEMPLATE)
    rules = sorted(REGISTRY.values(), key=lambda r: r.code)
    for rule in rules:
        paragraphs = [p.replace("\n", " ") for p in rule.doc.split("\n\n")]
        write_text_atomic(output / "rules" / f"{rule.code}.html", page.render(rule=rule, paragraphs=paragraphs))
    write_text_atomic(output / "rules" / "index.html", environment.from_string(RULE_INDEX).render(rules=rules))
