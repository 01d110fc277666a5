"""`check` output from per-file blocks: a warm run reads, hashes and prints.

Each file's share of the output (see `report.block`) is cached next to its check result,
under the same key, one block per output format. A run that finds every block reads
each file, hashes it, reads its block and prints — it imports neither the parser nor
the checks nor the model. Files without a block are checked (in worker processes, which
send back the block, not the result) and their blocks stored. Findings about the book as
a whole (`book_diagnostics`) are merged into the blocks of the files they concern.

Memory does not grow with the book: blocks go to a temporary spool file as they come and
are copied to the output at the end, and of each file only the few summary fields the
book findings need are kept.
"""

from __future__ import annotations

import datetime
import io
import json
import tempfile
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

from compiler import report
from compiler.batch import check_files, check_key, default_jobs, entry_of, from_entry, ordered_map
from compiler.cache import Cache, compiler_fingerprint, key_for
from compiler.source import MAX_BYTES

if TYPE_CHECKING:
    from compiler.diagnostics import Diagnostic
    from compiler.pipeline import Compiled

SEVERITY_COUNT = {"error": "errors", "warning": "warnings", "info": "infos"}
# the summary fields `book_diagnostics` reads (P008 duplicate ids, V008 withdrawn references)
BOOK_FIELDS = ("id", "status", "references", "id_line", "id_column", "id_end_column")


def _counts(diagnostics: Sequence[Diagnostic]) -> dict[str, int]:
    counts = {"errors": 0, "warnings": 0, "infos": 0}
    for d in diagnostics:
        if d.acknowledged is None:
            counts[SEVERITY_COUNT[d.severity.value]] += 1
    return counts


def _read(path: Path, max_bytes: int) -> bytes | None:
    try:
        return path.read_bytes() if path.is_file() and path.stat().st_size <= max_bytes else None
    except OSError:
        return None


def _block_task(task: tuple[str, str, int, str]) -> dict[str, Any]:
    """Check one file (in a worker): its cache entry, output block, block head, and whether it is self-contained."""
    from compiler.pipeline import compile_file, summarize

    path, today, max_bytes, fmt = task
    result = compile_file(Path(path), datetime.date.fromisoformat(today), max_bytes)
    return {"entry": entry_of(result), "block": report.block(fmt, result),
            "head": {"summary": summarize(result), "counts": _counts(result.diagnostics)},
            "foreign": any(d.span.file != result.path for d in result.diagnostics)}


class _Spool:
    """The files' blocks (and the cache entries of those checked in this run) in a temporary file."""

    def __init__(self, count: int) -> None:
        try:
            self.file: IO[bytes] = tempfile.TemporaryFile()
        except OSError:  # no writable temporary folder: keep the blocks in memory, as before
            self.file = io.BytesIO()
        # where each file's block is (offset -1: not yet), in arrays: a few bytes per file
        self.offset, self.size, self.extra = array("q", [-1]) * count, array("q", [0]) * count, array("q", [0]) * count

    def has(self, index: int) -> bool:
        return self.offset[index] >= 0

    def put(self, index: int, block: str, entry: dict[str, Any] | None) -> None:
        data = block.encode("utf-8")
        extra = json.dumps(entry, ensure_ascii=False).encode("utf-8") if entry is not None else b""
        self.offset[index] = self.file.seek(0, io.SEEK_END)
        self.size[index], self.extra[index] = len(data), len(extra)
        self.file.write(data + extra)

    def _read(self, index: int) -> tuple[bytes, bytes]:
        self.file.seek(self.offset[index])
        data = self.file.read(self.size[index] + self.extra[index])
        return data[:self.size[index]], data[self.size[index]:]

    def block(self, index: int) -> str:
        return self._read(index)[0].decode("utf-8")

    def entry(self, index: int) -> dict[str, Any] | None:
        extra = self._read(index)[1]
        return dict(json.loads(extra)) if extra else None


class _Run:
    """One `check` run's state: the spool, the counts, and each file's book-finding fields."""

    def __init__(self, files: Sequence[Path], fmt: str) -> None:
        self.files, self.fmt = files, fmt
        self.spool = _Spool(len(files))
        self.counts = {"files": len(files), "errors": 0, "warnings": 0, "infos": 0}
        self.book: list[dict[str, str]] = [{} for _ in files]

    def add(self, index: int, head: dict[str, Any], block: str, entry: dict[str, Any] | None = None) -> None:
        for name, value in (head.get("counts") or {}).items():
            self.counts[name] += int(value)
        summary = dict(head.get("summary") or {})
        self.book[index] = {k: str(summary[k]) for k in BOOK_FIELDS if k in summary}
        self.spool.put(index, block, entry)


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
    paths = [str(p) for p in files]
    if len(set(paths)) != len(paths):
        return None
    run = _Run(files, fmt)
    with run.spool.file:
        keys = _from_cache(run, today, cache, max_bytes)
        if not _check_misses(run, keys, today, cache, jobs, max_bytes):
            return None
        from compiler.pipeline import Compiled, book_diagnostics

        extra = book_diagnostics([Compiled(p, None, None, (), fields) for p, fields in zip(paths, run.book, strict=True)])
        for name, value in _counts(extra).items():
            run.counts[name] += value
        where = {p: i for i, p in enumerate(paths)}
        if any(d.span.file not in where for d in extra):
            return None
        concerned: dict[int, list[Diagnostic]] = {}
        for d in extra:
            concerned.setdefault(where[d.span.file], []).append(d)
        order = sorted(range(len(paths)), key=paths.__getitem__)
        blocks = _blocks(run, order, concerned, today, cache, max_bytes)
        report.write_document(fmt, blocks, run.counts, stream, _sarif_frame(cache) if fmt == "sarif" else None)
    return run.counts


def _from_cache(run: _Run, today: datetime.date, cache: Cache | None, max_bytes: int) -> list[str | None]:
    """Spool every block the cache has (or can make from a cached result); the keys of all files."""
    keys: list[str | None] = [None] * len(run.files)
    if cache is None:
        return keys
    extension = f"{run.fmt}.block"
    states: dict[str, str] = {}
    for index, path in enumerate(run.files):
        raw = _read(path, max_bytes)
        if raw is None:
            continue
        keys[index] = key = check_key(path, raw, today, max_bytes, states)
        data = cache.read_bytes(key, extension)
        if data is not None:
            first, _, body = data.partition(b"\n")
            try:
                head, block = json.loads(first), body.decode("utf-8")
            except ValueError:
                pass
            else:
                run.add(index, head, block)
                continue
        entry = cache.read_json(key)
        if entry is not None:  # checked before, printed in another format: the block from the result
            result = from_entry(path, raw, entry)
            if any(d.span.file != result.path for d in result.diagnostics):
                continue  # checked below, which falls back to the classic output
            _add_result(run, index, result, cache, key)
    return keys


def _check_misses(run: _Run, keys: list[str | None], today: datetime.date, cache: Cache | None, jobs: int | None,
                  max_bytes: int) -> bool:
    """Check the files the cache could not answer for; False when one has findings outside itself."""
    misses = [i for i in range(len(run.files)) if not run.spool.has(i)]
    tasks = [(str(run.files[i]), today.isoformat(), max_bytes, run.fmt) for i in misses]
    workers = jobs if jobs is not None else default_jobs()
    for index, done in zip(misses, ordered_map(_block_task, tasks, workers), strict=True):
        if done["foreign"]:
            return False
        stored = keys[index]
        if cache is not None and stored is not None:
            cache.write_json(stored, done["entry"])
            _store_block(cache, stored, run.fmt, done["head"], done["block"])
        run.add(index, done["head"], done["block"], done["entry"])
    return True


def _add_result(run: _Run, index: int, result: Compiled, cache: Cache | None, key: str | None) -> None:
    from compiler.pipeline import summarize

    head = {"summary": summarize(result), "counts": _counts(result.diagnostics)}
    block = report.block(run.fmt, result)
    if cache is not None and key is not None:
        _store_block(cache, key, run.fmt, head, block)
    run.add(index, head, block)


def _store_block(cache: Cache, key: str, fmt: str, head: dict[str, Any], block: str) -> None:
    cache.write_bytes(key, f"{fmt}.block", json.dumps(head).encode("utf-8") + b"\n" + block.encode("utf-8"), durable=False)


def _blocks(run: _Run, order: list[int], concerned: dict[int, list[Diagnostic]], today: datetime.date,
            cache: Cache | None, max_bytes: int) -> Iterator[str]:
    """The blocks in path order, read from the spool one at a time; a file with book findings gets a new block."""
    for index in order:
        own = concerned.get(index)
        if own is None:
            yield run.spool.block(index)
            continue
        path = run.files[index]
        entry = run.spool.entry(index)
        if entry is not None:
            result = from_entry(path, _read(path, max_bytes), entry)
        else:
            result = check_files([path], today, cache=cache, jobs=1, max_bytes=max_bytes)[0]
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
