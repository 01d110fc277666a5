"""CPU time of the parser's start-up and of parsing, in fresh processes (issue 17, goals 1 and 2).

    .venv/bin/python bench/parse_cpu.py [--pairs N] [--against DIR]

Each process measures, with `time.process_time()`: importing `compiler.parse` (Lark is
imported first, as the baseline of goal 2 does), `accelerated()` (the lark-cython parser
from its cache, with its probe parse), the first and the second parse of the Emmaüs sheet
(the first one compiles the lexers' regular expressions), and a parse of every shipped
sheet (best of 3 rounds, per sheet). A second process checks the Emmaüs sheet whole
(`protocolc check --no-cache`) against `python -c "import lark, yaml, jinja2"`, by rusage.

`--against DIR` compares with another checkout of protocolc (e.g. `git worktree add
/tmp/main main`), each with its own `.venv` when it has one: processes run interleaved
(A, B, A, B …) so that a busy machine weighs on both alike; the table gives medians and the
ratio after / before. Both keep compiled bytecode in their own folder under the temporary
directory, so neither pays for compiling its modules.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHEET = "protocols/borst/emmaus-gemetastaseerd-borstcarcinoom.protocol"

MEASURE = """
import sys, time, json
from pathlib import Path
root = Path(sys.argv[1])
sys.path.insert(0, str(root))
clock = time.process_time
out = {}
start = clock(); import lark; out["import lark"] = clock() - start
start = clock(); from compiler import parse; from compiler.source import SourceFile; out["import compiler.parse"] = clock() - start
start = clock(); parse.accelerated(); out["accelerated()"] = clock() - start
sheet = root / sys.argv[2]
source = SourceFile.from_text(str(sheet), sheet.read_text(encoding="utf-8"))
start = clock(); parse.parse(source); out["first parse (Emmaus)"] = clock() - start
start = clock(); parse.parse(source); out["second parse (Emmaus)"] = clock() - start
sources = [SourceFile.from_text(str(p), p.read_text(encoding="utf-8")) for p in sorted(root.glob("protocols/**/*.protocol"))]
rounds = []
for _ in range(3):
    start = clock()
    for s in sources:
        parse.parse(s)
    rounds.append((clock() - start) / len(sources))
out["parse per shipped sheet"] = min(rounds)
out["backend: cython"] = float(parse.backend() == "cython")
print(json.dumps(out))
"""


def _python(root: Path) -> str:
    own = root / ".venv" / "bin" / "python"
    return str(own) if own.exists() else sys.executable


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    tag = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / f"protocolc-bench-pyc-{tag}")
    return env


def measure(root: Path) -> dict[str, float]:
    """One fresh process of stage timings and one whole-process check, for the checkout at `root`."""
    done = subprocess.run([_python(root), "-c", MEASURE, str(root), SHEET], cwd=root, env=_env(root),
                          capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    for name, command in (("whole check (Emmaus)", ["-m", "compiler", "check", "--no-cache", SHEET]),
                          ("import lark, yaml, jinja2", ["-c", "import lark, yaml, jinja2"])):
        run = subprocess.run([_python(root), str(ROOT / "bench" / "_rusage.py"), _python(root), *command],
                             cwd=root, env=_env(root), capture_output=True, text=True, check=True)
        result[name] = float(json.loads(run.stdout)["cpu"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=10, help="processes per checkout (the median is shown)")
    parser.add_argument("--against", type=Path, default=None, help="another checkout to compare with (before)")
    args = parser.parse_args()
    checkouts = ([args.against.resolve()] if args.against is not None else []) + [ROOT]
    for root in checkouts:  # warm-up: bytecode, Lark's cache and the parser cache
        measure(root)
    runs: dict[Path, list[dict[str, float]]] = {root: [] for root in checkouts}
    started = time.perf_counter()
    for _ in range(args.pairs):
        for root in checkouts:
            runs[root].append(measure(root))
    keys = [k for k in runs[ROOT][0] if not k.startswith("backend")]
    print(f"parser CPU, median of {args.pairs} fresh processes per checkout (ms)")
    after = {k: statistics.median(x[k] for x in runs[ROOT]) for k in keys}
    if args.against is not None:
        before = {k: statistics.median(x[k] for x in runs[checkouts[0]]) for k in keys}
        print(f"{'':28} {'before':>8} {'after':>8} {'after/before':>13}")
        for k in keys:
            print(f"{k:28} {1000 * before[k]:8.2f} {1000 * after[k]:8.2f} {after[k] / max(before[k], 1e-9):13.3f}")
        base_b, base_a = before["import lark, yaml, jinja2"], after["import lark, yaml, jinja2"]
        print(f"{'whole check / baseline':28} {before['whole check (Emmaus)'] / base_b:8.2f}x "
              f"{after['whole check (Emmaus)'] / base_a:8.2f}x (target <= 1.6x)")
    else:
        for k in keys:
            print(f"{k:28} {1000 * after[k]:8.2f}")
        print(f"{'whole check / baseline':28} {after['whole check (Emmaus)'] / after['import lark, yaml, jinja2']:8.2f}x")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
