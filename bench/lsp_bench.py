"""Latency of the language server's diagnostics after a change, in-process (no transport, no debounce).

Opens a shipped protocol in a standalone server, replays edits (typing a dose, deleting
and retyping a word, adding a line), and times each `did_change` → published diagnostics.
Prints the median, the 90th percentile and the maximum per protocol.

    .venv/bin/python bench/lsp_bench.py [--rounds N] [FILE ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types as t

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.lsp.server import ProtocolServer  # noqa: E402

DEFAULT = [ROOT / "protocols" / "borst" / "emmaus-gemetastaseerd-borstcarcinoom.protocol",
           ROOT / "protocols" / "borst" / "doelgerichte-therapie-borstkanker.protocol",
           ROOT / "protocols" / "longkanker" / "nsclc-immuuntherapie.protocol"]


def edits(text: str) -> list[tuple[int, int, int, int, str]]:
    """A cycle of edits (line, column, end line, end column, new text) that leaves the text as it was."""
    lines = text.split("\n")
    drug = next((i for i, s in enumerate(lines) if "drug " in s), 0)
    column = len(lines[drug])
    out: list[tuple[int, int, int, int, str]] = []
    for ch in " // 2":  # typing a comment at the end of a drug line, keystroke by keystroke
        out.append((drug, column, drug, column, ch))
        column += 1
    for _ in " // 2":
        out.append((drug, column - 1, drug, column, ""))
        column -= 1
    out.append((drug, 0, drug, 0, "Nieuwe regel.\n"))
    out.append((drug, 0, drug + 1, 0, ""))
    return out


def bench(path: Path, rounds: int) -> list[float]:
    text = path.read_text(encoding="utf-8")
    server = ProtocolServer.standalone()
    uri = path.as_uri()
    server.did_open(t.DidOpenTextDocumentParams(
        text_document=t.TextDocumentItem(uri=uri, language_id="protocol", version=0, text=text)))
    timings: list[float] = []
    version = 0
    for _ in range(rounds):
        for line, column, end_line, end_column, new in edits(text):
            version += 1
            params = t.DidChangeTextDocumentParams(
                text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[t.TextDocumentContentChangePartial(
                    range=t.Range(start=t.Position(line=line, character=column),
                                  end=t.Position(line=end_line, character=end_column)), text=new)])
            start = time.perf_counter()
            server.did_change(params)
            timings.append((time.perf_counter() - start) * 1000)
            assert isinstance(server.published[uri], list)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, default=DEFAULT)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    every: list[float] = []
    for path in args.files:
        timings = sorted(bench(path, args.rounds))
        every.extend(timings)
        p90 = timings[int(len(timings) * 0.9) - 1]
        print(f"{path.name:<50} {len(path.read_text(encoding='utf-8').splitlines()):>4} lines  "
              f"median {statistics.median(timings):6.1f} ms  p90 {p90:6.1f} ms  max {timings[-1]:6.1f} ms  (n={len(timings)})")
    print(f"{'all':<50}       median {statistics.median(every):6.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
