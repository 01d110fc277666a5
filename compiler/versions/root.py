"""Where a book's release register is, without reading it.

Every `check` asks (the V rules, the recovery of an interrupted release) while most books
checked have no register at all; this module keeps that question from importing the
register's record types and the release transaction (`register` re-exports these names).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Sequence
from pathlib import Path

REGISTER_NAME = "RELEASES.jsonl"
ARCHIVE_DIR = ".archive"
PENDING_DIR = ".release-pending"
VERSION = re.compile(r"^(\d+)\.(\d+)$")


def parse_version(text: str) -> tuple[int, int] | None:
    """`2.1` → (2, 1); None for anything else."""
    match = VERSION.match(text.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def find_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` (a file or a folder) that holds RELEASES.jsonl."""
    folder = start if start.is_dir() else start.parent
    return _find_root_of(os.path.abspath(folder))


@functools.lru_cache(maxsize=256)
def _find_root_of(folder_name: str) -> Path | None:
    folder = Path(folder_name)
    for candidate in (folder, *folder.parents):
        # an archive without its register is a lost register (found, and reported); a pending
        # folder without one is a first release that was interrupted (found, and recovered)
        if any((candidate / name).exists() for name in (REGISTER_NAME, ARCHIVE_DIR, PENDING_DIR)):
            return candidate
    return None


def recover_books(paths: Sequence[Path]) -> list[str]:
    """Recover interrupted releases in the books the paths belong to (messages for the user)."""
    roots: list[Path] = []
    for path in paths:
        with contextlib.suppress(OSError):
            root = find_root(path)
            if root is not None and root not in roots:
                roots.append(root)
    if not roots:
        return []
    from compiler.versions.transaction import recover

    return [m for m in (recover(root) for root in roots) if m]
