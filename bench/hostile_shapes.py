"""Hostile input shapes (issue 12): time and peak memory of `protocolc check` per shape.

    .venv/bin/python bench/hostile_shapes.py [--only NAME ...] [--timeout S] [--keep DIR]

Each shape is a generated sheet below the 1 MB size cap (4,000 and 30,000 drug lines,
20,000 allow lines, nesting at the depth limit, many decisions, many sections, long
lines, huge numbers and ranges). Each is checked in a fresh process; the table gives
wall time and peak memory (max RSS) and both as ratios to a bare Lark parse of the same
file in a fresh process, so the numbers say how much the compiler adds to parsing.
The goal is linear or n·log n everywhere: every ratio should stay a small constant
whatever the size of the shape.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEAD = """id: hostile
title: Hostile shape
version: 1.0
status: draft
language: en
owner: Oncology
author: Pharmacy
next review: 2028-11-23
scope: Benchmark
reference: protocolc benchmark

"""

# about 31 bytes a line, as in the issue (4,000 lines = 125 kB, 30,000 lines = 930 kB)
DRUGS = (
    "drug letrozole 2,5 mg po daily",
    "drug paclitaxel 80 mg/m2 IV weekly",
    "drug tamoxifen 20 mg po daily",
    "drug carboplatin AUC 5 IV days 1",
    "drug anastrozole 1 mg po daily",
)


def drug_lines(count: int) -> str:
    """`count` drug lines under one section, cycling through realistic statements."""
    lines = [HEAD, "# Drugs {drugs}"]
    lines += [f"{DRUGS[n % len(DRUGS)]}" for n in range(count)]
    return "\n".join(lines) + "\n"


def allow_lines(count: int) -> str:
    """`count` allow lines, each under a drug line so it acknowledges something."""
    lines = [HEAD, "# Drugs {drugs}"]
    for n in range(count // 2):
        lines.append("drug letrozole 25 mg po daily")
        lines.append(f'  allow D00{1 + n % 3} "local trial {n}"')
    return "\n".join(lines) + "\n"


def nesting(count: int) -> str:
    """Blocks nested 30 deep (just under the limit), repeated `count` times."""
    lines = [HEAD, "# Nested {nested}"]
    for n in range(count):
        for depth in range(30):
            lines.append("  " * depth + f"Level {depth} of block {n}:")
        lines.append("  " * 30 + "- drug tamoxifen 20 mg po daily")
    return "\n".join(lines) + "\n"


def decisions(count: int) -> str:
    """`count` decisions, each with three branches holding drugs."""
    lines = [HEAD, "# Decisions {decisions}"]
    for n in range(count):
        lines += [
            f"decision: choice {n}",
            "  when HER2+ and ER+:",
            "    drug trastuzumab 600 mg subcut every 3 weeks for 1 year",
            "  when HER2+ and not ER+:",
            "    drug pertuzumab 840 mg IV then 420 mg IV every 3 weeks",
            "  otherwise:",
            "    drug tamoxifen 20 mg po daily",
        ]
    return "\n".join(lines) + "\n"


def sections(count: int) -> str:
    """`count` sections and subsections, each with a line of prose and a cross-reference."""
    lines = [HEAD]
    for n in range(count):
        lines.append(f"{'#' * (1 + n % 3)} Section {n} {{s{n}}}")
        lines.append(f"See §s{max(0, n - 1)}.")
    return "\n".join(lines) + "\n"


def long_lines(count: int) -> str:
    """`count` prose lines of 10,000 characters, and a drug line with a long name."""
    word = "abcdefghij "
    lines = [HEAD, "# Long {long}"]
    lines += [word * 1000 for _ in range(count)]
    lines.append("drug " + "x" * 50_000 + " 5 mg po daily")
    return "\n".join(lines) + "\n"


def conditions(count: int) -> str:
    """`count` when lines with long and/or chains and deep `not` chains."""
    lines = [HEAD, "# Conditions {conditions}", "decision: big"]
    for n in range(count):
        chain = " and ".join(f"marker{n}x{k}+" for k in range(40))
        lines.append(f"  when {chain}:")
        lines.append("    drug tamoxifen 20 mg po daily")
    lines.append("  when " + "not " * 2000 + "HER2+:")
    lines.append("    drug tamoxifen 20 mg po daily")
    return "\n".join(lines) + "\n"


def numbers(count: int) -> str:
    """Huge numbers and ranges everywhere a number can stand, `count` times."""
    big = "9" * 5000
    lines = [HEAD.replace("version: 1.0", f"version: {big}.{big}"), "# Numbers {numbers}"]
    for _ in range(count):
        lines += [
            "drug letrozole 2,5 mg po days 1-999999999 every 999999999 days for 999999999 weeks",
            f"drug letrozole {big} mg po daily, 999999999 cycles",
            f"drug letrozole 2,5 mg po every {big} days cycle {big} days max {big} days",
            f"drug paclitaxel 80 mg/m2 IV days 1-{big} of a 21-day cycle, infusion {big} min",
            f"rt {big} x {big} Gy = {big} Gy, {big} x/week",
            "rt 999999999 x 2 Gy = 1999999998 Gy",
            f"drug letrozole 2,5 mg po {big} days on {big} days off",
            f"drug letrozole 2,5 mg po q{big}d",
            f"when ANC >= {big}:",
            "  drug tamoxifen 20 mg po daily",
        ]
    return "\n".join(lines) + "\n"


SHAPES: dict[str, Callable[[], str]] = {
    "drugs-4000": lambda: drug_lines(4_000),
    "drugs-30000": lambda: drug_lines(30_000),
    "allow-20000": lambda: allow_lines(20_000),
    "nesting": lambda: nesting(450),
    "decisions": lambda: decisions(3_000),
    "sections": lambda: sections(20_000),
    "long-lines": lambda: long_lines(85),
    "conditions": lambda: conditions(1_000),
    "numbers": lambda: numbers(12),
}

MEASURE = """
import json, resource, sys, time
sys.setrecursionlimit(10_000)
start = time.perf_counter()
if sys.argv[1] == "lark":
    from compiler.parse import parser
    from compiler.source import read_source
    source, _ = read_source(__import__("pathlib").Path(sys.argv[2]))
    p = parser()
    start = time.perf_counter()
    try:
        p.parse(source.text if source.text.endswith("\\n") else source.text + "\\n")
    except Exception as error:  # a shape may hold lines the grammar refuses
        pass
else:
    from compiler.pipeline import compile_file
    from pathlib import Path
    compile_file(Path(sys.argv[2]))
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def measure(kind: str, path: Path, timeout: float) -> dict[str, float] | None:
    """Seconds and peak RSS of one fresh process, or None on timeout or failure."""
    try:
        done = subprocess.run([sys.executable, "-c", MEASURE, kind, str(path)], cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return None
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", default=None, help="shape names (default: all)")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--keep", type=Path, default=None, help="write the generated files here")
    args = parser.parse_args()
    names = args.only or list(SHAPES)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="hostile-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{'shape':<14} {'bytes':>9} {'lark s':>8} {'check s':>8} {'x lark':>7} {'lark MB':>8} {'check MB':>9} {'x lark':>7}")
    for name in names:
        path = folder / f"{name}.protocol"
        path.write_text(SHAPES[name](), encoding="utf-8")
        size = path.stat().st_size
        lark = measure("lark", path, args.timeout)
        full = measure("check", path, args.timeout)
        if lark is None or full is None:
            shown_lark = "-" if lark is None else f"{lark['seconds']:.2f}"
            shown_full = "timeout/failed" if full is None else f"{full['seconds']:.2f}"
            print(f"{name:<14} {size:>9,} {shown_lark:>8} {shown_full:>8}")
            continue
        lark_mb, full_mb = lark["rss_kb"] / 1024, full["rss_kb"] / 1024
        print(f"{name:<14} {size:>9,} {lark['seconds']:>8.2f} {full['seconds']:>8.2f} "
              f"{full['seconds'] / max(lark['seconds'], 1e-3):>7.1f} {lark_mb:>8.0f} {full_mb:>9.0f} "
              f"{full_mb / lark_mb:>7.1f}")


if __name__ == "__main__":
    main()
