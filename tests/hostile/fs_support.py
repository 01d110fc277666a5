"""Shared by the hostile file-system, release, verify and serve tests: run protocolc in a
subprocess with limits on time, CPU and memory, so a regression (an endless read, a hang,
a memory blow-up) fails one test instead of taking the suite or the machine down."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

MEMORY_LIMIT = 2 * 1024**3  # address space per protocolc process (bytes)
CPU_SECONDS = 60
WALL_SECONDS = 90
VERSIONS_BOOK = ROOT / "tests" / "data" / "versions"
SHEET = "protocols/borst/hormonaal.protocol"
PID = "borst-hormonaal"
TODAY = "2026-11-23"


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def protocolc(*args: str, cwd: Path, env: dict[str, str] | None = None,
              timeout: float = WALL_SECONDS) -> subprocess.CompletedProcess[str]:
    """`python -m compiler ARGS` under limits; never a traceback on stderr."""
    environment = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT), **(env or {})}
    result = subprocess.run([sys.executable, "-m", "compiler", *args], cwd=cwd, capture_output=True, text=True,
                            env=environment, timeout=timeout, preexec_fn=_limits, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _limits_and_ctrl_c() -> None:
    _limits()
    # A job started in the background by a non-interactive shell (as some CI runners start the
    # suite) inherits SIGINT ignored, and Python then never turns it into KeyboardInterrupt:
    # a test that presses Ctrl-C sends it as a terminal delivers it to the foreground process.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start protocolc under the same limits (for concurrency and kill tests); SIGINT stops it as Ctrl-C does."""
    environment = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "compiler", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=environment, preexec_fn=_limits_and_ctrl_c)


def versions_book(tmp_path: Path) -> Path:
    """A copy of the small test book (one releasable protocol, no register yet)."""
    book = tmp_path / "book"
    shutil.copytree(VERSIONS_BOOK, book)
    return book
