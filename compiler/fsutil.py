"""File system primitives: bounded reads of regular files, atomic writes, advisory locks.

Every file protocolc opens on a user's behalf (protocols, book.yaml, the register, PDFs
to verify, manifests) is read through `read_limited`: it opens without blocking, refuses
anything that is not a regular file (a FIFO would hang, /dev/zero would never end) and
reads at most a byte limit from the opened file — never trusting `st_size`, which a
device or a growing file does not honour. See docs/security.md.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

READ_CHUNK = 1 << 16


class NotRegularFile(OSError):
    """The path names a folder, FIFO, device or socket, not a regular file."""

    def __init__(self, path: Path | str, kind: str) -> None:
        super().__init__(errno.EINVAL, f"not a regular file ({kind})", str(path))
        self.kind = kind


class TooLarge(OSError):
    """The file holds more bytes than the caller's limit."""

    def __init__(self, path: Path | str, limit: int) -> None:
        super().__init__(errno.EFBIG, f"larger than {limit:,} bytes", str(path))
        self.limit = limit


def file_kind(mode: int) -> str:
    """A word for the type of a file (for messages)."""
    for test, word in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return word
    return "a special file"


def read_limited(path: Path | str, limit: int) -> bytes:
    """The bytes of a regular file, at most `limit` of them.

    Raises `NotRegularFile` (folder, FIFO, device, socket), `TooLarge` (more than
    `limit` bytes were there to read) or another `OSError`. The type is checked on the
    opened descriptor, so a path swapped between a check and the open cannot slip through.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, file_kind(mode))
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(descriptor, min(READ_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise TooLarge(path, limit)
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def describe(error: OSError) -> str:
    """A short reason for a failed read or write (no errno numbers, no tracebacks)."""
    return str(error.strerror or error)


def _new_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, data: bytes, *, private: bool = False, mode: int | None = None) -> None:
    """Write `data` to `path` so readers see the old file or the new one, never half of one.

    The new file keeps the mode of the file it replaces (a new file gets the usual
    umask mode; `private` ones — the cache — stay 0600; `mode` overrides both, e.g. a
    backup takes its original's mode). A symbolic link at `path` is refused rather than
    silently replaced by a plain file (docs/security.md).
    """
    if path.is_symlink():
        raise NotRegularFile(path, "a symbolic link; edit the file it points to")
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            mode = 0o600 if private else _new_file_mode()
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fchmod(stream.fileno(), mode)
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """UTF-8 text version of `write_atomic`."""
    write_atomic(path, text.encode("utf-8"))


def sync_folder(folder: Path) -> None:
    """Sync a folder to disk, so a rename or a new file in it survives a crash."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def write_staged(path: Path, data: bytes) -> None:
    """Write a file into a private staging folder: no temp file, no fsync (the folder is
    synced and swapped in as a whole; see `compiler.book`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_staged_text(path: Path, text: str) -> None:
    """UTF-8 text version of `write_staged`."""
    write_staged(path, text.encode("utf-8"))


class Busy(Exception):
    """Another protocolc process holds the lock (raised only when not waiting)."""


@contextlib.contextmanager
def locked(lock_file: Path, *, wait: bool = True) -> Iterator[None]:
    """An exclusive advisory lock (flock) on `lock_file`, created if needed, held for the block.

    The kernel releases it when the process dies, so a killed holder never leaves a
    stale lock behind.
    """
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as error:
            raise Busy(str(lock_file)) from error
        yield
    finally:
        os.close(descriptor)
