"""`check --fix`: apply the safe fixes (notation, spelling of names) to source files.

Dose and schedule suggestions are never applied. The original is kept next to the file
(`<name>.protocol~`) and the new text is written atomically; a file that changed on
disk since it was checked is left alone.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from compiler.diagnostics import Fix
from compiler.fsutil import describe, read_limited, write_atomic
from compiler.pipeline import Compiled
from compiler.source import MAX_BYTES, SourceFile


@dataclass(frozen=True)
class FixOutcome:
    """What `apply_safe_fixes` did to one file."""

    path: str
    applied: int
    skipped_overlapping: int
    refused: str | None = None


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


def apply_safe_fixes(result: Compiled) -> FixOutcome:
    """Apply a file's safe fixes in place, keeping a backup; refuse if the file changed meanwhile."""
    source = result.source
    if source is None:
        return FixOutcome(result.path, 0, 0, "not readable")
    fixes = safe_fixes(result)
    if not fixes:
        return FixOutcome(result.path, 0, 0)
    path = Path(result.path)
    if path.is_symlink():  # never replace a link by a plain file, nor write where it points
        return FixOutcome(result.path, 0, 0, "it is a symbolic link; fix the file it points to")
    try:
        current = read_limited(path, MAX_BYTES)
        if hashlib.sha256(current).hexdigest() != source.sha256:
            return FixOutcome(result.path, 0, 0, "the file changed since it was checked")
        text, applied, skipped = fixed_text(source, fixes)
        if "\r\n" in current.decode("utf-8", errors="replace"):
            text = text.replace("\n", "\r\n")
        mode = stat.S_IMODE(os.stat(path).st_mode)
        write_atomic(path.with_name(path.name + "~"), current, mode=mode)
        write_atomic(path, text.encode("utf-8"))
    except OSError as error:
        return FixOutcome(result.path, 0, 0, describe(error))
    return FixOutcome(result.path, applied, skipped)
