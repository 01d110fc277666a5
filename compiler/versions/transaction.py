"""A release as a transaction: all of it is recorded, or none of it.

A release writes archived files (the source, the controlled PDF) and appends records to
the register. Killed half-way, the old code left the archive ahead of the register: every
protocol then failed V009 and the book published nothing. Now, under an exclusive lock
on the book (`.releases.lock`, flock — released by the kernel when the holder dies):

1. `journal`  — `.release-pending/journal.json` names the records and files (atomic write);
2. `files`    — each archived file is written (and synced) into `.release-pending/`;
3. `register` — the records are appended to RELEASES.jsonl (atomic write, synced):
   **the commit point**;
4. `archive`  — the pending files are renamed into `.archive/<id>/`;
5. `head`     — `.archive/HEAD` records the last record's number and hash;
6. `done`     — the journal and the pending folder are removed.

`recover` (run by the next release, build or check) looks at a leftover journal: when
its records are in the register the release is completed (steps 4–6); otherwise it is
rolled back (the pending files are deleted; nothing was recorded). Readers that meet a
journal while a release is running ignore its not-yet-moved files.

Tests kill the process at each step: `PROTOCOLC_FAULT=<step>` makes it SIGKILL itself
when it reaches that step (see tests/hostile/test_release_transaction.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from compiler.fsutil import Busy, locked, read_limited, sync_folder, write_atomic
from compiler.records import frozen
from compiler.versions.root import PENDING_DIR
from compiler.versions.root import recover_books as recover_books  # the lookup that needs no transaction

JOURNAL = "journal.json"
LOCK_NAME = ".releases.lock"
HEAD_NAME = "HEAD"
FAULT_VARIABLE = "PROTOCOLC_FAULT"
STEPS = ("journal", "files", "register", "archive", "head", "done")
MAX_JOURNAL_BYTES = 10_000_000


def _fault(step: str) -> None:
    """Die here, as kill -9 would, when a test asks for it (never set outside tests)."""
    if os.environ.get(FAULT_VARIABLE) == step:
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def book_lock(root: Path, wait: bool = True) -> Iterator[None]:
    """The book's release lock: one release (or recovery) at a time."""
    with locked(root / LOCK_NAME, wait=wait):
        yield


class Incomplete(Exception):
    """The release was recorded (committed) but moving its files into the archive failed;
    the journal stays, and the next `recover` completes it.
    """


@frozen
class ArchivedFile:
    """A file a release adds to the archive."""

    path: Path  # final place, below the book root
    data: bytes


def commit(root: Path, records: Sequence[Any], files: Sequence[ArchivedFile]) -> None:
    """Record a release: archive `files` and append `records` (ReleaseRecord) as one transaction.

    The caller holds `book_lock(root)` and built `records` from the register as it is now.
    Raises OSError or FileExistsError before the commit point (nothing recorded, nothing
    left behind); after it, a failure leaves a journal that `recover` completes.
    """
    from compiler.versions.register import append, read_register

    pending = root / PENDING_DIR
    todo = [f for f in files if not _already_archived(f)]
    shutil.rmtree(pending, ignore_errors=True)
    pending.mkdir(parents=True)
    try:
        journal = {"records": [r.canonical().decode("utf-8") for r in records],
                   "files": [{"pending": f"{index}.part", "path": f.path.relative_to(root).as_posix(),
                              "sha256": hashlib.sha256(f.data).hexdigest()} for index, f in enumerate(todo)]}
        write_atomic(pending / JOURNAL, json.dumps(journal, ensure_ascii=False, indent=1).encode("utf-8"))
        _fault("journal")
        for index, item in enumerate(todo):
            write_atomic(pending / f"{index}.part", item.data)
        sync_folder(pending)
        _fault("files")
        register = read_register(root)
        append(register, records)
        sync_folder(root)
    except BaseException:
        shutil.rmtree(pending, ignore_errors=True)
        raise
    _fault("register")
    try:
        _finish(root, journal)
    except OSError as error:
        raise Incomplete(str(error.strerror or error)) from error


def _already_archived(item: ArchivedFile) -> bool:
    """True when the exact file is archived already; an archived file with other bytes is refused."""
    try:
        existing = read_limited(item.path, max(len(item.data), 1) + 1)
    except FileNotFoundError:
        return False
    except OSError as error:
        raise FileExistsError(f"{item.path} exists and cannot be compared ({error.strerror or error}); "
                              "the archive is never overwritten") from error
    if existing != item.data:
        raise FileExistsError(f"{item.path} exists with other content; the archive is never overwritten")
    return True


def _finish(root: Path, journal: dict[str, Any]) -> None:
    """Steps 4–6: move the pending files into the archive, write HEAD, drop the journal."""
    pending = root / PENDING_DIR
    folders: set[Path] = set()
    for item in journal["files"]:
        final = root / item["path"]
        source = pending / item["pending"]
        final.parent.mkdir(parents=True, exist_ok=True)
        if source.exists() and not final.exists():
            _move(source, final)
        folders.add(final.parent)
    for folder in folders:
        sync_folder(folder)
    _fault("archive")
    write_head(root)
    _fault("head")
    shutil.rmtree(pending, ignore_errors=True)
    sync_folder(root)
    _fault("done")


def _move(source: Path, final: Path) -> None:
    os.replace(source, final)  # one rename: the file is in the archive whole, or not at all


def write_head(root: Path) -> None:
    """Record the register's last record (number and hash) in `.archive/HEAD`."""
    from compiler.versions.register import ARCHIVE_DIR, read_register

    register = read_register(root)
    if not register.records:
        return
    head = {"seq": register.records[-1].seq, "sha256": register.head}
    folder = root / ARCHIVE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / HEAD_NAME, (json.dumps(head, sort_keys=True) + "\n").encode("utf-8"))
    sync_folder(folder)


def read_head(root: Path) -> tuple[int, str] | None:
    """(seq, hash) from `.archive/HEAD`, or None when there is none (a register older than HEAD)."""
    from compiler.versions.register import ARCHIVE_DIR

    try:
        data = json.loads(read_limited(root / ARCHIVE_DIR / HEAD_NAME, 10_000))
        return int(data["seq"]), str(data["sha256"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return (-1, "unreadable")


def read_journal(root: Path) -> dict[str, Any] | None:
    """The journal of a release in progress or interrupted, or None."""
    try:
        data = json.loads(read_limited(root / PENDING_DIR / JOURNAL, MAX_JOURNAL_BYTES))
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and isinstance(data.get("records"), list) and isinstance(data.get("files"), list)
    return data if ok else None


def pending_digests(root: Path) -> set[str]:
    """Hashes of the records a release in progress (or interrupted) is adding."""
    journal = read_journal(root)
    if journal is None:
        return set()
    return {hashlib.sha256(str(line).encode("utf-8")).hexdigest() for line in journal["records"]}


def recover(root: Path) -> str | None:
    """Complete or roll back an interrupted release; a message saying which, or None.

    Skipped (None) while another process holds the lock: a release is running.
    """
    if not (root / PENDING_DIR).exists():
        return None
    try:
        with book_lock(root, wait=False):
            return recover_locked(root)
    except Busy:
        return None
    except OSError as error:
        return f"could not recover an interrupted release in {root}: {error.strerror or error}"


def recover_locked(root: Path) -> str | None:
    """`recover` for a caller that already holds the book's lock."""
    from compiler.versions.register import read_register

    pending = root / PENDING_DIR
    if not pending.exists():
        return None
    journal = read_journal(root)
    if journal is None:
        shutil.rmtree(pending, ignore_errors=True)
        return f"removed the leftovers of a release in {root} interrupted before anything was recorded"
    what = _describe(journal)
    register = read_register(root)
    by_digest = {r.digest() for r in register.records}
    committed = bool(journal["records"]) and all(
        hashlib.sha256(str(line).encode("utf-8")).hexdigest() in by_digest for line in journal["records"])
    if not committed:
        shutil.rmtree(pending, ignore_errors=True)
        sync_folder(root)
        return (f"rolled back the release of {what}, interrupted before it was recorded: nothing was recorded; "
                "run `protocolc release` again")
    for item in journal["files"]:
        final = root / item["path"]
        part = pending / item["pending"]
        if not final.exists() and not _has_hash(part, item["sha256"]):
            return (f"cannot complete the release of {what}: {item['path']} is recorded but its pending copy is "
                    f"missing or damaged; restore {root} from version control")
    _finish(root, journal)
    return f"completed the release of {what}, interrupted after it was recorded"


def _has_hash(path: Path, sha256: str) -> bool:
    try:
        return hashlib.sha256(read_limited(path, 500_000_000)).hexdigest() == sha256
    except OSError:
        return False


def _describe(journal: dict[str, Any]) -> str:
    names: list[str] = []
    for line in journal["records"]:
        try:
            record = json.loads(line)
            names.append(f"{record['id']} {record['version']} ({record['status']})")
        except (ValueError, KeyError, TypeError):
            continue
    return ", ".join(names) or "an unknown version"
