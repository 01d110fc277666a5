"""The book build is incremental, cached, parallel and atomic."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compiler.batch import check_files
from compiler.cache import Cache
from compiler.pipeline import find_protocols
from tests.conftest import FIXTURES, ROOT, TODAY

HEADER = "\n".join((FIXTURES / "F001" / "pass_generic.protocol").read_text().split("\n")[:11])
SAMPLE = HEADER + "\n# Hormonale therapie\ndrug tamoxifen (Nolvadex) 20 mg po daily\n"


def make_book(folder: Path, count: int) -> Path:
    book = folder / "book"
    book.mkdir()
    text = SAMPLE
    for n in range(count):
        (book / f"p{n:02d}.protocol").write_text(text.replace("id: fixture", f"id: fixture-{n:02d}"))
    return book


def run(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "compiler", *args, "--cache-dir", str(cache)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=env)


def test_cached_check_gives_the_same_findings(tmp_path: Path) -> None:
    files = find_protocols([FIXTURES / "F001", FIXTURES / "X005", FIXTURES / "N020"])
    cache = Cache(tmp_path / "cache")
    fresh = check_files(files, TODAY, cache=cache, jobs=1)
    again = check_files(files, TODAY, cache=cache, jobs=1)
    assert all(r.protocol is None for r in again)  # taken from the cache
    assert [r.diagnostics for r in fresh] == [r.diagnostics for r in again]


def test_parallel_check_keeps_input_order(tmp_path: Path) -> None:
    files = find_protocols([FIXTURES])[:40]
    serial = check_files(files, TODAY, jobs=1)
    parallel = check_files(files, TODAY, jobs=2)
    assert [r.path for r in serial] == [r.path for r in parallel] == [str(f) for f in files]
    assert [r.diagnostics for r in serial] == [r.diagnostics for r in parallel]


def test_edit_invalidates_the_cached_result(tmp_path: Path) -> None:
    path = tmp_path / "x.protocol"
    path.write_text(SAMPLE)
    cache = Cache(tmp_path / "cache")
    assert not check_files([path], TODAY, cache=cache)[0].diagnostics
    path.write_text(SAMPLE.replace("tamoxifen (Nolvadex)", "Nolvadex"))
    assert [d.code for d in check_files([path], TODAY, cache=cache)[0].diagnostics] == ["F002"]


def test_no_change_rebuild_renders_nothing_and_one_edit_renders_one(tmp_path: Path) -> None:
    book = make_book(tmp_path, 3)
    out, cache = tmp_path / "out", tmp_path / "cache"
    start = time.perf_counter()
    first = run("build", str(book), "-o", str(out), "--no-pdf", cache=cache)
    cold = time.perf_counter() - start
    assert first.returncode == 0, first.stdout + first.stderr
    assert "rendered 3, reused 0" in first.stdout
    start = time.perf_counter()
    second = run("build", str(book), "-o", str(out), "--no-pdf", cache=cache)
    warm = time.perf_counter() - start
    assert "nothing changed: re-rendered nothing, reused 3" in second.stdout
    assert warm < cold
    (book / "p01.protocol").write_text((book / "p01.protocol").read_text().replace("Fixture", "Fixture bewerkt"))
    third = run("build", str(book), "-o", str(out), "--no-pdf", cache=cache)
    assert "rendered 1, reused 2" in third.stdout
    assert "Fixture bewerkt" in (out / "protocols" / "fixture-01.html").read_text()


def test_killed_build_leaves_the_previous_book_intact(tmp_path: Path) -> None:
    book = make_book(tmp_path, 3)
    out, cache = tmp_path / "out", tmp_path / "cache"
    assert run("build", str(book), "-o", str(out), "--no-pdf", cache=cache).returncode == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    for path in book.iterdir():
        path.write_text(path.read_text().replace("Fixture", "Nieuw"))
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen([sys.executable, "-m", "compiler", "build", str(book), "-o", str(out),
                                "--cache-dir", str(cache), "--no-cache"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # kill it mid-way: once its staging folder exists (compiling or rendering), before the swap
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if any(".staging-" in p.name for p in tmp_path.iterdir()):
            break
        time.sleep(0.01)  # polling interval of a wait with a deadline
    process.send_signal(signal.SIGKILL)
    process.wait()
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before or all("Nieuw" in (out / "protocols" / f"fixture-{n:02d}.html").read_text()
                                  for n in range(3))
    # a following build completes and cleans up any staging folder
    assert run("build", str(book), "-o", str(out), "--no-pdf", cache=cache).returncode == 0
    assert not [p for p in tmp_path.iterdir() if ".staging-" in p.name or ".previous" in p.name]
    shutil.rmtree(out)


def test_interrupted_swap_is_recovered(tmp_path: Path) -> None:
    book = make_book(tmp_path, 1)
    out, cache = tmp_path / "out", tmp_path / "cache"
    assert run("build", str(book), "-o", str(out), "--no-pdf", cache=cache).returncode == 0
    out.rename(tmp_path / ".out.previous")  # killed after the first rename of the swap
    assert not out.exists()
    from compiler.book import _recover

    _recover(out)
    assert json.loads((out / "manifest.json").read_text())["protocols"]


SHEETS = {"tamoxifen": "tamoxifen (Nolvadex) 20 mg po daily", "letrozole": "letrozole (Femara) 2,5 mg po daily",
          "anastrozole": "anastrozole (Arimidex) 1 mg po daily"}
UNUSED_ROW = """formulary_overrides:
  - drug: dexamethasone
    action: add
    reason: "Local antiemetic protocol: a drug none of these sheets gives"
    dose: {route: IV, unit: mg, usual: [8, 16], max: null, frequency: "once, day 1", use: antiemetic,
           source: "Local protocol", source_type: local, last_verified: 2026-10-01}
"""
USED_ROW = """formulary_overrides:
  - drug: tamoxifen
    action: replace
    row: 0
    reason: "Local row with a lower usual dose: the tamoxifen sheet's 20 mg becomes a warning"
    dose: {route: po, unit: mg, usual: [10, 10], max: 40, frequency: daily,
           source: "Local protocol", source_type: local, last_verified: 2026-10-01}
"""


def pdfs(out: Path) -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in (out / "protocols").glob("*.pdf")}


def test_data_change_prints_only_the_sheets_whose_page_changed(tmp_path: Path) -> None:
    book = tmp_path / "book"
    book.mkdir()
    for drug, line in SHEETS.items():
        (book / f"{drug}.protocol").write_text(HEADER.replace("id: fixture", f"id: fixture-{drug}")
                                               + f"\n# Hormonale therapie\ndrug {line}\n")
    out, cache = tmp_path / "out", tmp_path / "cache"
    first = run("build", str(book), "-o", str(out), "-j", "2", cache=cache)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "rendered 3, reused 0 unchanged; PDFs printed 3, reused 0" in first.stdout
    before = pdfs(out)
    # a data row no sheet uses: every page is made again (cheap), no PDF is printed again
    (book / "book.yaml").write_text(UNUSED_ROW)
    second = run("build", str(book), "-o", str(out), "-j", "2", cache=cache)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "rendered 3, reused 0 unchanged; PDFs printed 0, reused 3" in second.stdout
    assert pdfs(out) == before
    # a row the tamoxifen sheet uses: its findings change, so its page and PDF; the others are reused
    (book / "book.yaml").write_text(USED_ROW)
    third = run("build", str(book), "-o", str(out), "-j", "1", cache=cache)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "rendered 3, reused 0 unchanged; PDFs printed 1, reused 2" in third.stdout
    after = pdfs(out)
    assert after["fixture-tamoxifen"] != before["fixture-tamoxifen"]
    assert {k: v for k, v in after.items() if k != "fixture-tamoxifen"} == \
        {k: v for k, v in before.items() if k != "fixture-tamoxifen"}
    manifest = json.loads((out / "manifest.json").read_text())
    for pid, entry in manifest["protocols"].items():
        assert entry["pdf_sha256"] == hashlib.sha256(after[pid]).hexdigest()
    # and back: the first PDF of the tamoxifen sheet is still in the cache
    (book / "book.yaml").unlink()
    fourth = run("build", str(book), "-o", str(out), cache=cache)
    assert "nothing changed: re-rendered nothing, reused 3" in fourth.stdout
    assert pdfs(out) == before


def test_pdf_key_names_what_the_pdf_is_made_of(monkeypatch: pytest.MonkeyPatch) -> None:
    from compiler.render.pdf import pdf_key

    identity = {"id": "x", "version": "1.0", "status": "draft", "sha256": "0" * 64, "title": "X", "language": "nl"}
    base = pdf_key("<p>a</p>", identity)
    assert base == pdf_key("<p>a</p>", dict(identity))
    assert pdf_key("<p>b</p>", identity) != base
    # what the printer leaves out is not what the PDF is made of
    assert pdf_key("<p>a</p><!--screen--><table class=\"findings\"></table><!--/screen-->", identity) == base
    for key, value in (("status", "approved"), ("title", "Y"), ("sha256", "1" * 64), ("language", "en")):
        assert pdf_key("<p>a</p>", {**identity, key: value}) != base
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # the fonts' timestamps are in the bytes
    assert pdf_key("<p>a</p>", identity) != base


def test_a_register_made_since_the_last_build_is_seen_by_the_next(tmp_path: Path) -> None:
    # `serve` builds again in one process on every change: the register another process created
    # (a release) in between must count, as it does for a fresh `protocolc build`
    from compiler.book import build_book
    from compiler.versions.root import REGISTER_NAME, find_root_of_name

    folder = tmp_path / "book"
    folder.mkdir()
    sheet = folder / "rt.protocol"
    sheet.write_bytes((ROOT / "protocols" / "regimes" / "long" / "rt-long-palliatief-17gy.protocol").read_bytes())
    build_book([folder], tmp_path / "out", pdf=False, use_cache=False, jobs=1, quiet=True)
    assert find_root_of_name(str(sheet)) is None
    (folder / REGISTER_NAME).write_text("", encoding="utf-8")
    build_book([folder], tmp_path / "out", pdf=False, use_cache=False, jobs=1, quiet=True)
    assert find_root_of_name(str(sheet)) == folder
