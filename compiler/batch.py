"""Checking many files: content-hash cache and process parallelism.

Results come back in input order whatever the scheduling. A result taken from the
cache, or computed in a worker process, carries its diagnostics and a summary of the
protocol (id, title, version, …) but not the model itself: the model is only needed
to render, and rendering compiles again where it has to.

Worker processes are forked after this process has compiled the first file itself: they
inherit the imported parser, checks and tables (and the lexers the first file built)
instead of each loading them again, and tasks are handed out a few files at a time with
only a bounded number in flight, so a book of any size costs the same per file.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from compiler.cache import Cache, compiler_fingerprint, keyed_by
from compiler.fsutil import read_limited
from compiler.source import MAX_BYTES, SourceFile

if TYPE_CHECKING:
    from concurrent.futures import Future  # (the pool's module is imported only when a book needs one)

    from compiler.overrides import FormularyOverride
    from compiler.pipeline import Compiled

PARALLEL_THRESHOLD = 16  # below this, starting worker processes costs more than it saves
CHUNK = 4  # files per task: small enough to balance the last tasks, large enough to amortise the hand-over
IN_FLIGHT = 4  # tasks queued per worker: the parent never holds the whole book's tasks or results

BLOCK_FORMATS = ("json", "human", "sarif")  # `check --format`: each stores its block file under a result's key

Task = TypeVar("Task")
Result = TypeVar("Result")


def default_jobs() -> int:
    """One worker per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def content_digest(raw: bytes) -> str:
    """The digest of a file's bytes, as in its cache key and in `SourceFile.sha256`."""
    return hashlib.sha256(raw).hexdigest()


def same_text(result: Compiled, digest: str | None) -> bool:
    """The result is of the very bytes the key was made of: a file saved again between the
    read that made the key and the compile would otherwise leave the new text's findings
    under the old text's key (and an undo would be answered with them).
    """
    return digest is not None and result.source is not None and result.source.sha256 == digest


def check_key(path: Path | str, digest: str, today: datetime.date, max_bytes: int,
              states: dict[str, str] | None = None) -> str:
    """The cache key of one file's check result, from the digest of its bytes (`states`: the
    register states read so far in this run, by folder).
    """
    from compiler.overrides import active_fingerprint
    from compiler.versions.root import register_state

    # the V checks also read the book's release register and archive (RELEASES.jsonl, .archive/);
    # the state depends on the file's folder only, so a run reads it once per folder
    name = str(path)
    folder = os.path.dirname(name)  # (a key of `states` only: no `Path` made per file)
    state = states.get(folder) if states is not None else None
    if state is None:
        state = register_state(Path(name))  # (once per folder)
        if states is not None:
            states[folder] = state
    return _check_keys(compiler_fingerprint(), today.isoformat(), str(max_bytes), state, active_fingerprint())(name, digest)


# the key function of a run's common parts: a book's files share all but their path and digest
_check_keys = functools.lru_cache(maxsize=16)(keyed_by)


def entry_of(result: Compiled) -> dict[str, Any]:
    """What the cache keeps of a result: its diagnostics and the protocol's summary."""
    from compiler.pipeline import summarize

    return {"diagnostics": [d.to_json() for d in result.diagnostics], "summary": summarize(result)}


def cached_entry(cache: Cache, key: str, tried: str = "") -> dict[str, Any] | None:
    """A file's cached result: its entry, or the one a `check` block file holds (`warm.block_file`);
    `tried`: a format whose block file the caller found missing or damaged.
    """
    entry = cache.read_json(key)
    if entry is not None:
        return entry
    from compiler.warm import entry_of_block_file

    for fmt in (f for f in BLOCK_FORMATS if f != tried):
        data = cache.read_bytes(key, f"{fmt}.block")
        entry = entry_of_block_file(data, key) if data is not None else None
        if entry is not None:
            return entry
    return None


def from_entry(path: Path, raw: bytes | None, entry: dict[str, Any]) -> Compiled:
    """A result (without its model) from a cache entry and the file's bytes."""
    from compiler.diagnostics import diagnostic_from_json
    from compiler.pipeline import Compiled

    source = None
    if raw is not None:
        try:
            source = SourceFile.from_text(str(path), raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n"), raw)
        except UnicodeDecodeError:
            source = None
    diagnostics = tuple(diagnostic_from_json(d) for d in entry["diagnostics"])
    return Compiled(str(path), source, None, diagnostics, dict(entry.get("summary") or {}))


def _worker(task: tuple[str, str, int, str | None]) -> tuple[dict[str, Any], bool]:
    """The cache entry of one file, and whether it is of the bytes the key was made of."""
    from compiler.pipeline import compile_file

    path, today, max_bytes, digest = task
    result = compile_file(Path(path), datetime.date.fromisoformat(today), max_bytes)
    return entry_of(result), same_text(result, digest)


def _start_worker(overrides: Sequence[FormularyOverride]) -> None:
    """A worker of `ordered_map`: the book's formulary overrides, and the collector set for its life of batches."""
    from compiler import startup
    from compiler.overrides import use_overrides

    startup.worker()
    use_overrides(overrides)


def _run_chunk(work: Callable[[Task], Result], tasks: list[Task]) -> list[Result]:
    return [work(task) for task in tasks]


def ordered_map(work: Callable[[Task], Result], tasks: Iterable[Task], jobs: int, count: int | None = None,
                chunk_work: Callable[[list[Task]], list[Result]] | None = None, chunk: int = CHUNK) -> Iterator[Result]:
    """`work` over `tasks`, results in task order: in this process when there are few, else in `jobs` workers.

    `work` must be a module-level function (it is sent to the workers by name). `tasks` are
    taken as they are handed out; `count`: how many there are, when `tasks` has no length.
    `chunk_work`: a module-level function doing `work` for a few tasks at once (up to `chunk`).
    """
    total = count if count is not None else len(tasks) if isinstance(tasks, Sized) else None
    if total is None:
        tasks = list(tasks)
        total = len(tasks)
    feed = iter(tasks)
    if jobs <= 1 or total < PARALLEL_THRESHOLD:
        if chunk_work is None:
            yield from map(work, feed)
            return
        while few := list(islice(feed, chunk)):
            yield from chunk_work(few)
        return
    # the first file here: imports, tables, parser and lexers are then inherited by the forked workers
    first = next(feed)
    yield from chunk_work([first]) if chunk_work is not None else [work(first)]
    import gc

    from compiler.overrides import active_overrides
    from compiler.workers import pool

    # the imported modules and tables live as long as the process: out of the collector's sight in the
    # workers, which then neither traverse them nor copy the pages they sit on
    gc.freeze()
    size = max(1, min(chunk, (total - 1) // (jobs * IN_FLIGHT)))
    left = total - 1
    with pool(jobs, _start_worker, (active_overrides(),)) as executor:
        pending: deque[Future[list[Result]]] = deque()

        def submit() -> None:
            nonlocal left
            few = list(islice(feed, hand_over(left, size, jobs)))
            left -= len(few)
            if few:
                pending.append(executor.submit(chunk_work, few) if chunk_work is not None
                               else executor.submit(_run_chunk, work, few))

        for _ in range(jobs * IN_FLIGHT):
            submit()
        while pending:
            done = pending.popleft().result()
            submit()
            yield from done


def hand_over(left: int, size: int, jobs: int) -> int:
    """How many of the `left` tasks the next hand-over takes: `size`, then fewer towards the end
    (guided scheduling), so that the workers finish together instead of one idling while the
    other checks a last full chunk.
    """
    return max(1, min(size, left // (2 * jobs)))


def check_files(files: Sequence[Path], today: datetime.date | None = None, *, cache: Cache | None = None,
                jobs: int | None = None, max_bytes: int = MAX_BYTES,
                progress: Callable[[int], None] | None = None) -> list[Compiled]:
    """Check files, taking unchanged results from the cache and the rest in parallel."""
    today = today or datetime.date.today()
    results: list[Compiled | None] = [None] * len(files)
    raws: list[bytes | None] = []
    keys: list[str | None] = []
    digests: list[str | None] = []
    misses: list[int] = []
    states: dict[str, str] = {}
    for index, path in enumerate(files):
        try:
            raw: bytes | None = read_limited(path, max_bytes)
        except OSError:  # not a regular file, too large, unreadable: compiled below, which reports why
            raw = None
        raws.append(raw)
        digest = content_digest(raw) if raw is not None else None
        digests.append(digest)
        key = check_key(path, digest, today, max_bytes, states) if digest is not None and cache is not None else None
        keys.append(key)
        entry = cached_entry(cache, key) if cache is not None and key is not None else None
        if entry is not None and raw is not None:
            results[index] = from_entry(path, raw, entry)
            if progress:
                progress(1)
        else:
            misses.append(index)
    workers = jobs if jobs is not None else default_jobs()
    if workers > 1 and len(misses) >= PARALLEL_THRESHOLD:
        tasks = [(str(files[i]), today.isoformat(), max_bytes, digests[i]) for i in misses]
        for index, (entry, fresh) in zip(misses, ordered_map(_worker, tasks, workers), strict=True):
            results[index] = from_entry(files[index], raws[index], entry)
            _store(cache, keys[index] if fresh else None, entry)
            if progress:
                progress(1)
    else:
        from compiler.pipeline import compile_file

        for index in misses:
            result = compile_file(files[index], today, max_bytes)
            entry = entry_of(result)
            results[index] = replace(result, summary=entry["summary"])
            _store(cache, keys[index] if same_text(result, digests[index]) else None, entry)
            if progress:
                progress(1)
    return [r for r in results if r is not None]


def _store(cache: Cache | None, key: str | None, entry: dict[str, Any]) -> None:
    if cache is not None and key is not None:
        cache.write_json(key, entry)
