"""`protocolc serve`: serves the book, rebuilds on save, reloads, shows findings."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import FIXTURES, ROOT

HEADER = "\n".join((FIXTURES / "F001" / "pass_generic.protocol").read_text().split("\n")[:11])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return str(reply.read().decode("utf-8"))


def wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(1.0)
    raise AssertionError("timed out")


def test_serve_rebuilds_on_save_and_shows_findings(tmp_path: Path) -> None:
    book = tmp_path / "book"
    book.mkdir()
    source = book / "live.protocol"
    source.write_text(HEADER.replace("id: fixture", "id: live") + "\n# Sectie\ndrug tamoxifen 20 mg po daily\n")
    port = free_port()
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen([sys.executable, "-m", "compiler", "serve", str(book), "--port", str(port)], cwd=ROOT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: "live" in get(base + "/"))
        page = get(base + "/protocols/live.html")
        assert "/__protocolc/live.js" in page and 'id="protocolc-overlay"' in page
        generation = json.loads(get(base + "/__protocolc/state"))["generation"]
        edited = source.read_text().replace("drug tamoxifen", "drug tamoxifne")

        def saved_and_rebuilt() -> bool:
            # save again on every poll: a file watcher that was still starting may miss one save
            source.write_text(edited)
            return bool(json.loads(get(base + "/__protocolc/state"))["generation"] > generation)

        wait_for(saved_and_rebuilt)
        page = get(base + "/protocols/live.html")
        assert "F001" in page and "tamoxifne" in page  # not rendered (an error), its findings are shown
        assert "<script>" not in page.split('id="protocolc-overlay"')[1].split("</aside>")[0]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_removes_its_temporary_folder_on_sigterm(tmp_path: Path) -> None:
    book = tmp_path / "book"
    book.mkdir()
    (book / "live.protocol").write_text(HEADER.replace("id: fixture", "id: live") + "\n# Sectie\ndrug tamoxifen 20 mg po daily\n")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    port = free_port()
    env = {**os.environ, "NO_COLOR": "1", "TMPDIR": str(temporary)}
    process = subprocess.Popen([sys.executable, "-m", "compiler", "serve", str(book), "--port", str(port)], cwd=ROOT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: "live" in get(f"http://127.0.0.1:{port}/"))
        assert list(temporary.glob("protocolc-serve-*"))
    finally:
        process.terminate()  # SIGTERM
        process.wait(timeout=30)
    assert not list(temporary.glob("protocolc-serve-*"))
