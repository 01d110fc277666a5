"""Latency of the language server's diagnostics after a change, in-process (no transport, no debounce).

Opens a shipped protocol in a standalone server, replays edits (typing a comment at the end
of a drug line keystroke by keystroke and deleting it again, adding a line above it and
removing it; another drug line every round),
and measures each `did_change` → published diagnostics in CPU milliseconds of this process
(wall time means little on a shared machine). Every round edits another line, so an edit to a
text the document never had is always compiled; the deletions return the document to texts it
had a moment before (what an undo does), which the server answers from the analyses it
remembers. Each new text is also compiled bare (`compile_text`, what `protocolc check` runs),
to give the server's latency as a ratio of the compile it cannot avoid.

Prints, per protocol: the median and 90th percentile of edits to new texts, their ratio to the
bare compile, and the median of edits back to a recent text with its ratio to a new text.

    .venv/bin/python bench/lsp_bench.py [--rounds N] [--large] [FILE ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types as t

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from compiler import startup  # noqa: E402
from compiler.lsp.analysis import path_of  # noqa: E402
from compiler.lsp.server import ProtocolServer  # noqa: E402
from compiler.pipeline import compile_text  # noqa: E402

DEFAULT = [ROOT / "protocols" / "borst" / "emmaus-gemetastaseerd-borstcarcinoom.protocol",
           ROOT / "protocols" / "borst" / "doelgerichte-therapie-borstkanker.protocol",
           ROOT / "protocols" / "longkanker" / "nsclc-immuuntherapie.protocol"]

Edit = tuple[int, int, int, int, str]  # line, column, end line, end column, new text


def edits(text: str, round_number: int) -> list[Edit]:
    """A cycle of edits that leaves the text as it was, on another drug line every round."""
    lines = text.split("\n")
    drugs = [i for i, s in enumerate(lines) if "drug " in s] or [0]
    drug = drugs[round_number % len(drugs)]
    column = len(lines[drug])
    typed = " // 2"
    out: list[Edit] = []
    for ch in typed:  # typing a comment at the end of a drug line, keystroke by keystroke
        out.append((drug, column, drug, column, ch))
        column += 1
    for _ in typed:
        out.append((drug, column - 1, drug, column, ""))
        column -= 1
    out.append((drug, 0, drug, 0, f"Nieuwe regel {round_number}.\n"))
    out.append((drug, 0, drug + 1, 0, ""))
    return out


@dataclass
class Timings:
    new: list[float] = field(default_factory=list)  # server CPU ms, edits to a text never seen
    bare: list[float] = field(default_factory=list)  # bare compile CPU ms of the same texts
    revisit: list[float] = field(default_factory=list)  # server CPU ms, edits back to a recent text


def cpu_ms(start: float) -> float:
    return (time.process_time() - start) * 1000


def bench(path: Path, rounds: int) -> list[float]:
    """CPU milliseconds of every edit to a text the document never had (bench.py --lsp reads these)."""
    return measure(path, rounds).new


def measure(path: Path, rounds: int) -> Timings:
    """Every edit's CPU milliseconds, split into edits to new texts and edits back to a recent one."""
    text = path.read_text(encoding="utf-8")
    # the process as `protocolc lsp` runs it: start-up (cli.main), then a process that compiles until it
    # exits (serve_stdio); without them the collector walks this process's start-up every few edits
    startup.begin()
    startup.worker()
    server = ProtocolServer.standalone()
    uri = path.as_uri()
    server.did_open(t.DidOpenTextDocumentParams(
        text_document=t.TextDocumentItem(uri=uri, language_id="protocol", version=0, text=text)))
    seen = {text}
    out = Timings()
    version = 0
    for round_number in range(rounds):
        for line, column, end_line, end_column, new in edits(text, round_number):
            version += 1
            params = t.DidChangeTextDocumentParams(
                text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[t.TextDocumentContentChangePartial(
                    range=t.Range(start=t.Position(line=line, character=column),
                                  end=t.Position(line=end_line, character=end_column)), text=new)])
            start = time.process_time()
            server.did_change(params)
            elapsed = cpu_ms(start)
            assert isinstance(server.published[uri], list)
            current = server.documents.get_text_document(uri).source
            if current in seen:
                out.revisit.append(elapsed)
                continue
            seen.add(current)
            out.new.append(elapsed)
            start = time.process_time()
            compile_text(path_of(uri), current.encode("utf-8"))
            out.bare.append(cpu_ms(start))
    return out


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.9) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, default=DEFAULT)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--large", action="store_true",
                        help="also the ~31 kB sheet of bench.py --lsp (Emmaüs with the other sheets' sections)")
    args = parser.parse_args()
    files = [p.resolve() for p in args.files]
    if args.large:
        from bench import large_sheet

        big = Path(tempfile.mkdtemp()) / "large.protocol"
        big.write_text(large_sheet(), encoding="utf-8")
        files.append(big)
    every = Timings()
    for path in files:
        found = measure(path, args.rounds)
        every.new.extend(found.new)
        every.bare.extend(found.bare)
        every.revisit.extend(found.revisit)
        size = len(path.read_bytes()) / 1000
        new, bare = statistics.median(found.new), statistics.median(found.bare)
        revisit = statistics.median(found.revisit) if found.revisit else float("nan")
        print(f"{path.name:<46} {size:5.1f} kB  new text: median {new:6.1f} ms  p90 {p90(found.new):6.1f} ms "
              f"(×{new / bare:.2f} the bare compile, {bare:.1f} ms; n={len(found.new)})  "
              f"back to a recent text: median {revisit:5.1f} ms (×{revisit / new:.3f} a new text; "
              f"n={len(found.revisit)})")
    new, bare = statistics.median(every.new), statistics.median(every.bare)
    print(f"{'all':<46}           new text: median {new:6.1f} ms  p90 {p90(every.new):6.1f} ms "
          f"(×{new / bare:.2f} the bare compile)  back to a recent text: median "
          f"{statistics.median(every.revisit):5.1f} ms  (CPU ms of this process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
