"""Parse and build CPU of two checkouts in ONE process, interleaved (issue 17).

    .venv/bin/python bench/stage_ab.py --against DIR [--rounds N] [--runs N]

On a shared machine, two processes measured one after the other see different loads, and
a change of a few per cent in the parser or the builder drowns in it. Here the other
checkout's `compiler/parse.py` and `compiler/build.py` are loaded beside this checkout's
(the rest of `compiler`, e.g. `source` and `model`, is this checkout's: compare branches of
the same round), and each round times, in turn on the shipped sheets: a bare Lark parse
(pure Python LALR, as in bench.py), the other checkout's parse, this one's, the other's
parse + build, this one's. A run keeps each stage's best round; the table gives each
stage's ratio to the bare parse and this checkout's ratio to the other's, as the median
of the runs. Both checkouts must build the same model (checked first).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _load(name: str, path: Path, parse_module: ModuleType | None = None) -> ModuleType:
    """Import a file as module `name`; `parse_module` stands in for `compiler.parse` while it loads."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    saved = sys.modules.get("compiler.parse")
    if parse_module is not None:
        sys.modules["compiler.parse"] = parse_module
    try:
        spec.loader.exec_module(module)
    finally:
        if saved is not None:
            sys.modules["compiler.parse"] = saved
    return module


def _stages(other: Path) -> dict[str, Callable[[], object]]:
    from lark import Lark

    import compiler.build as this_build
    import compiler.parse as this_parse
    from compiler.source import SourceFile

    other_parse = _load("other_parse", other / "compiler" / "parse.py")
    other_build = _load("other_build", other / "compiler" / "build.py", other_parse)
    path = this_parse.grammar_path()
    bare = Lark.open(path.name, rel_to=str(path), parser="lalr", lexer="contextual",
                     postlex=this_parse.ProtocolIndenter(), propagate_positions=False, maybe_placeholders=False,
                     cache=True)
    sources = [SourceFile.from_text(str(p), p.read_text(encoding="utf-8"))
               for p in sorted((ROOT / "protocols").rglob("*.protocol"))]
    for source in sources:
        theirs: Any = other_build.build(source, other_parse.parse(source).tree)
        ours: Any = this_build.build(source, this_parse.parse(source).tree)
        if repr(theirs) != repr(ours):
            raise SystemExit(f"{source.path}: the two checkouts build different models")
    texts = [s.text if s.text.endswith("\n") else s.text + "\n" for s in sources]
    return {
        "bare Lark parse": lambda: [bare.parse(t) for t in texts],
        "parse (other)": lambda: [other_parse.parse(s) for s in sources],
        "parse (this)": lambda: [this_parse.parse(s) for s in sources],
        "parse + build (other)": lambda: [other_build.build(s, other_parse.parse(s).tree) for s in sources],
        "parse + build (this)": lambda: [this_build.build(s, this_parse.parse(s).tree) for s in sources],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", type=Path, required=True, help="the other checkout (before)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds per run (each stage keeps its best)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    stages = _stages(args.against.resolve())
    ratios: dict[str, list[float]] = {name: [] for name in stages}
    for _ in range(args.runs):
        best = dict.fromkeys(stages, float("inf"))
        for _ in range(args.rounds):
            for name, stage in stages.items():
                start = time.process_time()
                stage()
                best[name] = min(best[name], time.process_time() - start)
        for name, seconds in best.items():
            ratios[name].append(seconds / best["bare Lark parse"])
    print(f"{len(stages) - 1} stages, median of {args.runs} runs of {args.rounds} rounds; CPU ratio to a bare Lark parse")
    for name, values in ratios.items():
        print(f"  {name:24} {statistics.median(values):.3f}x  (runs: {', '.join(f'{v:.2f}' for v in values)})")
    for stage in ("parse", "parse + build"):
        paired = [this / other for this, other in zip(ratios[f"{stage} (this)"], ratios[f"{stage} (other)"], strict=True)]
        print(f"  {stage}: this / other = {statistics.median(paired):.3f} (runs: {', '.join(f'{v:.2f}' for v in paired)})")


if __name__ == "__main__":
    main()
