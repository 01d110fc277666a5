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
    from compiler.versions.register import Register

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
    """Release under the book's lock, after completing or rolling back an interrupted release.

    The lock is held from the first read of the register to the last write, so two
    releases at once are serialised and never write the same record number.
    """
    from compiler.fsutil import Busy
    from compiler.versions.register import default_root
    from compiler.versions.transaction import book_lock

    if not args.file.is_file():
        reason = "not a regular file" if args.file.exists() else "no such file"
        print(f"protocolc: {reason}: {args.file}", file=sys.stderr)
        return 2
    root: Path = args.book if args.book is not None else default_root(args.file)
    if not root.is_dir():
        print(f"protocolc: no such book folder: {root}", file=sys.stderr)
        return 2
    try:
        try:
            with book_lock(root, wait=False):
                return _release_locked(args, root)
        except Busy:
            print(f"protocolc: waiting for another release in {root} to finish", file=sys.stderr, flush=True)
        with book_lock(root):
            return _release_locked(args, root)
    except OSError as error:
        print(f"protocolc: release failed: {error.strerror or error}", file=sys.stderr)
        return 2


def _release_locked(args: argparse.Namespace, root: Path) -> int:
    """Check, refuse or release (the caller holds the book's lock)."""
    from compiler.versions.transaction import recover_locked

    message = recover_locked(root)
    if message:
        print(f"protocolc: {message}", file=sys.stderr)
    return _release(args, root)


def _release(args: argparse.Namespace, root: Path) -> int:
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
        ARCHIVE_DIR,
        REGISTER_NAME,
        RELEASED,
        SUPERSEDED,
        Register,
        ReleaseRecord,
        archive_path,
        archived_source,
        read_register,
    )
    from compiler.versions.report import NotAProtocol, compare
    from compiler.versions.transaction import ArchivedFile, commit

    path: Path = args.file
    if not path.is_file():
        print(f"protocolc: no such file: {path}", file=sys.stderr)
        return 2
    today = args.today or datetime.date.today()
    approver = " ".join(args.approver.split())
    if not approver:
        print("protocolc: --approver must name a role or committee", file=sys.stderr)
        return 2
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
    # a missing register beside an archive is a lost register (V009), not a first release
    register = read_register(root) if (root / REGISTER_NAME).exists() or (root / ARCHIVE_DIR).is_dir() else None
    identity = (meta.id.value if meta.id else "", str(meta.version) if meta.version else "")
    if register is not None and _finishes(register, root, identity, source.sha256):
        register = dataclasses.replace(register, problems=())
        diagnostics = [d for d in diagnostics if d.code != "V009"]
        archive_path(root, *identity, ".pdf").unlink(missing_ok=True)  # never recorded: made again below
        print(f"protocolc: finishing the release of {identity[0]} {identity[1]} an earlier run left half done "
              "(its source was archived without its record)", file=sys.stderr)
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
                    diffed = compare(f"{pid}@{previous.version}", old_raw, str(path), source_bytes(path))
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
    import hashlib

    from compiler.versions.transaction import Incomplete

    raw = source_bytes(path)
    if hashlib.sha256(raw).hexdigest() != source.sha256:
        print(f"protocolc: {path} changed while it was being released; run release again", file=sys.stderr)
        return 2
    tables = load()
    pdf_sha = ""
    try:
        files = [ArchivedFile(archive_path(root, pid, version), raw)]
        if not args.no_pdf:
            pdf = _controlled_pdf(result, approver, today, tables)
            pdf_sha = hashlib.sha256(pdf).hexdigest()
            files.append(ArchivedFile(archive_path(root, pid, version, ".pdf"), pdf))
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
        commit(root, records, files)
    except Incomplete as error:
        print(f"protocolc: {pid} {version} was recorded as record {new.seq}, but archiving its files did not finish "
              f"({error}); the next release, build or check completes it", file=sys.stderr)
        return 2
    except (OSError, ValueError) as error:
        print(f"protocolc: release failed, nothing recorded: {error}", file=sys.stderr)
        return 2
    print(f"released {pid} {version} ({klass}) as record {new.seq} in {root / 'RELEASES.jsonl'}")
    if len(records) > 1:
        print(f"superseded {pid} {records[1].version} (record {records[1].seq})")
    print(f"archived {archive_path(root, pid, version)}" + ("" if args.no_pdf else " and its PDF"))
    return 0


def _finishes(register: Register, root: Path, identity: tuple[str, str], sha256: str) -> bool:
    """True when the register's only problem is this very version archived without its
    record, with these bytes: a release an older protocolc left half done (archive
    ahead of the register), which this release finishes.
    """
    import hashlib

    from compiler.versions.register import archived_source

    if not register.problems or any(p.orphan != identity for p in register.problems):
        return False
    archived = archived_source(root, *identity)
    return archived is not None and hashlib.sha256(archived).hexdigest() == sha256


def source_bytes(path: Path) -> bytes:
    """The bytes of the protocol being released (a regular file, bounded)."""
    from compiler.fsutil import read_limited
    from compiler.source import MAX_BYTES

    return read_limited(path, MAX_BYTES)


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
