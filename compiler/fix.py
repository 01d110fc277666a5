"""`check --fix`: apply the safe fixes (notation, spelling of names) to source files.

Dose and schedule suggestions are never applied. The fixes are applied until nothing is
left to fix (one fix can reveal another: `.5 mg` → `0.5 mg` → `0,5 mg` on a Dutch sheet),
so one run reaches the fixed point. The original is kept next to the file
(`<name>.protocol~`, or `<name>.protocol.~N~` when that exists: a backup is never
overwritten) and the new text is written atomically; a file that changed on disk since
it was checked is left alone.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from pathlib import Path

from compiler.diagnostics import Fix
from compiler.fsutil import write_atomic
from compiler.pipeline import Compiled, compile_text
from compiler.source import SourceFile


@dataclass(frozen=True)
class FixOutcome:
    """What `apply_safe_fixes` did to one file."""

    path: str
    applied: int
    skipped_overlapping: int
    refused: str | None = None
    backup: str | None = None


def safe_fixes(result: Compiled) -> list[Fix]:
    """The safe fixes of a file's unacknowledged findings, without duplicates."""
    seen: set[tuple[int, int, int, int, str]] = set()
    out: list[Fix] = []
    for diagnostic in result.diagnostics:
        fix = diagnostic.fix
        if fix is None or not fix.safe or diagnostic.acknowledged is not None:
            continue
        key = (fix.span.line, fix.span.column, fix.span.end_line, fix.span.end_column, fix.replacement)
        if key not in seen:
            seen.add(key)
            out.append(fix)
    return out


def fixed_text(source: SourceFile, fixes: list[Fix]) -> tuple[str, int, int]:
    """The source text with the fixes applied (later ones first); overlapping fixes are skipped."""
    text = source.text
    ranges = sorted(((source.offset(f.span.line, f.span.column), source.offset(f.span.end_line, f.span.end_column), f)
                     for f in fixes), key=lambda r: (r[0], r[1]))
    chosen: list[tuple[int, int, Fix]] = []
    skipped = 0
    last_end = -1
    for start, end, fix in ranges:
        if start < last_end:
            skipped += 1
            continue
        chosen.append((start, end, fix))
        last_end = end
    for start, end, fix in reversed(chosen):
        text = text[:start] + fix.replacement + text[end:]
    return text, len(chosen), skipped


MAX_ROUNDS = 10  # fixes never undo each other; the bound only guards against a rule that would loop


def fixed_point(result: Compiled, today: datetime.date | None = None) -> tuple[str, int, int]:
    """The text after applying safe fixes until none is left; fixes applied and overlaps skipped."""
    assert result.source is not None
    text, applied, skipped = result.source.text, 0, 0
    current = result
    for _ in range(MAX_ROUNDS):
        fixes = safe_fixes(current)
        if not fixes or current.source is None:
            break
        text, done, overlapping = fixed_text(current.source, fixes)
        applied += done
        skipped = overlapping
        if not done:
            break
        current = compile_text(result.path, text.encode("utf-8"), today)
    return text, applied, skipped


def backup_path(path: Path) -> Path:
    """`<name>~`, or the first free `<name>.~N~` (GNU numbered backups): never an existing file."""
    first = path.with_name(path.name + "~")
    if not first.exists():
        return first
    number = 1
    while (candidate := path.with_name(f"{path.name}.~{number}~")).exists():
        number += 1
    return candidate


def apply_safe_fixes(result: Compiled, today: datetime.date | None = None) -> FixOutcome:
    """Apply a file's safe fixes in place up to the fixed point, keeping a new backup; refuse if the file changed."""
    source = result.source
    if source is None:
        return FixOutcome(result.path, 0, 0, "not readable")
    if not safe_fixes(result):
        return FixOutcome(result.path, 0, 0)
    path = Path(result.path)
    current = path.read_bytes()
    if hashlib.sha256(current).hexdigest() != source.sha256:
        return FixOutcome(result.path, 0, 0, "the file changed since it was checked")
    text, applied, skipped = fixed_point(result, today)
    if "\r\n" in current.decode("utf-8", errors="replace"):
        text = text.replace("\n", "\r\n")
    backup = backup_path(path)
    write_atomic(backup, current)
    write_atomic(path, text.encode("utf-8"))
    return FixOutcome(result.path, applied, skipped, backup=str(backup))
