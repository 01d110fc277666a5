"""CPU time of each check family on the shipped sheets, without a profiler's overhead (issue 17).

    .venv/bin/python bench/family_cpu.py [--rounds N] [--pairs N] [--against DIR] [--only FAMILIES]

cProfile (`bench.py --profile`) charges every function call, so families made of many small
calls look dearer than they are. Here each rule runs on its own under `time.process_time()`:
the sheets are parsed and built once, then every round resolves them again (a fresh model,
as in a real check) and runs every active rule, adding its CPU time to its family. Work a
family shares with another (the arm layout) is charged to the first rule that asks for it,
as in a real check.

`--against DIR` compares with another checkout of protocolc (e.g. `git worktree add
/tmp/main main`): both run in fresh processes, interleaved (A, B, A, B …) so that a busy
machine weighs on both alike, and the table gives the median CPU seconds and the ratio
(before / after) per family.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MEASURE = """
import datetime, json, sys, time
from pathlib import Path
root, rounds, only = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sys.path.insert(0, str(root))
from compiler.build import build
from compiler.checks import Context, load_rules
from compiler.diagnostics import REGISTRY
from compiler.overrides import active_tables
from compiler.parse import parse
from compiler.resolve import resolve
from compiler.source import SourceFile

load_rules()
today = datetime.date(2026, 11, 23)
tables = active_tables()
built = []
for path in sorted(root.glob("protocols/**/*.protocol")):
    source = SourceFile.from_text(str(path), path.read_text(encoding="utf-8"))
    built.append((source, build(source, parse(source, frozenset()).tree)[0]))
rules = [r for r in REGISTRY.values() if r.check is not None and r.status == "active" and (not only or r.family in only)]
clock = time.process_time
seconds = {"resolve": 0.0}
for _ in range(rounds):
    for source, protocol in built:
        start = clock()
        resolved = resolve(protocol, tables)
        seconds["resolve"] += clock() - start
        context = Context(resolved, source, tables, today, resolved.all_items())
        for rule in rules:
            start = clock()
            list(rule.check(context))
            seconds[rule.family] = seconds.get(rule.family, 0.0) + clock() - start
print(json.dumps(seconds))
"""


def measure(root: Path, rounds: int, only: str) -> dict[str, float]:
    """CPU seconds per family (and for resolve) of `rounds` checks of the shipped sheets, in a fresh process."""
    done = subprocess.run([sys.executable, "-c", MEASURE, str(root), str(rounds), only], cwd=root,
                          capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4, help="checks of every shipped sheet per process")
    parser.add_argument("--pairs", type=int, default=3, help="processes per checkout (the median is shown)")
    parser.add_argument("--against", type=Path, default=None, help="another checkout to compare with (before)")
    parser.add_argument("--only", default="", help="family letters to run, e.g. DSRFV (default: all)")
    args = parser.parse_args()
    after: list[dict[str, float]] = []
    before: list[dict[str, float]] = []
    started = time.perf_counter()
    for _ in range(args.pairs):
        if args.against is not None:
            before.append(measure(args.against.resolve(), args.rounds, args.only))
        after.append(measure(ROOT, args.rounds, args.only))
    keys = sorted(after[0], key=lambda k: -statistics.median(x.get(k, 0.0) for x in after))
    total = statistics.median(sum(x.values()) for x in after)
    print(f"CPU per family, {args.rounds} rounds of the shipped sheets, median of {args.pairs} processes")
    if before:
        print(f"{'':10} {'before s':>9} {'after s':>9} {'ratio':>6} {'share before':>13} {'share after':>12}")
        total_before = statistics.median(sum(x.values()) for x in before)
        for key in keys:
            b = statistics.median(x.get(key, 0.0) for x in before)
            a = statistics.median(x.get(key, 0.0) for x in after)
            print(f"{key:10} {b:9.3f} {a:9.3f} {b / max(a, 1e-9):6.2f} {100 * b / total_before:12.1f}% "
                  f"{100 * a / total:11.1f}%")
        print(f"{'all':10} {total_before:9.3f} {total:9.3f} {total_before / total:6.2f}")
    else:
        for key in keys:
            a = statistics.median(x.get(key, 0.0) for x in after)
            print(f"{key:10} {a:9.3f} s {100 * a / total:5.1f} %")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
