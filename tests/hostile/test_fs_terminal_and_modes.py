"""Issue 12 item 8 (file and terminal parts): escape sequences in a sheet are shown, not
obeyed; `fmt`, `--fix`, `release` and the cache keep file modes (the cache stays private)
and never replace a symbolic link by a plain file; worker processes die with protocolc.
"""

from __future__ import annotations

import io
import os
import select
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from compiler import report
from compiler.cache import Cache
from compiler.fsutil import NotRegularFile, write_atomic
from compiler.pipeline import compile_text
from tests.conftest import ROOT
from tests.hostile.fs_support import SHEET, TODAY, protocolc, versions_book

HEADER = "\n".join((ROOT / "tests" / "fixtures" / "F001" / "pass_generic.protocol").read_text().split("\n")[:11])
HOSTILE = HEADER + "\n\n# S\ndrug tamoxifne\x1b]0;pwned\x07\x1b[2J 20 mg po daily \u202eevil\n"


def umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_escape_sequences_from_the_sheet_are_shown_escaped() -> None:
    result = compile_text("hostile.protocol", HOSTILE.encode())
    stream = io.StringIO()
    report.human([result], [], stream)
    text = stream.getvalue()
    assert result.diagnostics
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in text and "\\u202e" in text


def test_escape_sequences_do_not_reach_the_terminal_from_the_cli(tmp_path: Path) -> None:
    (tmp_path / "hostile\x1b[2J.protocol").write_text(HOSTILE)
    result = protocolc("check", ".", "--no-cache", cwd=tmp_path)
    assert result.returncode == 1
    assert "\x1b" not in result.stdout + result.stderr
    assert "hostile\\x1b[2J.protocol" in result.stdout


def test_fmt_keeps_the_mode_and_refuses_a_symlink(tmp_path: Path) -> None:
    book = versions_book(tmp_path)
    sheet = book / SHEET
    sheet.write_text(sheet.read_text().replace("drug letrozole", "drug   letrozole"))
    sheet.chmod(0o640)
    link = book / "protocols" / "link.protocol"
    target = tmp_path / "elsewhere.protocol"
    target.write_text(sheet.read_text().replace("id: borst-hormonaal", "id: elders"))
    link.symlink_to(target)
    result = protocolc("fmt", "protocols", cwd=book)
    assert result.returncode == 1  # one file refused
    assert "link.protocol is a symbolic link" in result.stderr
    assert link.is_symlink() and "drug   letrozole" in target.read_text()
    assert "drug letrozole" in sheet.read_text()
    assert mode(sheet) == 0o640 and mode(sheet.with_name(sheet.name + "~")) == 0o640


def test_fix_keeps_the_mode_and_refuses_a_symlink(tmp_path: Path) -> None:
    book = versions_book(tmp_path)
    sheet = book / SHEET
    sheet.write_text(sheet.read_text().replace("drug letrozole", "drug letrozoel"))
    sheet.chmod(0o604)
    target = book / "shared" / "elders.protocol"  # inside the working folder: a link --fix may read
    target.parent.mkdir()
    target.write_text(sheet.read_text().replace("id: borst-hormonaal", "id: elders"))
    (book / "protocols" / "link.protocol").symlink_to(target)
    result = protocolc("check", "protocols", "--fix", "--no-cache", "--today", TODAY, cwd=book)
    assert "fixed 1 finding(s)" in result.stderr
    assert "not fixed protocols/link.protocol: it is a symbolic link" in result.stderr
    assert "drug letrozole" in sheet.read_text() and mode(sheet) == 0o604
    assert (book / "protocols" / "link.protocol").is_symlink() and "letrozoel" in target.read_text()


def test_release_writes_ordinary_modes_and_the_cache_stays_private(tmp_path: Path) -> None:
    book = versions_book(tmp_path)
    result = protocolc("release", SHEET, "--approver", "Comité", "--no-pdf", "--today", TODAY, cwd=book)
    assert result.returncode == 0, result.stdout + result.stderr
    root = book / "protocols"
    for path in (root / "RELEASES.jsonl", root / ".archive" / "borst-hormonaal" / "1.0.protocol", root / ".archive" / "HEAD"):
        assert mode(path) == umask_mode(), path
    cache = Cache(tmp_path / "cache")
    cache.write_bytes("k", "html", b"x")
    assert mode(tmp_path / "cache" / "k.html") == 0o600


def test_write_atomic_keeps_the_mode_and_refuses_symlinks(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("old")
    target.chmod(0o640)
    write_atomic(target, b"new")
    assert target.read_text() == "new" and mode(target) == 0o640
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(NotRegularFile):
        write_atomic(link, b"through the link")
    assert link.is_symlink() and target.read_text() == "new"


WORKER_SCRIPT = """
import os, signal, sys
from compiler.workers import pool
executor = pool(1)
print(executor.submit(os.getpid).result(), flush=True)
signal.pause()
"""


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs pidfd_open (Linux)")
def test_worker_processes_die_with_a_killed_parent() -> None:
    parent = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        handle = os.pidfd_open(worker)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
    try:
        ready, _, _ = select.select([handle], [], [], 30)  # readable once the worker has exited
        assert ready, f"worker {worker} outlived its killed parent"
    finally:
        os.close(handle)


def test_diff_output_shows_escape_sequences_escaped() -> None:
    from compiler.versions.report import compare, write_text

    old = HEADER + "\n\n# Sectie \x1b[2J\nnote: eerst\x1b]0;pwned\x07.\ndrug tamoxifen 20 mg po daily\n"
    new = old.replace("eerst\x1b]0;pwned\x07.", "daarna\x1b]0;pwned\x07.").replace("20 mg", "40 mg")
    stream = io.StringIO()
    write_text(compare("old", old.encode(), "new", new.encode()), stream, colour=False)
    text = stream.getvalue()
    assert "tamoxifen" in text and "\x1b" not in text and "\x07" not in text
