"""`check` output from per-file blocks: a warm run reads, hashes and prints.

Each file's share of the output (see `report.block`) is cached next to its check result,
under the same key, one block per output format. A run that finds every block reads
each file, hashes it, reads its block and prints — it imports neither the parser nor
the checks. Files without a block are checked (`batch.check_files`, which uses the
cached results it has) and their blocks stored. Findings about the book as a whole
(`book_diagnostics`) are merged into the blocks of the files they concern.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compiler import report
from compiler.batch import check_files, check_key
from compiler.cache import Cache, compiler_fingerprint, key_for
from compiler.diagnostics import Diagnostic
from compiler.pipeline import Compiled, book_diagnostics, summarize
from compiler.source import MAX_BYTES

SEVERITY_COUNT = {"error": "errors", "warning": "warnings", "info": "infos"}


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


def check_document(files: Sequence[Path], today: datetime.date | None, fmt: str, *, cache: Cache | None = None,
                   jobs: int | None = None, max_bytes: int = MAX_BYTES) -> tuple[str, dict[str, int]] | None:
    """The whole `check` output in `fmt` (without colour) and its counts; None when the
    findings cannot be cut into per-file blocks (the caller prints the classic way).
    """
    today = today or datetime.date.today()
    paths = [str(p) for p in files]
    if len(set(paths)) != len(paths):
        return None
    extension = f"{fmt}.block"
    blocks: list[str | None] = [None] * len(files)
    heads: list[dict[str, Any] | None] = [None] * len(files)
    keys: list[str | None] = [None] * len(files)
    if cache is not None:
        states: dict[str, str] = {}
        for index, path in enumerate(files):
            raw = _read(path, max_bytes)
            if raw is None:
                continue
            keys[index] = key = check_key(path, raw, today, max_bytes, states)
            data = cache.read_bytes(key, extension)
            if data is not None:
                first, _, body = data.partition(b"\n")
                try:
                    heads[index], blocks[index] = json.loads(first), body.decode("utf-8")
                except ValueError:
                    heads[index] = blocks[index] = None
    misses = [i for i, b in enumerate(blocks) if b is None]
    results: dict[int, Compiled] = {}
    if misses:
        for index, result in zip(misses, check_files([files[i] for i in misses], today, cache=cache, jobs=jobs,
                                                     max_bytes=max_bytes), strict=True):
            if any(d.span.file != result.path for d in result.diagnostics):
                return None
            results[index] = result
            heads[index] = {"summary": summarize(result), "counts": _counts(result.diagnostics)}
            blocks[index] = text = report.block(fmt, result)
            stored = keys[index]
            if cache is not None and stored is not None:
                cache.write_bytes(stored, extension, json.dumps(heads[index]).encode("utf-8") + b"\n" + text.encode("utf-8"),
                                  durable=False)
    # files checked in this run give their whole result (a book check may need the model), the others their summary
    extra = book_diagnostics([results.get(i) or Compiled(p, None, None, (), dict((h or {}).get("summary") or {}))
                              for i, (p, h) in enumerate(zip(paths, heads, strict=True))])
    counts = {"files": len(files), "errors": 0, "warnings": 0, "infos": 0}
    for known in heads:
        for name, value in ((known or {}).get("counts") or {}).items():
            counts[name] += int(value)
    for name, value in _counts(extra).items():
        counts[name] += value
    if extra:
        where = {p: i for i, p in enumerate(paths)}
        if any(d.span.file not in where for d in extra):
            return None
        for index in sorted({where[d.span.file] for d in extra}):
            result = results.get(index) or check_files([files[index]], today, cache=cache, jobs=1, max_bytes=max_bytes)[0]
            blocks[index] = report.block(fmt, result, [d for d in extra if d.span.file == paths[index]])
    ordered = [b or "" for _, b in sorted(zip(paths, blocks, strict=True), key=lambda pb: pb[0])]
    return report.document(fmt, ordered, counts, _sarif_frame(cache) if fmt == "sarif" else None), counts


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
