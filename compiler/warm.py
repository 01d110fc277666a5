"""`check` output from per-file blocks: a warm run reads, hashes and prints.

Each file's share of the output (see `report.block`) is cached under the key of its check
result, one block file per output format, which also holds the result (its diagnostics
and summary, for the other formats and `batch.check_files`): a cold run creates one cache
file per sheet, and creating a file is the dearest thing a cold run does besides checking.
A run that finds every block reads each file, hashes it, reads its block and prints — it
imports neither the parser nor the checks nor the model. Files without a block are checked
in worker processes, which store the block file and send back only the block, the counts
and the few summary fields the book findings need. Findings about the book as a whole
(`pipeline.BookFacts`) are merged into the blocks of the files they concern.

Memory does not grow with the book: blocks and reference lines go to a temporary spool
file as they come and are copied to the output at the end; per file the parent keeps a
few bytes in arrays (where its block is, its cache key); the book facts spill to sorted
runs on disk.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import tempfile
from array import array
from collections.abc import Callable, Iterator, Sequence
from itertools import pairwise
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

from compiler import report, startup
from compiler.batch import (
    cached_entry,
    check_files,
    check_key,
    content_digest,
    default_jobs,
    entry_of,
    from_entry,
    ordered_map,
    same_text,
)
from compiler.cache import Cache, compiler_fingerprint, key_for
from compiler.fsutil import read_limited
from compiler.source import MAX_BYTES

if TYPE_CHECKING:
    from compiler.diagnostics import Diagnostic
    from compiler.pipeline import Compiled

SEVERITY_COUNT = {"error": "errors", "warning": "warnings", "info": "infos"}
# the summary fields the book findings read (P008 duplicate ids, V008 withdrawn references)
BOOK_FIELDS = ("id", "status", "references", "id_line", "id_column", "id_end_column")
COUNTS = ("errors", "warnings", "infos")
# files per worker task: a check takes milliseconds, so a larger hand-over than `batch.CHUNK` costs
# little at the end of the run (the last hand-overs are smaller, `batch.hand_over`) and saves the messages
# and the wake-ups of the pool's threads in the parent (8 % less CPU than 4 on issue 17's book; 64 against
# 16: a fifth less of the parent's CPU while the workers check)
CHECK_CHUNK = 64
# block files per shared cache file (`Cache.write_shared`): a warm run reads the whole file for each of them
PACK = 16


def _counts(diagnostics: Sequence[Diagnostic]) -> dict[str, int]:
    counts = {"errors": 0, "warnings": 0, "infos": 0}
    for d in diagnostics:
        if d.acknowledged is None:
            counts[SEVERITY_COUNT[d.severity.value]] += 1
    return counts


def _read(path: Path | str, max_bytes: int) -> bytes | None:
    """The bytes of a regular file of at most `max_bytes` (None: anything else). The type and size are
    read from the opened file, not asked of the path twice before: a system call costs more than the hash.
    """
    try:
        return read_limited(path, max_bytes)
    except OSError:  # also not a regular file, or too large
        return None


def block_file(head: dict[str, Any], diagnostics: bytes, block: bytes) -> bytes:
    """A file's cached block: its head (summary, counts), its diagnostics as JSON (the result, for the
    other formats and `check_files`), and the block itself.
    """
    return json.dumps(head).encode("utf-8") + b"\n" + diagnostics + b"\n" + block


def _records(records: Sequence[tuple[str, bytes]]) -> bytes:
    """Block files of a few sheets in one cache file (linked under each one's key): each after a
    line with its key, its length and its digest. The files are not synced to disk: after a crash
    one may hold a page of zeros where its text was, which only the digest tells apart.
    """
    return b"".join(f"{key} {len(data)} {_digest(data)}\n".encode("ascii") + data for key, data in records)


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def record_of(data: bytes, key: str) -> bytes | None:
    """The block file of `key` in a cache file of records, or None (a damaged file is a miss)."""
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        if end < 0:
            return None
        name, size, digest = [*data[start:end].split(b" "), b"", b""][:3]
        if not size.isdigit() or end + 1 + int(size) > len(data):
            return None
        start = end + 1 + int(size)
        if name == key.encode("ascii"):
            record = data[end + 1:start]
            return record if digest == _digest(record).encode("ascii") else None
    return None


def _split_block_file(data: bytes) -> tuple[dict[str, Any], bytes, bytes] | None:
    first, _, rest = data.partition(b"\n")
    diagnostics, newline, block = rest.partition(b"\n")
    if not newline:
        return None
    try:
        head = json.loads(first)
    except ValueError:
        return None
    return (head, diagnostics, block) if isinstance(head, dict) else None


def _whole(head: dict[str, Any], diagnostics: bytes, block: bytes) -> bool:
    """Whether a cached block file's head and block can be used (a damaged one is a miss)."""
    counts, summary = head.get("counts"), head.get("summary")
    if not isinstance(counts, dict) or not isinstance(summary, dict):
        return False
    if not all(isinstance(counts.get(name, 0), int) for name in COUNTS):
        return False
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def entry_of_block_file(data: bytes, key: str) -> dict[str, Any] | None:
    """The cache entry (`batch.entry_of`) that a cache file of block files holds for `key`, or None."""
    record = record_of(data, key)
    parts = _split_block_file(record) if record is not None else None
    if parts is None or not _whole(*parts):
        return None
    try:
        diagnostics = json.loads(parts[1])
    except ValueError:
        return None
    summary = parts[0].get("summary")
    if not isinstance(diagnostics, list) or not isinstance(summary, dict):
        return None
    return {"diagnostics": diagnostics, "summary": summary}


# path, today, max bytes, format, key, cache folder, digest of the bytes the key was made of
Task = tuple[str, str, int, str, "str | None", "str | None", "str | None"]
Done = tuple[tuple[int, int, int], dict[str, str], bytes, bool]  # counts, book fields, block, foreign


def _block_task(task: Task) -> Done:
    return _block_chunk([task])[0]


def _block_chunk(tasks: list[Task]) -> list[Done]:
    """Check a few files (in a worker) and store their block files in the cache, as one file linked
    under each key: what goes back to the parent is small — the counts, the book fields, the block,
    and whether a finding is about another file.
    """
    with startup.checking():
        return _check_and_store(tasks)


def _check_and_store(tasks: list[Task]) -> list[Done]:
    out: list[Done] = []
    records: list[tuple[str, bytes]] = []
    for task in tasks:
        done, record = _check_one(task)  # the result dies with the call: the next sheet's collection sees none of it
        out.append(done)
        if record is not None:
            records.append(record)
    directory, fmt = tasks[0][5], tasks[0][3]  # (one run's tasks: the same cache folder and format)
    if directory is not None:
        cache = Cache(Path(directory))
        for start in range(0, len(records), PACK):
            pack = records[start:start + PACK]
            cache.write_shared([f"{key}.{fmt}.block" for key, _ in pack], _records(pack))
    return out


def _check_one(task: Task) -> tuple[Done, tuple[str, bytes] | None]:
    """One file's outcome, and its block file to store under its key (None: nothing to store together)."""
    from compiler.pipeline import compile_file, summarize

    path, today, max_bytes, fmt, given_key, folder, digest = task
    result = compile_file(Path(path), datetime.date.fromisoformat(today), max_bytes)
    key = given_key if same_text(result, digest) else None  # saved again since the key was made: not kept
    summary, counts = summarize(result), _counts(result.diagnostics)
    fields = {k: str(summary[k]) for k in BOOK_FIELDS if k in summary}
    if any(d.span.file != result.path for d in result.diagnostics):  # printed the classic way
        if folder is not None and key is not None:
            Cache(Path(folder)).write_json(key, entry_of(result))
        return ((0, 0, 0), fields, b"", True), None
    block = report.block(fmt, result).encode("utf-8")
    record = None
    if folder is not None and key is not None:
        diagnostics = json.dumps([d.to_json() for d in result.diagnostics], ensure_ascii=False).encode("utf-8")
        record = (key, block_file({"summary": summary, "counts": counts}, diagnostics, block))
    return ((counts["errors"], counts["warnings"], counts["infos"]), fields, block, False), record


class _Spool:
    """The files' blocks, and the reference lines V008 reads, in a temporary file."""

    def __init__(self, count: int) -> None:
        try:
            self.file: IO[bytes] = tempfile.TemporaryFile()
        except OSError:  # no writable temporary folder: keep the blocks in memory, as before
            self.file = io.BytesIO()
        # where each file's block and references are (offset -1: not yet), in arrays: a few bytes per file
        self.offset, self.size, self.extra = array("q", [-1]) * count, array("q", [0]) * count, array("q", [0]) * count
        # where the next block goes, and whether the file is there: a seek flushes the file's buffer, so
        # blocks put one after another are written in buffer-sized pieces, not a system call or two each
        self.end, self.at_end = 0, True

    def has(self, index: int) -> bool:
        return self.offset[index] >= 0

    def put(self, index: int, block: bytes, extra: bytes) -> None:
        if not self.at_end:
            self.file.seek(self.end)
            self.at_end = True
        self.offset[index] = self.end
        self.size[index], self.extra[index] = len(block), len(extra)
        self.file.write(block)
        if extra:
            self.file.write(extra)
        self.end += len(block) + len(extra)

    def block(self, index: int) -> str:
        return self._read(self.offset[index], self.size[index])

    def references(self, index: int) -> str | None:
        if not self.extra[index]:
            return None
        return self._read(self.offset[index] + self.size[index], self.extra[index])

    def _read(self, offset: int, size: int) -> str:
        self.at_end = False
        self.file.seek(offset)
        return self.file.read(size).decode("utf-8")


class _Run:
    """One `check` run's state: the spool, the counts, and the book facts."""

    def __init__(self, files: Sequence[Path], fmt: str) -> None:
        from compiler.pipeline import BookFacts

        self.files, self.fmt = files, fmt
        self.spool = _Spool(len(files))
        self.counts = {"files": len(files), "errors": 0, "warnings": 0, "infos": 0}
        self.book = BookFacts()

    def add(self, index: int, counts: Sequence[int], summary: dict[str, Any], block: bytes) -> None:
        for name, value in zip(COUNTS, counts, strict=True):
            self.counts[name] += int(value)
        fields = {k: str(summary[k]) for k in BOOK_FIELDS if k in summary}
        references = fields["references"].encode("utf-8") if self.book.add(index, fields) else b""
        self.spool.put(index, block, references)

    def add_head(self, index: int, head: dict[str, Any], block: bytes) -> None:
        counts = head.get("counts") or {}
        self.add(index, [counts.get(name, 0) for name in COUNTS], dict(head.get("summary") or {}), block)


def check_document(files: Sequence[Path], today: datetime.date | None, fmt: str, *, cache: Cache | None = None,
                   jobs: int | None = None, max_bytes: int = MAX_BYTES) -> tuple[str, dict[str, int]] | None:
    """The whole `check` output in `fmt` (without colour) and its counts; None when the
    findings cannot be cut into per-file blocks (the caller prints the classic way).
    """
    stream = io.StringIO()
    counts = write_check(files, today, fmt, stream, cache=cache, jobs=jobs, max_bytes=max_bytes)
    return None if counts is None else (stream.getvalue(), counts)


def write_check(files: Sequence[Path], today: datetime.date | None, fmt: str, stream: TextIO, *,
                cache: Cache | None = None, jobs: int | None = None, max_bytes: int = MAX_BYTES) -> dict[str, int] | None:
    """Write the whole `check` output in `fmt` (without colour) to `stream` and return its counts;
    None, with nothing written, when the findings cannot be cut into per-file blocks.
    """
    today = today or datetime.date.today()
    # path order (the output's) as an array of indices; the same path twice is printed the classic way
    text = _texts(files)
    order = array("q", sorted(range(len(files)), key=text))
    if any(text(a) == text(b) for a, b in pairwise(order)):
        return None
    run = _Run(files, fmt)
    with run.spool.file:
        keys = _from_cache(run, today, cache, max_bytes)
        if not _check_misses(run, keys, today, cache, jobs, max_bytes):
            return None
        concerned: dict[int, list[Diagnostic]] = {}
        for index, d in run.book.findings(len(files), text, run.spool.references):
            concerned.setdefault(index, []).append(d)
            run.counts[SEVERITY_COUNT[d.severity.value]] += 1
        blocks = _blocks(run, order, concerned, today, cache, max_bytes)
        report.write_document(fmt, blocks, run.counts, stream, _sarif_frame(cache) if fmt == "sarif" else None)
    return run.counts


def _texts(files: Sequence[Path]) -> Callable[[int], str]:
    """`str(files[i])` as a function of `i` (a `PathList` answers without making a `Path`)."""
    from compiler.pipeline import PathList

    return files.text if isinstance(files, PathList) else lambda i: str(files[i])


class _Keys:
    """The files' cache keys and the digests of the bytes each was made of, 32 bytes each in two
    buffers (a hex string costs over 110); made when first asked for when `make` is given.
    """

    def __init__(self, count: int, make: Callable[[int], tuple[str, str] | None] | None = None) -> None:
        self.data = bytearray(32 * count)
        self.digests = bytearray(32 * count)
        self.known = bytearray(count)  # 0: not made yet, 1: made, 2: none (the file cannot be read)
        self.make = make

    def set(self, index: int, key: str, digest: str) -> None:
        self.data[32 * index:32 * index + 32] = bytes.fromhex(key)
        self.digests[32 * index:32 * index + 32] = bytes.fromhex(digest)
        self.known[index] = 1

    def of(self, index: int) -> tuple[str | None, str | None]:
        """A file's key and the digest of the bytes it was made of (None, None: the file has none)."""
        if not self.known[index]:
            made = self.make(index) if self.make is not None else None
            if made is None:
                self.known[index] = 2
            else:
                self.set(index, *made)
        if self.known[index] != 1:
            return None, None
        return self.data[32 * index:32 * index + 32].hex(), self.digests[32 * index:32 * index + 32].hex()


def _from_cache(run: _Run, today: datetime.date, cache: Cache | None, max_bytes: int) -> _Keys:
    """Spool every block the cache has (or can make from a cached result); the keys of all files."""
    if cache is None:
        return _Keys(len(run.files))
    extension = f"{run.fmt}.block"
    states: dict[str, str] = {}
    text = _texts(run.files)  # the paths as strings: no `Path` made per file to read and key it

    def key_of(index: int) -> tuple[str, str] | None:
        read = _keyed(text(index), today, max_bytes, states)
        return None if read is None else read[1:]

    if not cache.directory.is_dir():
        # no cache folder yet (a first run): nothing to look up, only the keys to store the results under,
        # made as the workers take the files rather than all before the first is checked
        return _Keys(len(run.files), key_of)
    keys = _Keys(len(run.files))
    for index in range(len(run.files)):
        read = _keyed(text(index), today, max_bytes, states)
        if read is None:
            continue
        raw, key, digest = read
        keys.set(index, key, digest)
        data = cache.read_bytes(key, extension)
        record = record_of(data, key) if data is not None else None
        parts = _split_block_file(record) if record is not None else None
        if parts is not None and _whole(*parts):
            run.add_head(index, parts[0], parts[2])
            continue
        entry = cached_entry(cache, key, run.fmt)
        if entry is not None:  # checked before, printed in another format: the block from the result
            result = from_entry(run.files[index], raw, entry)
            if any(d.span.file != result.path for d in result.diagnostics):
                continue  # checked below, which falls back to the classic output
            _add_result(run, index, result, cache, key)
    return keys


def _keyed(path: Path | str, today: datetime.date, max_bytes: int,
           states: dict[str, str]) -> tuple[bytes, str, str] | None:
    """A file's bytes, cache key and digest (None: it cannot be read)."""
    raw = _read(path, max_bytes)
    if raw is None:
        return None
    digest = content_digest(raw)
    return raw, check_key(path, digest, today, max_bytes, states), digest


def _check_misses(run: _Run, keys: _Keys, today: datetime.date, cache: Cache | None, jobs: int | None,
                  max_bytes: int) -> bool:
    """Check the files the cache could not answer for; False when one has findings outside itself."""
    missing = bytearray(not run.spool.has(i) for i in range(len(run.files)))  # a byte per file
    directory = str(cache.directory) if cache is not None else None
    day = today.isoformat()
    # the tasks are made as the workers take them: the parent never holds the whole book's
    text = _texts(run.files)
    tasks = ((text(i), day, max_bytes, run.fmt, key, directory, digest)
             for i in _indices(missing) for key, digest in (keys.of(i),))
    workers = jobs if jobs is not None else default_jobs()
    done = ordered_map(_block_task, tasks, workers, sum(missing), _block_chunk, CHECK_CHUNK)
    for index, (counts, fields, block, foreign) in zip(_indices(missing), done, strict=True):
        if foreign:
            return False
        run.add(index, counts, fields, block)
    return True


def _indices(missing: bytearray) -> Iterator[int]:
    return (i for i, miss in enumerate(missing) if miss)


def _add_result(run: _Run, index: int, result: Compiled, cache: Cache | None, key: str | None) -> None:
    from compiler.pipeline import summarize

    summary, counts = summarize(result), _counts(result.diagnostics)
    block = report.block(run.fmt, result).encode("utf-8")
    if cache is not None and key is not None:
        diagnostics = json.dumps([d.to_json() for d in result.diagnostics], ensure_ascii=False).encode("utf-8")
        record = block_file({"summary": summary, "counts": counts}, diagnostics, block)
        cache.write_bytes(key, f"{run.fmt}.block", _records([(key, record)]), durable=False)
    run.add(index, [counts[name] for name in COUNTS], summary, block)


def _blocks(run: _Run, order: Sequence[int], concerned: dict[int, list[Diagnostic]], today: datetime.date,
            cache: Cache | None, max_bytes: int) -> Iterator[str]:
    """The blocks in path order, read from the spool one at a time; a file with book findings gets a new block."""
    for index in order:
        own = concerned.get(index)
        if own is None:
            yield run.spool.block(index)
            continue
        result = check_files([run.files[index]], today, cache=cache, jobs=1, max_bytes=max_bytes)[0]
        yield report.block(run.fmt, result, own)


def _sarif_frame(cache: Cache | None) -> tuple[str, str]:
    """The SARIF frame lists every rule: cached by compiler version, so a warm run does not import the rules."""
    key = key_for(compiler_fingerprint(), "sarif-frame")
    data = cache.read_bytes(key, "json") if cache is not None else None
    if data is not None:
        try:
            head, tail = json.loads(data)
            return str(head), str(tail)
        except ValueError:
            pass
    frame = report.sarif_frame()
    if cache is not None:
        cache.write_bytes(key, "json", json.dumps(list(frame)).encode("utf-8"), durable=False)
    return frame
