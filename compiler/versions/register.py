"""The release register and the archive of released sources.

Layout, at the book root (the folder that holds the protocols, e.g. `protocols/`):

```
protocols/RELEASES.jsonl                      the register: one JSON record per line, append-only
protocols/.archive/<id>/<version>.protocol    the exact source of every released version
protocols/.archive/<id>/<version>.pdf         the controlled PDF of that version (when rendered)
```

The register is the only place where a version's status lives: `release` appends a
record and never rewrites the author's source file. Each record carries the SHA-256 of
the canonical JSON of the record before it (`prev`), so an edited, removed or moved
record breaks the chain at a point that can be named; `seq` numbers the records 1…n so a
gap or a swap names the record directly. The tail cannot be protected by the chain
alone: `verify_head` compares it with `.archive/HEAD` (written by every release) and
`verify_archive` cross-checks the archive (a released file without its record, or with
other bytes than recorded). Releases are written by `compiler.versions.transaction`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import asdict, field, fields
from pathlib import Path
from typing import Any

from compiler.fsutil import write_atomic
from compiler.records import frozen

# the lookups every `check` makes live in `root` (which does not import this module); named here as before
from compiler.versions.root import ARCHIVE_DIR as ARCHIVE_DIR
from compiler.versions.root import REGISTER_NAME as REGISTER_NAME
from compiler.versions.root import VERSION as VERSION
from compiler.versions.root import find_root as find_root
from compiler.versions.root import forget_roots
from compiler.versions.root import parse_version as parse_version
from compiler.versions.root import register_state as register_state

GENESIS = "0" * 64
MAX_REGISTER_BYTES = 100_000_000
MAX_ARCHIVED_BYTES = 2_000_000
MAX_PDF_BYTES = 200_000_000
RELEASED = "approved"
SUPERSEDED = "superseded"
ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@frozen
class ReleaseRecord:
    """One line of the register: a status transition of one version of one protocol."""

    seq: int
    id: str
    version: str
    from_status: str
    status: str
    sha256: str
    prev: str
    author: str
    approver: str
    approved: str
    note: str
    change_class: str
    compiler: str
    data: str
    superseded_by: str = ""
    pdf_sha256: str = ""

    def as_json(self) -> dict[str, Any]:
        """The record as a JSON object."""
        return asdict(self)

    def canonical(self) -> bytes:
        """Canonical JSON (sorted keys, no spaces, UTF-8): what the next record's `prev` hashes."""
        return canonical_json(self.as_json())

    def digest(self) -> str:
        """SHA-256 of the canonical JSON."""
        return hashlib.sha256(self.canonical()).hexdigest()

    @property
    def label(self) -> str:
        """`record 3 (borst-x 1.0 approved)` — how messages name a record."""
        return f"record {self.seq} ({self.id} {self.version} {self.status})"


def canonical_json(value: dict[str, Any]) -> bytes:
    """The one serialisation used for hashing and for writing a record."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@frozen
class RegisterProblem:
    """Why the register cannot be trusted: a line that is not a record, or a broken chain.

    `orphan` names an archived version without its record — what a release interrupted
    by a protocolc older than the release transaction left behind; `release` of exactly
    those bytes finishes it.
    """

    line: int
    message: str
    orphan: tuple[str, str] | None = None


@frozen
class Register:
    """The parsed register of one book, with the problems found while reading it."""

    root: Path
    records: tuple[ReleaseRecord, ...] = ()
    problems: tuple[RegisterProblem, ...] = ()
    lines: dict[int, int] = field(default_factory=dict)  # seq → line number

    @property
    def path(self) -> Path:
        """The register file."""
        return self.root / REGISTER_NAME

    @property
    def head(self) -> str:
        """The hash the next record must carry as `prev`."""
        return self.records[-1].digest() if self.records else GENESIS

    def of(self, protocol_id: str) -> list[ReleaseRecord]:
        """Every record of one protocol, in register order."""
        return [r for r in self.records if r.id == protocol_id]

    def status(self, protocol_id: str, version: str) -> ReleaseRecord | None:
        """The latest record of one version (its current status), or None when never recorded."""
        found = [r for r in self.records if r.id == protocol_id and r.version == version]
        return found[-1] if found else None

    def release(self, protocol_id: str, version: str) -> ReleaseRecord | None:
        """The record that released a version (status approved), or None."""
        found = [r for r in self.records if r.id == protocol_id and r.version == version and r.status == RELEASED]
        return found[-1] if found else None

    def released_versions(self, protocol_id: str) -> list[ReleaseRecord]:
        """The release records of a protocol, oldest first."""
        return [r for r in self.records if r.id == protocol_id and r.status == RELEASED]

    def latest(self, protocol_id: str) -> ReleaseRecord | None:
        """The release record of the highest released version."""
        released = self.released_versions(protocol_id)
        return max(released, key=lambda r: parse_version(r.version) or (0, 0)) if released else None

    def current(self, protocol_id: str) -> ReleaseRecord | None:
        """The release record of the version in force (released and not superseded or retired)."""
        latest = self.latest(protocol_id)
        if latest is None:
            return None
        status = self.status(protocol_id, latest.version)
        return latest if status is not None and status.status == RELEASED else None


# ---------------------------------------------------------------- finding and reading


def default_root(protocol: Path) -> Path:
    """Where a first release puts the register: an existing register's folder, else the
    nearest ancestor named `protocols`, else the protocol's own folder.
    """
    found = find_root(protocol)
    if found is not None:
        return found
    folder = Path(os.path.abspath(protocol)).parent
    for candidate in (folder, *folder.parents):
        if candidate.name == "protocols":
            return candidate
    return folder


_CACHE: dict[Path, tuple[tuple[int, int], Register]] = {}


def load_register(root: Path) -> Register:
    """Read and verify the register of a book; cached per process by path, mtime and size."""
    path = root / REGISTER_NAME
    try:
        stat = path.stat()
    except FileNotFoundError:
        return read_register(root)
    except OSError:
        return Register(root)
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _CACHE.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    register = read_register(root)
    _CACHE[path] = (key, register)
    return register


def read_register(root: Path) -> Register:
    """Parse RELEASES.jsonl and verify its hash chain (never raises on bad content)."""
    from compiler.fsutil import describe, read_limited

    path = root / REGISTER_NAME
    try:
        raw = read_limited(path, MAX_REGISTER_BYTES)
    except FileNotFoundError:
        return Register(root, problems=tuple(_lost_register(root)))
    except OSError as error:
        return Register(root, problems=(RegisterProblem(1, f"cannot read the register: {describe(error)}"),))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return Register(root, problems=(RegisterProblem(1, f"the register is not UTF-8 (byte {error.start})"),))
    records: list[ReleaseRecord] = []
    problems: list[RegisterProblem] = []
    lines: dict[int, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        record, problem = _record(line, number)
        if problem is not None:
            problems.append(problem)
            continue
        assert record is not None
        records.append(record)
        lines.setdefault(record.seq, number)
    problems.extend(verify_chain(records, lines))
    register = Register(root, tuple(records), tuple(problems), lines)
    if problems:
        return register
    pending = _pending(root)
    found = [*verify_head(register, pending), *verify_archive(register, pending)]
    return Register(root, tuple(records), tuple(found), lines)


def _pending(root: Path) -> set[str]:
    from compiler.versions.transaction import pending_digests

    return pending_digests(root)


def _lost_register(root: Path) -> Iterator[RegisterProblem]:
    """A missing RELEASES.jsonl is a problem only when the book has released something."""
    from compiler.versions.transaction import read_head

    released = sorted((root / ARCHIVE_DIR).glob("*/*.protocol")) if (root / ARCHIVE_DIR).is_dir() else []
    head = read_head(root)
    if head is not None:
        yield RegisterProblem(1, f"{REGISTER_NAME} is missing but the archive holds {len(released)} released "
                                 f"version(s) and names record {head[0]} as the last (the register was deleted?)")
        return
    for path in released:  # without HEAD this may be a first release an older protocolc left half done
        yield RegisterProblem(1, f"{REGISTER_NAME} is missing but the archive holds {path.parent.name} {path.stem} "
                                 "(the register was deleted, or its first release was interrupted: release "
                                 "that version again to finish it)", orphan=(path.parent.name, path.stem))


def verify_head(register: Register, pending: Collection[str] = ()) -> Iterator[RegisterProblem]:
    """The register still ends where `.archive/HEAD` (written by every release) says it ends.

    The hash chain cannot show that its last records were removed or the last one
    edited; HEAD, kept apart from the register, can. A register older than HEAD files
    (none) is not checked.
    """
    from compiler.versions.transaction import read_head

    head = read_head(register.root)
    if head is None:
        return
    seq, digest = head
    where = len(register.records) + 1
    if seq < 1:
        yield RegisterProblem(where, f"{ARCHIVE_DIR}/HEAD is damaged; it cannot confirm the end of the register")
    elif seq > len(register.records):
        yield RegisterProblem(where, f"the register ends at record {len(register.records)} but {ARCHIVE_DIR}/HEAD "
                                     f"names record {seq} as the last: records were removed")
    elif register.records[seq - 1].digest() != digest:
        record = register.records[seq - 1]
        yield RegisterProblem(register.lines.get(record.seq, where),
                              f"{record.label} differs from the record {ARCHIVE_DIR}/HEAD names (edited or replaced)")
    else:
        extra = [r for r in register.records[seq:] if r.digest() not in pending]
        if extra:
            yield RegisterProblem(register.lines.get(extra[0].seq, where),
                                  f"{extra[0].label} and any after it were not written by `protocolc release` "
                                  f"({ARCHIVE_DIR}/HEAD ends at record {seq})")


KNOWN_FIELDS = {f.name: f.type for f in fields(ReleaseRecord)}


def _record(line: str, number: int) -> tuple[ReleaseRecord | None, RegisterProblem | None]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        return None, RegisterProblem(number, f"line {number} is not a JSON record ({error.msg})")
    if not isinstance(data, dict):
        return None, RegisterProblem(number, f"line {number} is not a JSON object")
    unknown = sorted(set(data) - set(KNOWN_FIELDS))
    if unknown:
        return None, RegisterProblem(number, f"line {number} has unknown field `{unknown[0]}`")
    try:
        record = ReleaseRecord(**data)
    except TypeError:
        missing = sorted(k for k in KNOWN_FIELDS if k not in data and k not in ("superseded_by", "pdf_sha256"))
        return None, RegisterProblem(number, f"line {number} lacks field `{missing[0] if missing else '?'}`")
    if not isinstance(record.seq, int) or isinstance(record.seq, bool):
        return None, RegisterProblem(number, f"line {number}: `seq` is not a number")
    bad = [k for k, v in record.as_json().items() if k != "seq" and not isinstance(v, str)]
    if bad:
        return None, RegisterProblem(number, f"line {number}: `{bad[0]}` is not a string")
    return record, None


def verify_chain(records: Sequence[ReleaseRecord], lines: dict[int, int] | None = None) -> list[RegisterProblem]:
    """Check numbering and hash links; each problem names the record where the chain breaks."""
    lines = lines or {}
    problems: list[RegisterProblem] = []
    expected_prev = GENESIS
    for index, record in enumerate(records):
        line = lines.get(record.seq, index + 1)
        if record.seq != index + 1:
            if record.seq > index + 1:
                what = f"record {index + 1} is missing before {record.label} (removed?)"
            else:
                what = f"{record.label} is out of order at position {index + 1} (moved or duplicated?)"
            problems.append(RegisterProblem(line, what))
            break
        if record.prev != expected_prev:
            if index == 0:
                what = f"{record.label} does not start the chain (edited, or records before it removed)"
            else:
                what = (f"{records[index - 1].label} was edited after {record.label} was appended "
                        f"(its hash no longer matches `prev` of record {record.seq})")
            problems.append(RegisterProblem(lines.get(records[index - 1].seq, line) if index else line, what))
            break
        expected_prev = record.digest()
    return problems


# ---------------------------------------------------------------- archive


def archive_path(root: Path, protocol_id: str, version: str, suffix: str = ".protocol") -> Path:
    """Where the released source (or PDF) of one version is kept."""
    return root / ARCHIVE_DIR / protocol_id / f"{version}{suffix}"


def archived_source(root: Path, protocol_id: str, version: str) -> bytes | None:
    """The archived bytes of a released version, or None when missing (or not a regular file)."""
    from compiler.fsutil import read_limited

    try:
        return read_limited(archive_path(root, protocol_id, version), MAX_ARCHIVED_BYTES)
    except OSError:
        return None


def archived_pdf_hash(root: Path, protocol_id: str, version: str) -> str | None:
    """SHA-256 of the archived PDF of a version, or None when there is none."""
    from compiler.fsutil import read_limited

    try:
        return hashlib.sha256(read_limited(archive_path(root, protocol_id, version, ".pdf"), MAX_PDF_BYTES)).hexdigest()
    except OSError:
        return None


def verify_archive(register: Register, pending: Collection[str] = ()) -> Iterator[RegisterProblem]:
    """Released sources (and PDFs) whose archive copy is missing or differs from the register's
    hash, and archived sources without a record. Records of a release still being
    committed (`pending`) are skipped: their files are not in place yet.
    """
    seen: set[tuple[str, str]] = set()
    for record in register.records:
        if record.status != RELEASED:
            continue
        seen.add((record.id, record.version))
        if record.digest() in pending:
            continue
        data = archived_source(register.root, record.id, record.version)
        line = register.lines.get(record.seq, 1)
        if data is None:
            yield RegisterProblem(line, f"the archive lacks the source of {record.label}")
        elif hashlib.sha256(data).hexdigest() != record.sha256:
            yield RegisterProblem(line, f"the archived source of {record.label} does not match its recorded hash")
        if record.pdf_sha256:
            pdf = archived_pdf_hash(register.root, record.id, record.version)
            if pdf is None:
                yield RegisterProblem(line, f"the archive lacks the PDF of {record.label}")
            elif pdf != record.pdf_sha256:
                yield RegisterProblem(line, f"the archived PDF of {record.label} does not match its recorded hash "
                                            "(replaced or edited)")
    folder = register.root / ARCHIVE_DIR
    if folder.is_dir():
        for path in sorted(folder.glob("*/*.protocol")):
            if (path.parent.name, path.stem) not in seen:
                yield RegisterProblem(len(register.records) + 1,
                                      f"the archive holds {path.parent.name} {path.stem} but the register has no "
                                      "release record for it (a record was removed, or its release was "
                                      "interrupted: release that version again to finish it)",
                                      orphan=(path.parent.name, path.stem))


# ---------------------------------------------------------------- writing


def append(register: Register, records: Sequence[ReleaseRecord]) -> Register:
    """Append records to the register file (they must continue the chain) and return the new register.

    Only `transaction.commit` calls this, under the book's lock: the append is the commit
    point of a release.
    """
    from compiler.fsutil import read_limited

    path = register.path
    try:
        existing = read_limited(path, MAX_REGISTER_BYTES)
    except FileNotFoundError:
        existing = b""
    if existing and not existing.endswith(b"\n"):
        existing += b"\n"
    data = existing + b"".join(r.canonical() + b"\n" for r in records)
    write_atomic(path, data)
    _CACHE.pop(path, None)
    forget_roots()  # a first release creates the register a folder search may have missed
    return read_register(register.root)


def history(book_root: Path, protocol_id: str) -> list[dict[str, Any]]:
    """Every record of one protocol as JSON objects, oldest first (for the book's history page)."""
    return [r.as_json() for r in load_register(book_root).of(protocol_id)]
