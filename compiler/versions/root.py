"""Where a book's release register is, and its state for cache keys, without reading it.

Every `check` asks (the V rules, the recovery of an interrupted release, the result cache
key) while most books checked have no register at all; this module keeps that question
from importing the register's record types and the release transaction (`register`
re-exports these names).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
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


def find_root_of_name(name: str) -> Path | None:
    """`find_root(Path(name))`, asked with the name as it is (every check asks for its sheet:
    the same folders and stat, without building paths).
    """
    return _find_root_of(os.path.abspath(name if os.path.isdir(name) else os.path.dirname(name)))


def forget_roots() -> None:
    """Forget the registers found so far: the next search looks again (after a first release
    here, and in a long-running process, where another process may have released the book since).
    """
    _find_root_of.cache_clear()


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


def register_state(protocol: Path) -> str:
    """A fingerprint of the register and archive a protocol's V checks read ("" without a register).

    Check results depend on these files as well as on the protocol's own bytes, so a
    result cache must include this in its key.
    """
    root = find_root(protocol)
    if root is None:
        return ""
    digest = hashlib.sha256(str(root).encode())
    try:
        digest.update((root / REGISTER_NAME).read_bytes())
    except OSError:
        digest.update(b"unreadable")
    folder = root / ARCHIVE_DIR
    for extra in (folder / "HEAD", root / PENDING_DIR / "journal.json"):
        with contextlib.suppress(OSError):
            digest.update(f"{extra.name}:{extra.stat().st_mtime_ns}\n".encode())
    if folder.is_dir():
        for path in sorted(folder.glob("*/*")):
            try:
                stat = path.stat()
            except OSError:
                continue
            digest.update(f"{path.relative_to(folder).as_posix()}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
