"""Benchmarks (not tests): protocolc as whole processes and in-process.

    .venv/bin/python bench/bench.py [--quick] [--books N] [--pdf-sample N]

Prints a table. The generated book mixes realistic sizes: copies of the three shipped
protocols (large sheets, 100-220 lines) and small one-section sheets, in equal parts.
Targets (issue 3 and 5): cold check of one protocol < 0.25 s; parse+check >= 1,000
protocols/s per core; 1,000-protocol cold check < 5 s on 2 cores, warm < 0.5 s;
one-edit rebuild < 1.5 s; overhead <= 10 % over raw WeasyPrint; >= 1.7x parallel speed-up.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SMALL = """id: bench-{n}
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
drug tamoxifen (Nolvadex) 20 mg po daily

# Radiotherapie {{rt}}
rt 5 x 4 Gy = 20 Gy site bot
rt 1 x 8 Gy = 8 Gy site bot
Zie §hormonaal.
"""


def make_book(folder: Path, count: int) -> Path:
    """A book of `count` protocols: shipped sheets (renamed) and small sheets."""
    shipped = sorted((ROOT / "protocols").rglob("*.protocol"))
    texts = [p.read_text(encoding="utf-8") for p in shipped]
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        kind = n % (len(texts) + len(texts))
        if kind < len(texts):
            text = texts[kind]
            first = text.split("\n", 1)[0]
            text = text.replace(first, f"{first}-{n:04d}", 1)
        else:
            text = SMALL.format(n=n)
        (folder / f"p{n:04d}.protocol").write_text(text, encoding="utf-8")
    return folder


def timed(command: list[str], repeat: int = 1, env: dict[str, str] | None = None) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, capture_output=True, check=False, env=env)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller book")
    parser.add_argument("--books", type=int, default=1000)
    parser.add_argument("--pdf-sample", type=int, default=6)
    args = parser.parse_args()
    count = 200 if args.quick and args.books == 1000 else args.books
    repeat = 3 if args.quick else 7
    exe = [sys.executable, "-m", "compiler"]
    rows: list[tuple[str, str]] = []
    emmaus = ROOT / "protocols" / "borst" / "emmaus-gemetastaseerd-borstcarcinoom.protocol"

    with tempfile.TemporaryDirectory() as temp_name:
        temp = Path(temp_name)
        env = {**os.environ, "XDG_CACHE_HOME": str(temp / "xdg")}
        subprocess.run([*exe, "check", str(emmaus)], cwd=ROOT, capture_output=True, check=False, env=env)
        rows.append(("python -c pass (interpreter floor)", f"{timed([sys.executable, '-c', 'pass'], repeat):.3f} s"))
        small = make_book(temp / "one", 1) / "p0000.protocol"
        for label, path in (("check one small protocol, cold process", temp / "one" / "p0000.protocol"),
                            ("check the Emmaüs protocol, cold process", emmaus)):
            seconds = timed([*exe, "check", "--no-cache", str(path)], repeat, env)
            rows.append((label, f"{seconds:.3f} s"))
        del small

        book = make_book(temp / "book", count)
        from compiler.pipeline import compile_source
        from compiler.source import SourceFile

        sources = [SourceFile.from_text(str(p), p.read_text(encoding="utf-8")) for p in sorted(book.iterdir())]
        today = datetime.date(2026, 11, 23)
        compile_source(sources[0], today)
        start = time.perf_counter()
        for source in sources:
            compile_source(source, today)
        seconds = time.perf_counter() - start
        rows.append((f"parse+check in-process, {count} mixed protocols, 1 core",
                     f"{seconds:.2f} s ({count / seconds:.0f} protocols/s)"))
        small_sources = [s for s in sources if "bench-" in s.text[:40]]
        start = time.perf_counter()
        for source in small_sources:
            compile_source(source, today)
        seconds = time.perf_counter() - start
        rows.append((f"parse+check in-process, {len(small_sources)} small protocols, 1 core",
                     f"{seconds:.2f} s ({len(small_sources) / seconds:.0f} protocols/s)"))

        cache = temp / "cache"
        one_core = timed([*exe, "check", str(book), "--no-cache", "-j", "1"], 1, env)
        two_cores = timed([*exe, "check", str(book), "--no-cache", "-j", "2"], 1, env)
        rows.append((f"check {count}-protocol book, cold, 1 process", f"{one_core:.2f} s"))
        rows.append((f"check {count}-protocol book, cold, 2 processes",
                     f"{two_cores:.2f} s (speed-up {one_core / two_cores:.2f}x)"))
        timed([*exe, "check", str(book), "--cache-dir", str(cache)], 1, env)
        warm = timed([*exe, "check", str(book), "--cache-dir", str(cache)], repeat, env)
        rows.append((f"check {count}-protocol book, warm (cached)", f"{warm:.2f} s"))

        out = temp / "out"
        cold_html = timed([*exe, "build", str(book), "-o", str(out), "--no-pdf", "-q", "--cache-dir", str(cache)],
                          1, env)
        rows.append((f"build {count}-protocol book, HTML only, cold", f"{cold_html:.2f} s"))
        nochange = timed([*exe, "build", str(book), "-o", str(out), "--no-pdf", "-q", "--cache-dir", str(cache)],
                         repeat, env)
        rows.append((f"rebuild {count}-protocol book, no change", f"{nochange:.2f} s ({cold_html / nochange:.0f}x faster)"))
        edited = book / "p0001.protocol"
        original = edited.read_text(encoding="utf-8")
        samples = []
        for i in range(repeat):
            edited.write_text(original.replace("Benchmark", f"Benchmark {i}"), encoding="utf-8")
            samples.append(timed([*exe, "build", str(book), "-o", str(out), "--no-pdf", "-q", "--cache-dir",
                                  str(cache)], 1, env))
        rows.append((f"rebuild {count}-protocol book after one edit (HTML)", f"{statistics.median(samples):.2f} s"))

        sample = make_book(temp / "pdfsample", args.pdf_sample)
        pdf_out = temp / "pdfout"
        serial = timed([*exe, "build", str(sample), "-o", str(pdf_out), "-q", "--no-cache", "-j", "1"], 1, env)
        shutil.rmtree(pdf_out, ignore_errors=True)
        parallel = timed([*exe, "build", str(sample), "-o", str(pdf_out), "-q", "--no-cache", "-j", "2"], 1, env)
        rows.append((f"build {args.pdf_sample} protocols with PDF, 1 process", f"{serial:.2f} s"))
        rows.append((f"build {args.pdf_sample} protocols with PDF, 2 processes",
                     f"{parallel:.2f} s (speed-up {serial / parallel:.2f}x; projected {count}: "
                     f"{parallel / args.pdf_sample * count / 60:.1f} min)"))

        from compiler.pipeline import compile_file
        from compiler.render.html import render_protocol
        from compiler.render.pdf import html_to_pdf
        from compiler.tables import load

        result = compile_file(emmaus, today)
        html = render_protocol(result, load())
        identity = {"id": "x", "version": "1.0", "status": "review", "sha256": "0", "title": "x", "language": "nl"}
        html_to_pdf(html, identity)
        ours = statistics.median(_time(lambda: html_to_pdf(html, identity)) for _ in range(3))
        import weasyprint

        raw = statistics.median(_time(lambda: weasyprint.HTML(string=html).write_pdf()) for _ in range(3))
        same = statistics.median(_time(lambda: _same_work(html, identity)) for _ in range(3))
        rows.append(("Emmaüs PDF: protocolc vs WeasyPrint doing the same work",
                     f"{ours:.2f} s vs {same:.2f} s (overhead {100 * (ours - same) / same:+.0f} %)"))
        rows.append(("Emmaüs PDF: protocolc vs bare WeasyPrint (no fonts, pages, PDF/UA)",
                     f"{ours:.2f} s vs {raw:.2f} s ({100 * (ours - raw) / raw:+.0f} %)"))

    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  result")
    print(f"{'-' * width}  {'-' * 40}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def _same_work(html: str, identity: dict[str, str]) -> None:
    """WeasyPrint alone with the same stylesheets, fetcher and PDF/UA variant as html_to_pdf."""
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    from compiler.render import pdf

    fetcher = pdf._fetcher()
    fonts = FontConfiguration()
    sheets = [weasyprint.CSS(string=pdf._fonts_css(), url_fetcher=fetcher, font_config=fonts),
              weasyprint.CSS(string=pdf._paged_css() + pdf._watermark_css(identity), url_fetcher=fetcher,
                             font_config=fonts)]
    weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf(stylesheets=sheets, font_config=fonts,
                                                                pdf_variant=pdf.PDF_VARIANT)


def _time(function: object) -> float:
    start = time.perf_counter()
    function()  # type: ignore[operator]
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
