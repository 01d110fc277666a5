"""`protocolc release FILE --approver ROLE --note "..."`: release a version.

Refuses, with diagnostics, when: any error remains; open review queries remain (X006,
raised to error); the approver is the author (V002); there is no change note (V007);
the version was not raised (V005); the raise is too small for the change (V006, from
the clinical diff against the latest released version); the review date has passed
(V004, raised to error); the register is broken (V009); a warning is neither acknowledged
in the source (`allow CODE "why"`) nor accepted with `--accept CODE "reason"` (the reason is
recorded in the register record's note and listed in the released PDF).

On success it archives the exact source (`.archive/<id>/<version>.protocol`) and the
controlled PDF (`.archive/<id>/<version>.pdf`, unless `--no-pdf`), then appends the
release record and, when an earlier version was in force, a record marking it
superseded. The author's source file is never rewritten: the status of a version lives
in the register (the PDF of the release is rendered as approved, with the approver and
date of the release).

Exit codes: 0 released, 1 refused (diagnostics printed), 2 usage or I/O error.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compiler.diagnostics import Diagnostic
    from compiler.pipeline import Compiled
    from compiler.tables import Tables

NAME = "release"
HELP = "release a version: check it, archive its source, append it to the release register"


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `release`."""
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--approver", required=True, metavar="ROLE", help="who approves (a role or committee)")
    parser.add_argument("--note", metavar="TEXT", help="what changed and why (default: the `change note:` line)")
    parser.add_argument("--book", type=Path, metavar="DIR",
                        help="the book root for RELEASES.jsonl and .archive (default: found above FILE)")
    parser.add_argument("--no-pdf", action="store_true", help="do not render the controlled PDF into the archive")
    parser.add_argument("--accept", nargs=2, action="append", default=[], metavar=("CODE", "REASON"),
                        help="accept the unacknowledged warnings of CODE at release, with a reason; the reason is "
                             "recorded in the register and listed in the released PDF (repeatable)")
    parser.add_argument("--today", type=datetime.date.fromisoformat, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Check, refuse or release."""
    from compiler import __version__, report
    from compiler import model as m
    from compiler.diagnostics import Severity, rule
    from compiler.pipeline import compile_file
    from compiler.source import Span
    from compiler.tables import load
    from compiler.versions import policy
    from compiler.versions.diff import change_class
    from compiler.versions.register import (
        RELEASED,
        SUPERSEDED,
        Register,
        ReleaseRecord,
        append,
        archive,
        archive_path,
        archived_source,
        default_root,
        read_register,
    )
    from compiler.versions.report import NotAProtocol, compare

    path: Path = args.file
    if not path.is_file():
        print(f"protocolc: no such file: {path}", file=sys.stderr)
        return 2
    today = args.today or datetime.date.today()
    approver = " ".join(args.approver.split())
    if not approver:
        print("protocolc: --approver must name a role or committee", file=sys.stderr)
        return 2
    root: Path = args.book if args.book is not None else default_root(path)
    result = compile_file(path, today)
    if result.protocol is None or result.source is None:
        report.human([result], [], sys.stdout)
        print("protocolc: release refused: the file does not build into a protocol", file=sys.stderr)
        return 1
    protocol, source = result.protocol, result.source
    meta = protocol.meta
    top = meta.fields[0].span if meta.fields else Span(result.path, 1, 1, 1, 1)
    version_span = meta.field("version").value_span if meta.field("version") else top  # type: ignore[union-attr]

    # findings that block a release but not a check: raised to errors
    diagnostics: list[Diagnostic] = []
    for d in result.diagnostics:
        if d.acknowledged is None and d.code in ("X006", "V004") and d.severity is not Severity.ERROR:
            reason = "open review queries block release" if d.code == "X006" else "the review date has passed"
            d = dataclasses.replace(d, severity=Severity.ERROR, message=f"{d.message} ({reason})")
        diagnostics.append(d)
    extra: list[Diagnostic] = []
    register = read_register(root) if (root / "RELEASES.jsonl").is_file() else None
    if register is not None and register.problems and not any(d.code == "V009" for d in diagnostics):
        for problem in register.problems:
            extra.append(rule("V009").at(top, f"release register {register.path}: {problem.message}",
                                         "restore RELEASES.jsonl and .archive from version control"))
    if meta.author is not None and " ".join(meta.author.value.lower().split()) == approver.lower():
        extra.append(rule("V002").at(meta.author.span, f"the approver `{approver}` is the author",
                                     "approval must come from another person, role or committee"))
    note = " ".join((args.note or (meta.change_note.value if meta.change_note else "")).split())
    if not note:
        extra.append(rule("V007").at(version_span, "release without a change note",
                                     "pass --note \"what changed and why\" or add a `change note:` line"))
    if meta.status in (m.Status.SUPERSEDED, m.Status.RETIRED):
        extra.append(rule("V001").at(meta.field("status").value_span if meta.field("status") else top,  # type: ignore[union-attr]
                                     f"a {meta.status.value} sheet cannot be released",
                                     "set `status:` to draft, review or approved"))
    pid = meta.id.value if meta.id else None
    version = str(meta.version) if meta.version else None
    klass = "clinical"
    previous = None
    if pid is not None and version is not None and register is not None:
        already = register.release(pid, version)
        if already is not None and already.sha256 == source.sha256:
            extra.append(rule("V005").at(version_span, f"version {version} of `{pid}` is already released "
                                         f"({already.label})", "raise the version to release a change"))
        previous = register.current(pid) or register.latest(pid)
        if previous is not None and already is None:
            old_raw = archived_source(root, pid, previous.version)
            if old_raw is not None:
                try:
                    diffed = compare(f"{pid}@{previous.version}", old_raw, str(path), path.read_bytes())
                except NotAProtocol as error:
                    print(f"protocolc: {error}", file=sys.stderr)
                    return 2
                klass = change_class(diffed.changes)
                verdict = policy(previous.version, version, diffed.changes)
                if verdict.severity == "error" and not any(d.code == verdict.code for d in diagnostics):
                    extra.append(rule(verdict.code or "V006").at(version_span, verdict.message,
                                                                 "raise the version as the policy requires"))
    diagnostics, accepted, refused_codes = _warning_gate(diagnostics, args.accept, approver)
    if refused_codes:
        print(f"protocolc: --accept needs a code and a reason: {', '.join(refused_codes)}", file=sys.stderr)
        return 2
    blocking = [d for d in diagnostics + extra if d.severity is Severity.ERROR and d.acknowledged is None]
    if blocking or pid is None or version is None:
        report.human([dataclasses.replace(result, diagnostics=tuple(diagnostics))], extra, sys.stdout)
        print(f"protocolc: release refused: {len(blocking)} problem(s) in {path}", file=sys.stderr)
        return 1

    if accepted:
        note = f"{note} [accepted at release: {'; '.join(accepted)}]"
    result = dataclasses.replace(result, diagnostics=tuple(diagnostics))
    raw = path.read_bytes()
    import hashlib

    if hashlib.sha256(raw).hexdigest() != source.sha256:
        print(f"protocolc: {path} changed while it was being released; run release again", file=sys.stderr)
        return 2
    tables = load()
    created: list[Path] = []
    pdf_sha = ""
    try:
        if not archive_path(root, pid, version).exists():
            created.append(archive(root, pid, version, raw))
        if not args.no_pdf:
            pdf = _controlled_pdf(result, approver, today, tables)
            pdf_sha = hashlib.sha256(pdf).hexdigest()
            if not archive_path(root, pid, version, ".pdf").exists():
                created.append(archive(root, pid, version, pdf, ".pdf"))
        current = register if register is not None else Register(root)
        common = {"author": meta.author.value if meta.author else "", "approver": approver,
                  "approved": today.isoformat(), "compiler": f"protocolc {__version__}", "data": tables.fingerprint}
        new = ReleaseRecord(seq=len(current.records) + 1, id=pid, version=version,
                            from_status=meta.status.value if meta.status else "draft", status=RELEASED,
                            sha256=source.sha256, prev=current.head, note=note, change_class=klass,
                            pdf_sha256=pdf_sha, **common)
        records = [new]
        in_force = current.current(pid)
        if in_force is not None and in_force.version != version:
            records.append(ReleaseRecord(seq=new.seq + 1, id=pid, version=in_force.version, from_status=RELEASED,
                                         status=SUPERSEDED, sha256=in_force.sha256, prev=new.digest(),
                                         note=f"superseded by {version}", change_class=klass, superseded_by=version,
                                         **common))
        append(current, records)
    except (OSError, ValueError) as error:
        for file in created:
            file.unlink(missing_ok=True)
        print(f"protocolc: release failed, nothing recorded: {error}", file=sys.stderr)
        return 2
    print(f"released {pid} {version} ({klass}) as record {new.seq} in {root / 'RELEASES.jsonl'}")
    if len(records) > 1:
        print(f"superseded {pid} {records[1].version} (record {records[1].seq})")
    print(f"archived {archive_path(root, pid, version)}" + ("" if args.no_pdf else " and its PDF"))
    return 0


def _warning_gate(diagnostics: list[Diagnostic], accept: list[list[str]], approver: str
                  ) -> tuple[list[Diagnostic], list[str], list[str]]:
    """Warnings block a release unless acknowledged in the source (`allow CODE "why"`) or accepted here.

    Returns the findings (accepted warnings marked acknowledged with the release's reason,
    the others raised to errors), the accepted findings as text for the register, and the
    `--accept` codes given without a reason.
    """
    from compiler.diagnostics import Severity

    reasons = {code.strip().upper(): " ".join(reason.split()) for code, reason in accept}
    empty = [code for code, reason in reasons.items() if not reason or not code]
    out: list[Diagnostic] = []
    accepted: list[str] = []
    for d in diagnostics:
        if d.severity is Severity.WARNING and d.acknowledged is None:
            reason = reasons.get(d.code)
            if reason:
                d = dataclasses.replace(d, acknowledged=f"accepted at release by {approver}: {reason}")
                accepted.append(f"{d.code} line {d.span.line}: {reason}")
            else:
                d = dataclasses.replace(d, severity=Severity.ERROR, message=f"{d.message} (an unacknowledged warning "
                                        "blocks release)", hint=f"{d.hint}; or acknowledge it under its line with "
                                        f"`allow {d.code} \"why\"`, or release with --accept {d.code} \"reason\"")
        out.append(d)
    return out, accepted, empty


def _controlled_pdf(result: Compiled, approver: str, today: datetime.date, tables: Tables) -> bytes:
    """The PDF of the released version: rendered as approved, with the release's approver and date."""
    from compiler import model as m
    from compiler.render.html import render_protocol
    from compiler.render.pdf import html_to_pdf
    from compiler.source import Span

    assert result.protocol is not None and result.source is not None
    protocol = result.protocol
    span = protocol.meta.fields[0].span if protocol.meta.fields else Span(result.path, 1, 1, 1, 1)
    meta = dataclasses.replace(protocol.meta, status=m.Status.APPROVED, approver=m.Text(approver, span), approved=today)
    compiled = dataclasses.replace(result, protocol=dataclasses.replace(protocol, meta=meta))
    html = render_protocol(compiled, tables)
    identity = {"id": meta.id.value if meta.id else "", "version": str(meta.version) if meta.version else "",
                "status": "approved", "sha256": result.source.sha256, "title": meta.title.value if meta.title else "",
                "language": meta.language or "nl"}
    return html_to_pdf(html, identity)
