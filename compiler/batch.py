"""Checking many files: content-hash cache and process parallelism.

Results come back in input order whatever the scheduling. A result taken from the
cache, or computed in a worker process, carries its diagnostics and a summary of the
protocol (id, title, version, …) but not the model itself: the model is only needed
to render, and rendering compiles again where it has to.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from compiler.cache import Cache, compiler_fingerprint, key_for
from compiler.diagnostics import diagnostic_from_json
from compiler.pipeline import Compiled, compile_file, summarize
from compiler.source import MAX_BYTES, SourceFile

PARALLEL_THRESHOLD = 16  # below this, starting worker processes costs more than it saves


def default_jobs() -> int:
    """One worker per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def check_key(path: Path, raw: bytes, today: datetime.date, max_bytes: int) -> str:
    """The cache key of one file's check result."""
    # the V checks also read the book's release register and archive (RELEASES.jsonl, .archive/)
    from compiler.overrides import active_fingerprint
    from compiler.versions.register import register_state

    return key_for(compiler_fingerprint(), str(path), hashlib.sha256(raw).hexdigest(), today.isoformat(), str(max_bytes),
                   register_state(path), active_fingerprint())


def _entry(result: Compiled) -> dict[str, Any]:
    return {"diagnostics": [d.to_json() for d in result.diagnostics], "summary": summarize(result)}


def _from_entry(path: Path, raw: bytes | None, entry: dict[str, Any]) -> Compiled:
    source = None
    if raw is not None:
        try:
            source = SourceFile.from_text(str(path), raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n"), raw)
        except UnicodeDecodeError:
            source = None
    diagnostics = tuple(diagnostic_from_json(d) for d in entry["diagnostics"])
    return Compiled(str(path), source, None, diagnostics, dict(entry.get("summary") or {}))


def _worker(task: tuple[str, str, int]) -> dict[str, Any]:
    path, today, max_bytes = task
    return _entry(compile_file(Path(path), datetime.date.fromisoformat(today), max_bytes))


def check_files(files: Sequence[Path], today: datetime.date | None = None, *, cache: Cache | None = None,
                jobs: int | None = None, max_bytes: int = MAX_BYTES,
                progress: Callable[[int], None] | None = None) -> list[Compiled]:
    """Check files, taking unchanged results from the cache and the rest in parallel."""
    today = today or datetime.date.today()
    results: list[Compiled | None] = [None] * len(files)
    raws: list[bytes | None] = []
    keys: list[str | None] = []
    misses: list[int] = []
    for index, path in enumerate(files):
        try:
            raw = path.read_bytes() if path.is_file() and path.stat().st_size <= max_bytes else None
        except OSError:
            raw = None
        raws.append(raw)
        key = check_key(path, raw, today, max_bytes) if raw is not None and cache is not None else None
        keys.append(key)
        entry = cache.read_json(key) if cache is not None and key is not None else None
        if entry is not None and raw is not None:
            results[index] = _from_entry(path, raw, entry)
            if progress:
                progress(1)
        else:
            misses.append(index)
    workers = jobs if jobs is not None else default_jobs()
    if workers > 1 and len(misses) >= PARALLEL_THRESHOLD:
        tasks = [(str(files[i]), today.isoformat(), max_bytes) for i in misses]
        from compiler.overrides import active_overrides, use_overrides

        with ProcessPoolExecutor(max_workers=workers, initializer=use_overrides, initargs=(active_overrides(),)) as pool:
            for index, entry in zip(misses, pool.map(_worker, tasks, chunksize=8), strict=True):
                results[index] = _from_entry(files[index], raws[index], entry)
                _store(cache, keys[index], entry)
                if progress:
                    progress(1)
    else:
        for index in misses:
            result = compile_file(files[index], today, max_bytes)
            entry = _entry(result)
            results[index] = replace(result, summary=entry["summary"])
            _store(cache, keys[index], entry)
            if progress:
                progress(1)
    return [r for r in results if r is not None]


def _store(cache: Cache | None, key: str | None, entry: dict[str, Any]) -> None:
    if cache is not None and key is not None:
        cache.write_json(key, entry)
