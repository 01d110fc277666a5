"""V: versions and releases — the release register (RELEASES.jsonl) against the source.

These checks find the register by walking up from the protocol file to the folder that
holds `RELEASES.jsonl` (the book root); without one they do nothing. The register is
read once per process (cached by path, mtime and size). Archived copies
(`.archive/<id>/<version>.protocol`) are not checked against the register: they are
what the register describes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from compiler import model as m
from compiler.checks import Context
from compiler.diagnostics import Diagnostic, Related, Severity, check
from compiler.source import Span
from compiler.versions.root import ARCHIVE_DIR, find_root_of_name, parse_version

if TYPE_CHECKING:  # the register is read (and its module imported) only in a book that has one
    from compiler.versions.register import Register


def _register(context: Context) -> Register | None:
    """The book's register, found and read once per check run (four rules ask)."""
    return context.shared(_find_register)


def _find_register(context: Context) -> Register | None:
    name = context.source.path
    if ARCHIVE_DIR in name and ARCHIVE_DIR in Path(name).parts:
        return None
    root = find_root_of_name(name)
    if root is None:
        return None
    from compiler.versions.register import load_register

    return load_register(root)


def _version_span(context: Context) -> Span:
    line = context.protocol.meta.field("version") or context.protocol.meta.field("id")
    if line is not None:
        return line.value_span
    return Span(context.source.path, 1, 1, 1, 1)


def _identity(context: Context) -> tuple[str, str] | None:
    meta = context.protocol.meta
    if meta.id is None or meta.version is None:
        return None
    return meta.id.value, str(meta.version)


def _register_path(register: Register) -> str:
    try:
        return str(register.path.relative_to(Path.cwd()))
    except ValueError:
        return str(register.path)


@check("V005", "released-version-changed", Severity.ERROR, "released version changed without a new version number")
def released_version_changed(context: Context) -> Iterator[Diagnostic]:
    """What it checks: when the book's release register (`RELEASES.jsonl`) records this
    protocol's version as released, the file's SHA-256 must still be the recorded one;
    and a version that was never released must not be lower than the highest released one.

    Why it matters: a released version is what the committee approved and what is
    printed on the wards. Changing a single byte of it without a new version number makes
    two different sheets carry the same identity, and nobody holding a copy can tell.

    Example: `version: 1.0` released, then `2,5 mg` edited to `25 mg` in the same file.

    Use instead: raise the version (`version: 2.0` for a clinical change, `1.1` for an
    editorial one), write a `change note:`, and release it with `protocolc release`; or
    restore the released text from `.archive/<id>/<version>.protocol`.

    Source: ISO 9001:2015 §7.5.3.2 (control of changes, retention of documented information).
    """
    register = _register(context)
    identity = _identity(context)
    if register is None or identity is None:
        return
    pid, version = identity
    record = register.release(pid, version)
    if record is not None:
        if record.sha256 != context.source.sha256:
            line = register.lines.get(record.seq, 1)
            yield released_version_changed.at(
                _version_span(context), f"version {version} of `{pid}` was released with another text "
                f"(sha256 {record.sha256[:12]}…, {record.label}); this file has sha256 {context.source.sha256[:12]}…",
                "raise the version and release it, or restore the released text from the archive",
                related=(Related(Span(_register_path(register), line, 1, line, 1), f"{record.label}"),))
        return
    latest = register.latest(pid)
    ours, theirs = parse_version(version), parse_version(latest.version) if latest else None
    if latest is not None and ours is not None and theirs is not None and ours < theirs:
        yield released_version_changed.at(
            _version_span(context), f"version {version} is below the released {latest.version} of `{pid}`",
            f"a new version must be above {latest.version}")


@check("V006", "version-raise-too-small", Severity.ERROR, "version raise does not fit the change")
def version_raise(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a new version of a released protocol is compared with the latest
    released version (from the archive) by the clinical diff; a clinical change (drug,
    dose, unit, route, schedule, infusion, condition, branch, regimen, fractionation)
    needs a major version raise (1.3 → 2.0): with only a minor raise it is an error. An
    editorial change (text, titles, brand, metadata) needs a minor raise; a major raise
    for editorial changes only is reported as info.

    Why it matters: the version number tells the ward whether the treatment changed. A
    dose change hidden in a "1.1" is read as a typo fix and not re-trained.

    Example: released 1.0 with `letrozole 2,5 mg`; the file now says `version: 1.1` and
    `letrozole 25 mg`.

    Use instead: `version: 2.0` (and a change note saying what changed clinically).

    Source: ISO 9001:2015 §7.5.3.2; local document-control policy (major = clinical, minor = editorial).
    """
    register = _register(context)
    identity = _identity(context)
    if register is None or identity is None:
        return
    pid, version = identity
    latest = register.latest(pid)
    ours = parse_version(version)
    if latest is None or ours is None or register.release(pid, version) is not None:
        return
    theirs = parse_version(latest.version)
    if theirs is None or ours <= theirs:
        return
    from compiler.versions import model_of, policy
    from compiler.versions.diff import diff_protocols
    from compiler.versions.register import archived_source

    raw = archived_source(register.root, pid, latest.version)
    old = model_of(f"{pid}@{latest.version}", raw) if raw is not None else None
    if old is None:
        return  # V009 reports the missing or broken archive
    changes = diff_protocols(old, context.protocol, context.tables)
    verdict = policy(latest.version, version, changes)
    if verdict.code == "V006":
        first = next((c for c in changes if c.change_class == "clinical"), changes[0] if changes else None)
        detail = f" (e.g. {first.text})" if first is not None else ""
        severity = Severity.INFO if verdict.severity == "info" else Severity.ERROR
        hint = (f"use version {ours[0] + 1 if ours[0] == theirs[0] else ours[0]}.0" if severity is Severity.ERROR
                else f"a minor raise ({theirs[0]}.{theirs[1] + 1}) is enough for editorial changes")
        yield version_raise.at(_version_span(context), verdict.message + detail, hint, severity=severity)


@check("V007", "change-note-missing", Severity.ERROR, "release without change note")
def change_note_missing(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a new version of a released protocol that states `status: approved`
    has a `change note:` saying what changed and why. `protocolc release` refuses a
    release without a change note (from `--note` or the `change note:` line).

    Why it matters: readers and auditors must see what changed between versions without
    comparing texts; the note goes into the release register and onto the sheet.

    Example: released 1.0; the file says `version: 1.1`, `status: approved` and has no
    `change note:`.

    Use instead: `change note: Dosis letrozol gecorrigeerd naar 2,5 mg (SmPC).`

    Source: ISO 9001:2015 §7.5.3.2 (control of changes).
    """
    register = _register(context)
    identity = _identity(context)
    meta = context.protocol.meta
    if register is None or identity is None or meta.status != m.Status.APPROVED:
        return
    pid, version = identity
    if register.latest(pid) is None or register.release(pid, version) is not None:
        return
    if meta.change_note is None or not meta.change_note.value.strip():
        yield change_note_missing.at(_version_span(context), f"version {version} has no change note",
                                     "add `change note: …` (what changed since the released version, and why)")


@check("V009", "release-register-broken", Severity.ERROR, "release register broken or edited")
def register_broken(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the book's release register (`RELEASES.jsonl`) is intact: every
    line is a record, records are numbered 1…n in order, each record's `prev` is the
    SHA-256 of the canonical JSON of the record before it (a hash chain), every
    released version's archived source (`.archive/<id>/<version>.protocol`) and
    controlled PDF exist and match their recorded hashes, the register still ends at
    the record `.archive/HEAD` names (so a removed or edited last record is seen), and
    RELEASES.jsonl exists when the archive holds releases. Every protocol of the book
    reports a broken register.

    Why it matters: the register is the evidence of what was approved, by whom and when.
    An edited, removed or reordered record breaks the chain; a release cannot be trusted
    (or made) until the register is restored, e.g. from version control.

    Example: a record's `note` or `sha256` edited by hand, a line deleted, RELEASES.jsonl
    deleted, a PDF copied over `.archive/<id>/<version>.pdf`.

    Use instead: never edit RELEASES.jsonl; restore it from git and let
    `protocolc release` append new records.

    Source: ISO 9001:2015 §7.5.3.2 (protection from unintended alteration); EU GMP Annex 11 §9 (audit trail).
    """
    register = _register(context)
    if register is None or not register.problems:
        return
    meta = context.protocol.meta
    line = meta.field("id")
    span = line.value_span if line is not None else Span(context.source.path, 1, 1, 1, 1)
    where = _register_path(register)
    for problem in register.problems:
        yield register_broken.at(span, f"release register {where}: {problem.message}",
                                 "restore RELEASES.jsonl (and .archive) from version control; never edit them by hand",
                                 related=(Related(Span(where, problem.line, 1, problem.line, 1), problem.message),))
