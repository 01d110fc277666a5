"""Atomic file writes: a temp file in the same folder, fsync, then rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """UTF-8 text version of `write_atomic`."""
    write_atomic(path, text.encode("utf-8"))


def write_staged(path: Path, data: bytes) -> None:
    """Write a file into a private staging folder: no temp file, no fsync (the folder is
    synced and swapped in as a whole; see `compiler.book`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_staged_text(path: Path, text: str) -> None:
    """UTF-8 text version of `write_staged`."""
    write_staged(path, text.encode("utf-8"))
