"""Benchmarks (not tests): time protocolc as whole processes and in-process.

    .venv/bin/python bench/bench.py [--quick]

Prints a table: check one protocol cold (whole process), check a generated
1,000-protocol book (whole process and in-process, protocols/s), and build the
Emmaüs PDF. Targets: cold check < 0.25 s; parse+check >= 1,000 protocols/s per core.
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE = """id: bench-{n}
title: Benchmark protocol {n}
version: 1.0
status: draft
language: nl
owner: Dienst medische oncologie
author: Ziekenhuisapotheek
next review: 2028-11-23
scope: Benchmark
reference: protocolc benchmark

# Hormonale therapie {{hormonaal}}
Aromataseremmers:
  only when postmenopausal
  - drug letrozole (Femara) 2,5 mg po daily, tablet
  - drug anastrozole (Arimidex) 1 mg po daily
  - drug exemestane (Aromasin) 25 mg po daily
drug fulvestrant (Faslodex) 500 mg IM on days 1, 15, 29 then every 28 days until progression

# Chemotherapie {{chemo}}
decision: eerste lijn volgens PD-L1
  when PD-L1 TPS >= 50%:
    drug pembrolizumab (Keytruda) 200 mg IV every 3 weeks, infusion 30 min, max 2 years
  otherwise:
    regimen EC75
    Zie §hormonaal.

# Radiotherapie {{rt}}
rt 5 x 4 Gy site bot
rt 1 x 8 Gy site bot
"""


def timed(command: list[str], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--books", type=int, default=1000)
    args = parser.parse_args()
    repeat = 3 if args.quick else 7
    exe = [sys.executable, "-m", "compiler"]
    emmaus = next(iter(sorted((ROOT / "protocols").rglob("*emmaus*.protocol"))), None)
    rows: list[tuple[str, str]] = []

    with tempfile.TemporaryDirectory() as temp:
        book = Path(temp) / "book"
        book.mkdir()
        for n in range(args.books):
            (book / f"p{n:04d}.protocol").write_text(SAMPLE.format(n=n), encoding="utf-8")
        one = book / "p0000.protocol"
        subprocess.run([*exe, "check", str(one)], cwd=ROOT, capture_output=True, check=False)  # warm disk caches
        rows.append(("check one protocol, whole process (median)", f"{timed([*exe, 'check', str(one)], repeat):.3f} s"))
        rows.append(("python -c pass (interpreter floor)", f"{timed([sys.executable, '-c', 'pass'], repeat):.3f} s"))
        seconds = timed([*exe, "check", str(book)], 1)
        rows.append((f"check {args.books}-protocol book, whole process", f"{seconds:.2f} s ({args.books / seconds:.0f}/s)"))

        from compiler.pipeline import compile_source
        from compiler.source import SourceFile

        sources = [SourceFile.from_text(str(p), p.read_text(encoding="utf-8")) for p in sorted(book.iterdir())]
        today = datetime.date(2026, 11, 23)
        compile_source(sources[0], today)
        start = time.perf_counter()
        for source in sources:
            compile_source(source, today)
        seconds = time.perf_counter() - start
        rows.append((f"parse+check in-process, {len(sources)} protocols, 1 core",
                     f"{seconds:.2f} s ({len(sources) / seconds:.0f} protocols/s)"))

        if emmaus is not None:
            out = Path(temp) / "out"
            start = time.perf_counter()
            subprocess.run([*exe, "build", str(emmaus), "-o", str(out)], cwd=ROOT, capture_output=True, check=False)
            rows.append(("build Emmaüs HTML + PDF, whole process", f"{time.perf_counter() - start:.2f} s"))
            shutil.rmtree(out, ignore_errors=True)

    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  result")
    print(f"{'-' * width}  {'-' * 30}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
