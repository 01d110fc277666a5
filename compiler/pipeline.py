"""The pipeline for one file and for a book: source → parse → build → resolve → check."""

from __future__ import annotations

import datetime
import heapq
import json
import os
import re
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import IO, TYPE_CHECKING, overload

from compiler import startup
from compiler.diagnostics import Diagnostic, rule
from compiler.records import frozen
from compiler.source import MAX_BYTES, SourceFile, SourceProblem, Span, decode, read_source, scan_indentation, scan_invisible

if TYPE_CHECKING:
    from compiler import model as m

# The parser, checks, tables and the model are imported where a file is compiled, not
# here: a warm `check` (every result cached) and the output formats need none of them
# (the model's ~120 dataclasses alone cost a warm run a quarter of its time).


@frozen
class Compiled:
    """The outcome of compiling one file."""

    path: str
    source: SourceFile | None
    protocol: m.Protocol | None
    diagnostics: tuple[Diagnostic, ...]
    summary: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        """Number of unacknowledged errors."""
        return sum(1 for d in self.diagnostics if d.severity.value == "error" and d.acknowledged is None)


def _as_diagnostics(problems: Iterable[SourceProblem]) -> list[Diagnostic]:
    return [rule(p.code).at(p.span, p.message, p.hint) for p in problems]


def compile_source(source: SourceFile, today: datetime.date | None = None) -> Compiled:
    """Compile decoded text."""
    from compiler.build import build
    from compiler.checks import load_rules, run_checks
    from compiler.checks.acknowledgements import apply_acknowledgements
    from compiler.checks.document import approved_with_errors
    from compiler.overrides import active_tables
    from compiler.parse import parse
    from compiler.resolve import resolve

    load_rules()
    today = today or datetime.date.today()
    problems = scan_indentation(source)
    if any(p.code in ("P004", "P009") for p in problems):
        return Compiled(source.path, source, None, tuple(_as_diagnostics(problems)))
    diagnostics = _as_diagnostics(problems) + _as_diagnostics(scan_invisible(source))
    parsed = parse(source, frozenset(p.span.line for p in problems))
    diagnostics.extend(_as_diagnostics(p for p in parsed.problems if not _same_line(p, problems)))
    if parsed.tree is None:
        return Compiled(source.path, source, None, tuple(diagnostics))
    protocol, built = build(source, parsed.tree)
    diagnostics.extend(built)
    if not protocol.meta.fields and not protocol.preamble and not protocol.sections:
        if not parsed.problems:
            diagnostics.append(rule("P007").at(Span(source.path, 1, 1, 1, 1), "the file holds no protocol",
                                               "write the metadata (id, title, version, …) and the sections"))
        return Compiled(source.path, source, protocol, tuple(sorted(diagnostics, key=Diagnostic.sort_key)))
    tables = active_tables()
    startup.settled()  # modules, parser and tables are loaded: out of the collector's sight from here
    resolved = resolve(protocol, tables)
    diagnostics.extend(run_checks(resolved, source, tables, today))
    final = apply_acknowledgements(resolved, diagnostics)
    gate = approved_with_errors(resolved, final)
    if gate is not None:
        final.append(gate)
    return Compiled(source.path, source, resolved, tuple(sorted(final, key=Diagnostic.sort_key)))


def _same_line(problem: SourceProblem, earlier: list[SourceProblem]) -> bool:
    return any(p.span.line == problem.span.line for p in earlier)


def compile_file(path: Path, today: datetime.date | None = None, max_bytes: int = MAX_BYTES) -> Compiled:
    """Read and compile one protocol file."""
    source, problems = read_source(path, max_bytes)
    if source is None:
        return Compiled(str(path), None, None, tuple(_as_diagnostics(problems)))
    return compile_source(source, today)


def compile_text(path: str, raw: bytes, today: datetime.date | None = None) -> Compiled:
    """Compile in-memory bytes (tests, language server)."""
    source, problems = decode(path, raw)
    if source is None:
        return Compiled(path, None, None, tuple(_as_diagnostics(problems)))
    return compile_source(source, today)


def summarize(result: Compiled) -> dict[str, str]:
    """What the book index and the cache need to know of a protocol without its model."""
    if result.summary:
        return result.summary
    if result.protocol is None:
        return {}
    meta = result.protocol.meta
    out = {
        "id": meta.id.value if meta.id else "",
        "title": meta.title.value if meta.title else "",
        "version": str(meta.version) if meta.version else "",
        "status": meta.status.value if meta.status else "",
        "language": meta.language or "nl",
        "owner": meta.owner.value if meta.owner else "",
        "next_review": meta.next_review.isoformat() if meta.next_review else "",
        "sha256": result.protocol.sha256,
    }
    if meta.references:  # V008 across the book, also for results taken from the cache
        out["references"] = json.dumps([[t.span.line, t.span.column, t.span.end_line, t.span.end_column, t.value]
                                        for t in meta.references], ensure_ascii=False)
    if meta.id is not None:
        out["id_line"] = str(meta.id.span.line)
        out["id_column"] = str(meta.id.span.column)
        out["id_end_column"] = str(meta.id.span.end_column)
    return out


def find_protocols(paths: Iterable[Path]) -> list[Path]:
    """Protocol files under the given files and folders, sorted.

    A folder that cannot be listed is returned as if it were a protocol: compiling it
    reports P010 (cannot read folder), so a hidden protocol is never skipped in silence.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(_walk(path))
        else:
            found.append(path)
    return found


class PathList(Sequence[Path]):
    """Paths in one string, a NUL after each (no path holds one): a book's list of files costs
    the bytes of its names, not a `Path` object (~300 bytes) per file.
    """

    def __init__(self, paths: Iterable[Path | str]) -> None:
        texts = [str(path) for path in paths]
        self.offsets = array("q", [0]) * (len(texts) + 1)
        for index, text in enumerate(texts):
            self.offsets[index + 1] = self.offsets[index] + len(text) + 1
        self.blob = "".join(text + "\0" for text in texts)

    def text(self, index: int) -> str:
        """`str(self[index])`, without making the `Path`."""
        index = range(len(self))[index]
        return self.blob[self.offsets[index]:self.offsets[index + 1] - 1]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @overload
    def __getitem__(self, index: int) -> Path: ...

    @overload
    def __getitem__(self, index: slice) -> list[Path]: ...

    def __getitem__(self, index: int | slice) -> Path | list[Path]:
        if isinstance(index, slice):
            return [Path(self.text(i)) for i in range(len(self))[index]]
        return Path(self.text(index))


def _walk(top: Path) -> list[Path]:
    unreadable: list[Path] = []

    def failed(error: OSError) -> None:
        unreadable.append(Path(error.filename) if error.filename else top)

    files: list[Path] = []
    for folder, subfolders, names in os.walk(top, onerror=failed):
        subfolders[:] = [d for d in subfolders if d != ".archive"]
        files.extend(Path(folder) / n for n in names if n.endswith(".protocol"))
    return sorted(files + unreadable)


def book_diagnostics(results: list[Compiled]) -> list[Diagnostic]:
    """Findings that concern the book as a whole (P008 duplicate ids, V008 references to withdrawn protocols)."""
    facts = BookFacts()
    kept = [facts.add(index, summarize(result)) for index, result in enumerate(results)]

    def references(index: int) -> str | None:
        return summarize(results[index]).get("references") if kept[index] else None

    return [d for _, d in facts.findings(len(results), lambda i: results[i].path, references)]


WITHDRAWN = ("superseded", "retired")  # m.Status.SUPERSEDED, m.Status.RETIRED (a test keeps them equal)
RUN_LIMIT = 1024  # P008 facts held in memory before a sorted run of them goes to a temporary file
IdFact = tuple[str, int, int, int, int]  # protocol id, file index, line, column, end column of the id


class BookFacts:
    """What the book-level rules need of each file, noted file by file in any order.

    Memory does not grow with the book: P008's (id, position) facts go to sorted runs in
    temporary files past `RUN_LIMIT` and are merged at the end; of V008 only the ids of
    withdrawn protocols are held, the reference lines are asked for again at the end.
    """

    def __init__(self) -> None:
        self.buffer: list[IdFact] = []
        self.runs: list[IO[bytes]] = []
        self.withdrawn: dict[str, tuple[int, str]] = {}  # id → (index of the last file with it, its status)

    def add(self, index: int, summary: Mapping[str, str]) -> bool:
        """Note file `index`'s summary; True when its `references` field will be asked for by `findings`."""
        pid, status = summary.get("id"), summary.get("status")
        if pid and "id_line" in summary:
            self.buffer.append((pid, index, int(summary["id_line"]), int(summary["id_column"]),
                                int(summary["id_end_column"])))
            if len(self.buffer) >= RUN_LIMIT:
                self._spill()
        if pid and status in WITHDRAWN and index >= self.withdrawn.get(pid, (-1, ""))[0]:
            self.withdrawn[pid] = (index, str(status))
        return bool(summary.get("references")) and status not in WITHDRAWN

    def _spill(self) -> None:
        try:
            run: IO[bytes] = tempfile.TemporaryFile()
        except OSError:  # no writable temporary folder: the facts stay in memory
            return
        try:
            self.buffer.sort()
            run.writelines(json.dumps(fact, ensure_ascii=False).encode("utf-8") + b"\n" for fact in self.buffer)
            run.seek(0)
        except OSError:
            run.close()
            return
        self.runs.append(run)
        self.buffer = []

    def _merged(self) -> Iterator[IdFact]:
        self.buffer.sort()
        streams: list[Iterator[IdFact]] = [iter(self.buffer)]
        streams.extend(_read_run(run) for run in self.runs)
        return heapq.merge(*streams)

    def findings(self, count: int, path_of: Callable[[int], str],
                 references: Callable[[int], str | None]) -> Iterator[tuple[int, Diagnostic]]:
        """The book findings, each with the index of the file it concerns: every P008 in file order, then
        every V008 in file order. `references(index)`: the `references` field of a file `add` said True of
        (asked only when a protocol of the book is withdrawn).
        """
        duplicates: list[tuple[int, Diagnostic]] = []
        try:
            first: tuple[str, int] | None = None
            for pid, index, line, column, end_column in self._merged():
                if first is None or first[0] != pid:
                    first = (pid, index)
                    continue
                span = Span(path_of(index), line, column, line, end_column)
                duplicates.append((index, rule("P008").at(span, f"protocol id `{pid}` is also used by {path_of(first[1])}",
                                                          "give each protocol its own id")))
        finally:
            for run in self.runs:
                run.close()
            self.runs, self.buffer = [], []
        duplicates.sort(key=lambda found: found[0])
        yield from duplicates
        yield from self._withdrawn_references(count, path_of, references)

    def _withdrawn_references(self, count: int, path_of: Callable[[int], str],
                              references: Callable[[int], str | None]) -> Iterator[tuple[int, Diagnostic]]:
        """V008: a current protocol names, in a `reference:` line, the id of a superseded or retired one."""
        if not self.withdrawn:
            return
        withdrawn = {pid: status for pid, (_, status) in self.withdrawn.items()}
        pattern = re.compile(r"(?<![\w-])(" + "|".join(re.escape(i) for i in sorted(withdrawn, key=len, reverse=True))
                             + r")(?![\w-])")
        for index in range(count):
            found = references(index)
            if not found:
                continue
            for line, column, end_line, end_column, text in json.loads(found):
                for match in pattern.finditer(text):
                    span = Span(path_of(index), line, column, end_line, end_column)
                    yield index, rule("V008").at(span, f"reference to `{match.group(1)}`, a {withdrawn[match.group(1)]} protocol",
                                                 "refer to the protocol that replaces it, or remove the reference")


def _read_run(run: IO[bytes]) -> Iterator[IdFact]:
    for line in run:
        pid, index, row, column, end_column = json.loads(line)
        yield str(pid), int(index), int(row), int(column), int(end_column)
