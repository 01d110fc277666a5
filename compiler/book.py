"""The procedure book: check every protocol, render the clean ones, write the site.

A protocol with an unacknowledged error is never rendered: its page would be a sheet
that must not be published. Every output file is written atomically.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import jinja2

from compiler import __version__, report
from compiler.batch import check_files, default_jobs
from compiler.bookconfig import BookConfig, book_root, load_config
from compiler.cache import Cache, compiler_fingerprint, default_cache_dir, key_for
from compiler.checks import load_rules
from compiler.diagnostics import REGISTRY, Diagnostic
from compiler.fsutil import Busy, locked, read_limited
from compiler.fsutil import write_staged as write_atomic
from compiler.fsutil import write_staged_text as write_text_atomic
from compiler.overrides import use_overrides
from compiler.pipeline import Compiled, book_diagnostics, compile_file, find_protocols, summarize
from compiler.tables import Tables, load
from compiler.validation import render_report
from compiler.versions.root import forget_roots
from compiler.workers import pool

SITE = Path(__file__).resolve().parent / "site"
INDEX_WORDS = {
    "nl": {"book": "procedureboek", "protocols": "protocollen", "built_with": "gebouwd met", "date": "op",
           "search": "Zoeken", "search_hint": "titel, id, eigenaar…", "status": "Status", "all": "alle",
           "caption": "Protocollen; klik op een kolomtitel om te sorteren", "title": "Titel", "id": "Id",
           "version": "Versie", "owner": "Eigenaar", "next_review": "Volgende herziening", "documents": "Documenten",
           "overdue": "herziening verlopen", "due_soon": "binnen 90 dagen", "not_published": "niet gepubliceerd",
           "errors": "fout(en)", "report": "validatierapport", "rules": "Regels van de controle",
           "by_folder": "Per tumorlocatie (map)", "by_drug": "Per geneesmiddel", "by_status": "Per status",
           "reviews_due": "Herzieningen verlopen of binnenkort", "no_reviews_due": "Geen herzieningen binnen 90 dagen.",
           "views": "Weergaven", "all_protocols": "Alle protocollen"},
    "en": {"book": "procedure book", "protocols": "protocols", "built_with": "built with", "date": "on",
           "search": "Search", "search_hint": "title, id, owner…", "status": "Status", "all": "all",
           "caption": "Protocols; click a column title to sort", "title": "Title", "id": "Id", "version": "Version",
           "owner": "Owner", "next_review": "Next review", "documents": "Documents", "overdue": "review overdue",
           "due_soon": "due within 90 days", "not_published": "not published", "errors": "error(s)",
           "report": "validation report", "rules": "Check rules",
           "by_folder": "By tumour site (folder)", "by_drug": "By drug", "by_status": "By status",
           "reviews_due": "Reviews overdue or due soon", "no_reviews_due": "No reviews due within 90 days.",
           "views": "Views", "all_protocols": "All protocols"},
}
DUE_SOON_DAYS = 90
OUTPUT_MODE = 0o644  # published files: readable by the web server, whatever the cache's mode
MAX_PDF_BYTES = 200_000_000
MARKER = ".protocolc-book"
MARKER_TEXT = "made by protocolc build: this folder is replaced as a whole by the next build\n"


class OutputRefused(Exception):
    """The output folder cannot be replaced safely (reported, exit 2)."""


def _index_html(rows: list[dict[str, Any]], config: BookConfig, today: datetime.date) -> str:
    for row in rows:
        row["review_state"] = _review_state(row.get("next_review", ""), today)
        major, _, minor = str(row.get("version", "")).partition(".")
        row["version_sort"] = f"{int(major):06d}.{int(minor):06d}" if major.isdigit() and minor.isdigit() else ""
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(SITE), autoescape=True)
    statuses = sorted({str(r.get("status")) for r in rows if r.get("status")})
    return environment.get_template("index.html.j2").render(
        rows=rows, version=__version__, hospital=config.hospital, language=config.locale, today=today.isoformat(),
        t=INDEX_WORDS[config.locale], statuses=statuses, views=_views(rows))


def _folder(path: str, roots: Sequence[Path]) -> str:
    """The folder of a protocol under the book root (its tumour site: `borst`, `longkanker`), or ""."""
    file = Path(path).resolve()
    for root in roots:
        base = root.resolve()
        if file.is_relative_to(base):
            return "/".join(file.relative_to(base).parts[:-1])
    return file.parent.name


def _drug_names(result: Compiled, tables: Tables) -> list[str]:
    """The drugs a protocol names (formulary names in its language), for the index's view by drug."""
    from compiler import model as m

    if result.protocol is None:
        return []
    language = result.protocol.meta.language or "nl"
    names: set[str] = set()
    for item in result.protocol.all_items():
        if isinstance(item, m.DrugLine) and item.drug_id is not None:
            names.add(tables.drug_name(item.drug_id, language))
        elif isinstance(item, m.RegimenLine) and item.regimen_id is not None:
            entry = tables.regimens.get(item.regimen_id) or {}
            drugs = [*(entry.get("drugs") or []), *(d for p in entry.get("phases") or [] for d in p.get("drugs") or [])]
            names.update(tables.drug_name(str(d.get("drug")), language) for d in drugs if d.get("drug"))
    return sorted(names, key=str.lower)


def _views(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The index's other views: by folder, by drug, by status, and the reviews due or overdue."""
    by_folder: dict[str, list[dict[str, Any]]] = {}
    by_drug: dict[str, list[dict[str, Any]]] = {}
    by_status: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: str(r.get("title", "")).lower()):
        by_folder.setdefault(str(row.get("folder") or "—"), []).append(row)
        by_status.setdefault(str(row.get("status") or "—"), []).append(row)
        for drug in row.get("drugs") or []:
            by_drug.setdefault(drug, []).append(row)
    due = sorted((r for r in rows if r.get("review_state") in ("overdue", "soon")), key=lambda r: r["next_review"])
    return {"by_folder": sorted(by_folder.items()), "by_drug": sorted(by_drug.items(), key=lambda i: i[0].lower()),
            "by_status": sorted(by_status.items()), "due": due}


def _review_state(next_review: str, today: datetime.date) -> str:
    try:
        due = datetime.date.fromisoformat(next_review)
    except ValueError:
        return ""
    if due < today:
        return "overdue"
    if (due - today).days <= DUE_SOON_DAYS:
        return "soon"
    return ""


@dataclass
class BookOutcome:
    """What a build did."""

    results: list[Compiled] = field(default_factory=list)
    rendered: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    printed: list[str] = field(default_factory=list)  # PDFs printed by this build (the others were reused)
    failed: bool = False
    roots: list[Path] = field(default_factory=list)  # the folders given (index groups by folder under them)


@dataclass(frozen=True)
class RenderTask:
    """One protocol (version) to render: where it is, its render cache key, whether to make a PDF.

    `status`, `approver` and `approved` override the source's metadata for versions whose
    status lives in the release register (approved, superseded): the register, not the
    author's file, says what a released version is.
    """

    path: str
    key: str
    pdf: bool
    today: str
    config: BookConfig
    status: str | None = None
    approver: str | None = None
    approved: str | None = None
    pdf_from: str | None = None  # an archived release PDF to publish as is (byte-identical)
    links: tuple[tuple[str, str], ...] = ()  # the page's links to its PDF, report, history, index, current version


Artifact = bytes | Path  # rendered bytes, or a cached file to link into the new book


@dataclass(frozen=True)
class Rendered:
    """A task's page, and its PDF: printed now (bytes), or a cached file when one with its PDF key exists."""

    key: str
    html: Artifact
    document: Artifact | None = None
    pdf_key: str | None = None
    printed: bool = False


def _render(task: RenderTask, pdf_cache: str | None = None) -> Rendered:
    """Compile and render one protocol (runs in a worker process).

    The HTML is always made (it is cheap); the PDF is printed only when the cache
    (`pdf_cache`, a folder) holds no PDF with its PDF key — what the page shows, not
    which data files changed (see `compiler.render.pdf.pdf_key`).
    """
    from compiler.render.html import render_protocol

    result = compile_file(Path(task.path), datetime.date.fromisoformat(task.today))
    if task.status is not None and result.protocol is not None:
        result = _with_register_status(result, task)
    html = render_protocol(result, load(), task.config, datetime.date.fromisoformat(task.today), dict(task.links))
    page = html.encode("utf-8")
    if not task.pdf:
        return Rendered(task.key, page)
    if task.pdf_from is not None:
        archived = read_limited(Path(task.pdf_from), MAX_PDF_BYTES)
        return Rendered(task.key, page, archived, key_for("archived pdf", hashlib.sha256(archived).hexdigest()))
    identity = _identity(summarize(result))
    if task.status is not None:
        identity["status"] = task.status
    return _print(task.key, html, page, identity, pdf_cache)


def _print(key: str, html: str, page: bytes, identity: dict[str, str], pdf_cache: str | None) -> Rendered:
    """The page's PDF from the cache when one with the same PDF key is there, else printed now."""
    from compiler.render.pdf import html_to_pdf, pdf_key

    document_key = pdf_key(html, identity)
    if pdf_cache is not None:
        cached = Path(pdf_cache) / f"{document_key}.pdf"
        if cached.is_file():
            return Rendered(key, page, cached, document_key)
    return Rendered(key, page, html_to_pdf(html, identity), document_key, printed=True)


def _start_render_worker(overrides: tuple[Any, ...]) -> None:
    """A render worker's initializer: the book's formulary overrides.

    WeasyPrint, the fonts and the PDF stylesheets are loaded by the first sheet the
    worker prints and kept for every later one (`compiler.render.pdf`); a worker whose
    sheets all have a cached PDF never loads them (a data change no sheet shows).
    """
    use_overrides(overrides)


def _with_register_status(result: Compiled, task: RenderTask) -> Compiled:
    from compiler import model as m

    protocol = result.protocol
    assert protocol is not None and task.status is not None
    meta = protocol.meta
    anchor = meta.id.span if meta.id is not None else None
    changes: dict[str, Any] = {"status": m.Status(task.status)}
    if task.approver and anchor is not None:
        changes["approver"] = m.Text(task.approver, anchor)
    if task.approved:
        changes["approved"] = datetime.date.fromisoformat(task.approved)
    return replace(result, protocol=replace(protocol, meta=replace(meta, **changes)), summary={})


def _identity(summary: dict[str, str]) -> dict[str, str]:
    return {key: summary.get(key, "") for key in ("id", "version", "status", "sha256", "title", "language")}


def _render_all(tasks: list[RenderTask], cache: Cache | None, jobs: int,
                progress: Callable[[int], None] | None) -> dict[str, tuple[Rendered, dict[str, str]]]:
    """Render the tasks (in long-lived worker processes when there are several) and cache what they made.

    A page's cache entry (`<key>.html`, `<key>.json`) names its PDF by PDF key
    (`<pdf key>.pdf`), so pages whose HTML did not change share the PDF printed before.
    Each result is cached as it arrives and then held as its cache file, not in memory.
    """
    from compiler.overrides import active_overrides

    out: dict[str, tuple[Rendered, dict[str, str]]] = {}
    work = functools.partial(_render, pdf_cache=str(cache.directory) if cache is not None else None)
    with contextlib.ExitStack() as stack:
        results: Iterator[Rendered] = map(work, tasks)
        if jobs > 1 and len(tasks) > 1:
            executor = stack.enter_context(pool(min(jobs, len(tasks)), _start_render_worker, (active_overrides(),)))
            results = executor.map(work, tasks)
        for item in results:
            out[item.key] = _keep(cache, item)
            if progress:
                progress(1)
    return out


def _keep(cache: Cache | None, item: Rendered) -> tuple[Rendered, dict[str, str]]:
    """Cache what a task made; the result then names the cache files (the book copies them later)."""
    assert isinstance(item.html, bytes)
    hashes = _hashes(item.html, item.document, item.pdf_key)
    if cache is None:
        return item, hashes
    html, document = item.html, item.document
    cache.write_bytes(item.key, "html", html)
    if isinstance(document, bytes) and item.pdf_key is not None:
        cache.write_bytes(item.pdf_key, "pdf", document)
        document = _file_or(cache.directory / f"{item.pdf_key}.pdf", document)
    cache.write_json(item.key, hashes)
    return replace(item, html=_file_or(cache.directory / f"{item.key}.html", html), document=document), hashes


def _file_or(path: Path, data: bytes) -> Artifact:
    """The cache file just written, or the bytes when it could not be written (the cache is best effort)."""
    return path if path.is_file() else data


def _hashes(html: bytes, document: Artifact | None, pdf_key: str | None = None) -> dict[str, str]:
    found = {"html_sha256": hashlib.sha256(html).hexdigest()}
    if document is not None:
        data = document if isinstance(document, bytes) else document.read_bytes()
        found["pdf_sha256"] = hashlib.sha256(data).hexdigest()
    if pdf_key is not None:
        found["pdf_key"] = pdf_key
    return found


def build_book(paths: Sequence[Path], output: Path, pdf: bool = True, today: datetime.date | None = None,
               stream: TextIO | None = None, *, cache_dir: Path | None = None, use_cache: bool = True,
               jobs: int | None = None, quiet: bool = False, verbose: bool = False) -> BookOutcome:
    """Check all protocols under `paths` and write the book to `output`, atomically.

    The new book is written to a staging folder next to `output` and swapped in with two
    renames; a build that fails or is killed leaves the previous book as it was (a
    swap interrupted between its two renames is undone by the next build). Raises
    `OutputRefused` when `output` is not a folder it may replace (see `check_output`);
    builds into one folder are serialised by a lock beside it.
    """
    shown, output = output, Path(os.path.abspath(output))
    check_output(output, paths)
    forget_roots()  # `serve` builds again and again: a release another process made since counts
    load_rules()
    tables = load()
    today = today or datetime.date.today()
    config = load_config(book_root(list(paths)))
    use_overrides(config.formulary_overrides)
    if stream is not None and not config.base_url_set:
        where = config.path or book_root(list(paths)) / "book.yaml"
        print(f"protocolc: warning: no base_url in {where}: the QR codes on the printed pages point to "
              f"{config.base_url} (see protocols/book.yaml for an example)", file=sys.stderr)
    workers = jobs if jobs is not None else default_jobs()
    cache = Cache(cache_dir or default_cache_dir()) if use_cache else None
    outcome = BookOutcome(roots=[p for p in paths if p.is_dir()])
    _recover_releases(paths, stream)
    files = find_protocols(paths)
    with _progress(stream, quiet, len(files)) as advance:
        outcome.results = check_files(files, today, cache=Cache(cache.directory / "results") if cache else None,
                                      jobs=workers, progress=advance)
    extra = book_diagnostics(outcome.results)
    with _build_lock(output, stream):
        check_output(output, paths)  # again: another build may have run while this one waited
        _recover(output)
        staging = output.parent / f".{output.name}.staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            _stage(outcome, extra, config, tables, pdf, today, staging, cache, workers, stream, quiet)
            _swap(staging, output)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    if stream is not None:
        if not quiet:
            _summary(outcome.results, extra, output, verbose, stream)
        done = f"rendered {len(outcome.rendered)}, reused {len(outcome.reused)} unchanged"
        if not outcome.rendered and outcome.reused:
            done = f"nothing changed: re-rendered nothing, reused {len(outcome.reused)}"
        elif pdf and outcome.rendered:
            done += f"; PDFs printed {len(outcome.printed)}, reused {len(outcome.rendered) - len(outcome.printed)}"
        stream.write(f"built {len(outcome.rendered) + len(outcome.reused)} of {len(outcome.results)} protocol(s) "
                     f"into {shown} ({done})\n")
    return outcome


def _summary(results: Sequence[Compiled], extra: Sequence[Diagnostic], output: Path, verbose: bool,
             stream: TextIO) -> None:
    """Counts per sheet and where its report is; the full findings only with -v or for a sheet that fails."""
    for result in results:
        own_extra = [d for d in extra if d.span.file == result.path]
        counts = report.summary([result], own_extra)
        pid = summarize(result).get("id") or Path(result.path).stem
        failing = counts["errors"] > 0 or result.protocol is None
        if verbose or failing:
            report.human([result], own_extra, stream)
        where = output / "protocols" / f"{pid}.report.html"
        stream.write(f"{'FAIL' if failing else 'ok  '} {result.path}: {counts['errors']} error(s), "
                     f"{counts['warnings']} warning(s), {counts['infos']} info(s); report: {where}\n")
    if not verbose:
        stream.write("(findings of sheets that pass are in their reports; -v prints them all)\n")


def _recover_releases(paths: Sequence[Path], stream: TextIO | None) -> None:
    """Complete or roll back a release that was interrupted (kill -9, power loss) before building."""
    from compiler.versions.transaction import recover_books

    for message in recover_books(list(paths)):
        if stream is not None:
            stream.write(f"protocolc: {message}\n")


def _stage(outcome: BookOutcome, extra: list[Diagnostic], config: BookConfig, tables: Tables, pdf: bool,
           today: datetime.date, staging: Path, cache: Cache | None, workers: int, stream: TextIO | None,
           quiet: bool) -> None:
    """Render (or reuse) every clean protocol and write the whole new book into `staging`."""
    write_text_atomic(staging / MARKER, MARKER_TEXT)
    rows, manifest, tasks, keys = _plan(outcome, extra, config, tables, pdf, today, staging, cache)
    head = _register_head(outcome.results)
    if head is not None:
        manifest["register"] = head  # `verify` compares it: a register that later loses records is noticed
    todo = [t for t in tasks if cache is None or not _cached(cache, t)]
    with _progress(stream, quiet, len(todo)) as advance:
        fresh = _render_all(todo, cache, workers, advance)
    for pid, task in keys.items():
        if task.key in fresh:
            made, hashes = fresh[task.key]
            _place(staging, pid, made.html, made.document, manifest, hashes)
            outcome.rendered.append(pid)
            if made.printed:
                outcome.printed.append(pid)
        else:
            html_file, document_file, hashes = _from_cache(cache, task)
            _place(staging, pid, html_file, document_file, manifest, hashes)
            outcome.reused.append(pid)
    _write_history_pages(staging, manifest)
    write_text_atomic(staging / "index.html", _index_html(rows, config, today))
    write_text_atomic(staging / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    _write_rule_pages(staging)


def _plan(outcome: BookOutcome, extra: list[Diagnostic], config: BookConfig, tables: Tables, pdf: bool,
          today: datetime.date, staging: Path, cache: Cache | None
          ) -> tuple[list[dict[str, Any]], dict[str, Any], list[RenderTask], dict[str, RenderTask]]:
    """Rows of the index, the manifest skeleton and what to render (clean protocols only)."""
    rows: list[dict[str, Any]] = []
    manifest: dict[str, Any] = {"generator": f"protocolc {__version__}", "data": tables.fingerprint,
                                "base_url": config.base_url, "protocols": {}}
    tasks: list[RenderTask] = []
    keys: dict[str, RenderTask] = {}
    for result in outcome.results:
        summary = summarize(result)
        pid = summary.get("id")
        if not pid or result.source is None:
            outcome.failed = True
            continue
        own_extra = [d for d in extra if d.span.file == result.path]
        errors = result.errors + sum(1 for d in own_extra if d.severity.value == "error")
        findings = [d.to_json() for d in (*result.diagnostics, *own_extra)]
        report_key = key_for(compiler_fingerprint(), result.source.sha256, result.path, today.isoformat(),
                             json.dumps(findings, sort_keys=True, separators=(",", ":")), config.fingerprint())
        report_path = Path("protocols") / f"{pid}.report.html"
        _put(staging / "protocols" / f"{pid}.report.json",
             _cached_document(cache, report_key, "report.json", functools.partial(_report_json, result, own_extra)))
        _put(staging / report_path, _cached_document(
            cache, report_key, "report.html", functools.partial(_validation_page, result, own_extra, today, config)))
        row: dict[str, Any] = {**summary, "failed": errors > 0, "errors": errors, "report": report_path.as_posix(),
                               "html": "", "pdf": "", "folder": _folder(result.path, outcome.roots),
                               "drugs": _drug_names(result, tables)}
        rows.append(row)
        if errors:
            outcome.failed = True
            continue
        row["html"] = f"protocols/{pid}.html"
        row["pdf"] = f"protocols/{pid}.pdf" if pdf else ""
        released = _released(result.path, pid, summary.get("version", ""), result.source.sha256)
        status_fields: dict[str, Any] = {}
        if released is not None:
            status_fields = {"status": released["status"], "approver": released["approver"],
                             "approved": released["approved"], "pdf_from": released.get("pdf")}
            row["status"] = released["status"]
        history = _history(result.path, pid)
        links = _page_links(pid, pdf, bool(history))
        key = key_for(compiler_fingerprint(), result.source.sha256, result.path, today.isoformat(),
                      config.fingerprint(), "pdf" if pdf else "html", json.dumps(status_fields, sort_keys=True),
                      json.dumps(links))
        task = RenderTask(result.path, key, pdf, today.isoformat(), config, **status_fields, links=links)
        tasks.append(task)
        keys[pid] = task
        entry: dict[str, Any] = {**_identity(summary), "url": config.protocol_url(pid, summary.get("version", ""))}
        if released is not None:
            entry["status"] = released["status"]
        if history:
            entry["history"] = history
            row["history"] = f"protocols/{pid}.history.html"
            for version in history:
                archived = version.get("source_path")
                if not archived or version["version"] == summary.get("version"):
                    continue
                old_links = _archived_links(pid, version["version"], summary.get("version", ""), pdf)
                old_key = key_for(compiler_fingerprint(), version["sha256"], archived, today.isoformat(),
                                  config.fingerprint(), "pdf" if pdf else "html", version["status"],
                                  json.dumps(old_links))
                old_task = RenderTask(archived, old_key, pdf, today.isoformat(), config, status=version["status"],
                                      approver=version["approver"], approved=version["approved"], links=old_links)
                tasks.append(old_task)
                keys[f"{pid}/{version['version']}"] = old_task
        manifest["protocols"][pid] = entry
    return rows, manifest, tasks, keys


def _page_links(pid: str, pdf: bool, history: bool) -> tuple[tuple[str, str], ...]:
    """Links of a protocol page (protocols/<id>.html), relative to it."""
    links = [("index", "../index.html")]
    if pdf:
        links.append(("pdf", f"{pid}.pdf"))
    links.append(("report", f"{pid}.report.html"))
    if history:
        links.append(("history", f"{pid}.history.html"))
    return tuple(links)


def _archived_links(pid: str, version: str, current: str, pdf: bool) -> tuple[tuple[str, str], ...]:
    """Links of an archived version's page (protocols/<id>/<version>.html): the current version first."""
    links = [("index", "../../index.html")]
    if pdf:
        links.append(("pdf", f"{version}.pdf"))
    links.append(("history", f"../{pid}.history.html"))
    if version != current:
        links += [("current", f"../{pid}.html"), ("current_version", current)]
    return tuple(links)


def _register_head(results: list[Compiled]) -> dict[str, Any] | None:
    """The last record (number and hash) of the book's register, when it has one."""
    from compiler.versions.register import find_root, load_register

    for result in results:
        root = find_root(Path(result.path))
        if root is not None:
            register = load_register(root)
            if register.records and not register.problems:
                return {"seq": register.records[-1].seq, "sha256": register.head}
            return None
    return None


def _released(path: str, pid: str, version: str, sha256: str) -> dict[str, Any] | None:
    """The register's facts when this exact source is a recorded version (status, approver, PDF)."""
    from compiler.versions.register import archive_path, find_root, load_register

    root = find_root(Path(path))
    if root is None:
        return None
    register = load_register(root)
    record = register.status(pid, version)
    release = register.release(pid, version)
    if record is None or release is None or release.sha256 != sha256:
        return None
    archived_pdf = archive_path(root, pid, version, ".pdf")
    use_pdf = record.status == "approved" and archived_pdf.is_file()
    return {"status": record.status, "approver": release.approver, "approved": release.approved,
            "pdf": str(archived_pdf) if use_pdf else None}


def _history(path: str, pid: str) -> list[dict[str, Any]]:
    """Every released version of a protocol with its current status (oldest first)."""
    from compiler.versions.register import archive_path, find_root, load_register

    root = find_root(Path(path))
    if root is None:
        return []
    register = load_register(root)
    out: list[dict[str, Any]] = []
    for release in register.released_versions(pid):
        now = register.status(pid, release.version)
        source = archive_path(root, pid, release.version)
        out.append({"version": release.version, "status": now.status if now else release.status,
                    "approved": release.approved, "approver": release.approver, "note": release.note,
                    "change_class": release.change_class, "sha256": release.sha256,
                    "superseded_by": now.superseded_by if now else "",
                    "source_path": str(source) if source.is_file() else ""})
    return out


def _write_history_pages(staging: Path, manifest: dict[str, Any]) -> None:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(SITE), autoescape=True)
    template = environment.get_template("history.html.j2")
    for pid, entry in manifest["protocols"].items():
        history = entry.get("history")
        if not history:
            continue
        for item in history:
            item.pop("source_path", None)
        write_text_atomic(staging / "protocols" / f"{pid}.history.html",
                          template.render(pid=pid, entry=entry, history=list(reversed(history))))


def _cached(cache: Cache, task: RenderTask) -> bool:
    html = (cache.directory / f"{task.key}.html").is_file()
    return html and (not task.pdf or _cached_pdf(cache, cache.read_json(task.key)) is not None)


def _cached_pdf(cache: Cache, hashes: dict[str, Any] | None) -> Path | None:
    """The PDF a page's cache entry names by its PDF key, when it is there."""
    pdf_key = (hashes or {}).get("pdf_key")
    if not isinstance(pdf_key, str) or not pdf_key.isalnum():
        return None
    document = cache.directory / f"{pdf_key}.pdf"
    return document if document.is_file() else None


def _from_cache(cache: Cache | None, task: RenderTask
                ) -> tuple[Artifact, Artifact | None, dict[str, str]]:
    """The cached documents of a task (as files, copied into the book later) and their hashes."""
    assert cache is not None
    html = cache.directory / f"{task.key}.html"
    hashes = cache.read_json(task.key)
    document = _cached_pdf(cache, hashes) if task.pdf else None
    if not html.is_file() or (task.pdf and document is None) or hashes is None:
        fresh = _render(task, str(cache.directory))  # the entry vanished between planning and use
        assert isinstance(fresh.html, bytes)
        return fresh.html, fresh.document, _hashes(fresh.html, fresh.document, fresh.pdf_key)
    return html, document, {k: str(v) for k, v in hashes.items()}


def _report_json(result: Compiled, extra: list[Diagnostic]) -> bytes:
    return (json.dumps(report.as_json([result], extra), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _validation_page(result: Compiled, extra: list[Diagnostic], today: datetime.date, config: BookConfig) -> bytes:
    full = result if result.protocol is not None else compile_file(Path(result.path), today)
    return render_report([full], extra, today, config).encode("utf-8")


def _cached_document(cache: Cache | None, key: str, extension: str, make: Callable[[], bytes]) -> Artifact:
    """A document from the cache (as a file to link), or made now and stored."""
    if cache is not None:
        path = cache.directory / f"{key}.{extension}"
        if path.is_file():
            return path
    data = make()
    if cache is not None:
        cache.write_bytes(key, extension, data)
    return data


def _put(target: Path, data: Artifact) -> None:
    """Write bytes, or copy a cached file.

    Never a hard link: the cache is private (0600) and an output file is an ordinary,
    world-readable file; editing an output must never edit the cache.
    """
    if isinstance(data, bytes):
        write_atomic(target, data)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data, target)
    os.chmod(target, OUTPUT_MODE)


def _place(staging: Path, pid: str, html: Artifact, document: Artifact | None, manifest: dict[str, Any],
           hashes: dict[str, str]) -> None:
    if "/" in pid:  # an archived version, for the history page: protocols/<id>/<version>.html
        protocol_id, version = pid.split("/", 1)
        _put(staging / "protocols" / protocol_id / f"{version}.html", html)
        if document is not None:
            _put(staging / "protocols" / protocol_id / f"{version}.pdf", document)
        for item in manifest["protocols"][protocol_id].get("history", []):
            if item["version"] == version:
                item["html"] = f"protocols/{protocol_id}/{version}.html"
                if document is not None:
                    item["pdf"] = f"protocols/{protocol_id}/{version}.pdf"
        return
    entry = manifest["protocols"][pid]
    _put(staging / "protocols" / f"{pid}.html", html)
    entry["html"] = f"protocols/{pid}.html"
    entry["html_sha256"] = hashes["html_sha256"]
    if document is not None:
        _put(staging / "protocols" / f"{pid}.pdf", document)
        entry["pdf"] = f"protocols/{pid}.pdf"
        entry["pdf_sha256"] = hashes["pdf_sha256"]


def _previous(output: Path) -> Path:
    return output.parent / f".{output.name}.previous"


def _recover(output: Path) -> None:
    """Undo a swap that was interrupted between its two renames; remove dead builds' staging."""
    for staging in output.parent.glob(f".{output.name}.staging-*"):
        pid = staging.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)
    previous = _previous(output)
    if not output.exists() and previous.exists():
        previous.rename(output)
    elif previous.exists():
        shutil.rmtree(previous, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _swap(staging: Path, output: Path) -> None:
    """Replace `output` by `staging` with two renames (each atomic), once the new book is on disk."""
    os.sync()  # the staged files are written without a sync each; flush them before they go live
    previous = _previous(output)
    if output.exists():
        _check_replaceable(output)
        output.rename(previous)
    staging.rename(output)
    shutil.rmtree(previous, ignore_errors=True)


def check_output(output: Path, sources: Sequence[Path], *, inside_sources: bool = True) -> None:
    """Refuse an output folder whose replacement could destroy anything protocolc did not make.

    The build replaces the output folder as a whole, so it must be a folder protocolc
    made (it holds the marker file), a new or empty folder — never a file, a symbolic
    link, the working folder, or a folder that is or contains a source (docs/security.md).
    `inside_sources=False` also refuses an output folder inside a source folder (`serve`
    watches the sources: a book written there would trigger rebuilds without end).
    """
    if output.is_symlink():
        raise OutputRefused(f"{output} is a symbolic link; give the real folder (the build replaces the output "
                            "folder as a whole)")
    if output.exists() and not output.is_dir():
        raise OutputRefused(f"{output} is a file, not a folder; choose another output folder")
    resolved = output.resolve()
    for source in sources:
        where = Path(os.path.abspath(source)).resolve()
        if where == resolved or resolved in where.parents:
            raise OutputRefused(f"the output folder {output} holds the sources {source}: the build would delete "
                                "them; choose an output folder outside the sources (e.g. -o output)")
        if not inside_sources and where in resolved.parents:
            raise OutputRefused(f"the output folder {output} is inside the watched sources {source}; choose one "
                                "outside them")
    here = Path.cwd().resolve()
    if here == resolved or resolved in here.parents:
        raise OutputRefused(f"the output folder {output} is (or holds) the current folder; choose another one")
    if output.is_dir():
        _check_replaceable(output)


def _check_replaceable(output: Path) -> None:
    """The folder is empty or carries the marker of a book protocolc built (or an older protocolc's manifest)."""
    if output.is_symlink() or not output.is_dir():
        raise OutputRefused(f"{output} is not a folder protocolc made")
    if (output / MARKER).is_file() or not any(output.iterdir()) or _legacy_book(output):
        return
    raise OutputRefused(f"{output} exists and was not made by `protocolc build` (it has no {MARKER} file); the build "
                        "replaces the output folder as a whole, so choose a new or empty folder, or remove this one "
                        "yourself")


def _legacy_book(output: Path) -> bool:
    """A book built before the marker existed: its manifest names protocolc as the generator."""
    try:
        manifest = json.loads(read_limited(output / "manifest.json", 50_000_000))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and str(manifest.get("generator", "")).startswith("protocolc ")


@contextlib.contextmanager
def _build_lock(output: Path, stream: TextIO | None) -> Iterator[None]:
    """One build at a time per output folder (a lock file beside it); a second build waits."""
    lock_file = output.parent / f".{output.name}.lock"
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        with locked(lock_file, wait=False):
            yield
        return
    except Busy:
        pass
    if stream is not None:
        stream.write(f"waiting for another build into {output} to finish\n")
        stream.flush()
    with locked(lock_file):
        yield


@contextlib.contextmanager
def _progress(stream: TextIO | None, quiet: bool, total: int) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on a terminal for long runs; nothing otherwise."""
    if quiet or stream is None or not stream.isatty() or total < 20:
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("protocolc", total=total)
        yield lambda n: bar.advance(task, n)


RULE_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ rule.code }} {{ rule.name }}</title></head>
<body><main><h1>{{ rule.code }} {{ rule.name }}</h1>
<p>Severity: {{ severities | join(" or ") }}. {{ rule.summary }}.</p>
{% for para in paragraphs %}<p>{{ para }}</p>
{% endfor %}<p><a href="index.html">All rules</a></p></main></body></html>
"""

RULE_INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>protocolc rules</title></head>
<body><main><h1>protocolc rules</h1><ul>
{% for rule in rules %}<li><a href="{{ rule.code }}.html">{{ rule.code }}</a> {{ rule.name }}
 ({{ severities[rule.code] | join(" or ") }}): {{ rule.summary }}</li>
{% endfor %}</ul></main></body></html>
"""


def _write_rule_pages(output: Path) -> None:
    environment = jinja2.Environment(autoescape=True)
    page = environment.from_string(RULE_TEMPLATE)
    rules = sorted(REGISTRY.values(), key=lambda r: r.code)
    for rule in rules:
        paragraphs = [p.replace("\n", " ") for p in rule.doc.split("\n\n")]
        write_text_atomic(output / "rules" / f"{rule.code}.html",
                          page.render(rule=rule, paragraphs=paragraphs, severities=report.rule_severities(rule)))
    write_text_atomic(output / "rules" / "index.html", environment.from_string(RULE_INDEX).render(
        rules=rules, severities={rule.code: report.rule_severities(rule) for rule in rules}))
