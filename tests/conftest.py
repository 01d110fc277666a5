"""Shared test setup, and how the suite runs in parallel.

The suite runs on pytest-xdist workers (`-n auto --dist loadfile` in pyproject.toml;
`-n 0` runs in-process). The scheduler below keeps every test of a file that defines a
module- or session-scoped fixture on one worker, so that fixture is built once per run,
and spreads the tests of every other file one by one. To keep a test xdist-safe:

- write only under `tmp_path` / `tmp_path_factory` (per worker), never into the
  repository or a fixed /tmp path; `XDG_CACHE_HOME` is per worker (below);
- pass environment to subprocesses with `env=`, do not change `os.environ` in a test;
- pick ports with port 0; never sleep — wait for a condition with a deadline;
- make an expensive fixture (a built book, a rendered PDF) module- or session-scoped;
  one that several files need can be built once for all workers with `shared_once`.
"""

from __future__ import annotations

import datetime
import fcntl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
TODAY = datetime.date(2026, 11, 23)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="rewrite golden files from current output")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests (and the CLI processes they start) use their own cache folder, never the user's.

    Under xdist the factory's base folder is per worker, so each worker has its own cache."""
    import os

    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    # The many `python -m compiler` processes the tests start would each compile every
    # module from source when bytecode writing is off (PYTHONDONTWRITEBYTECODE, set in
    # some sandboxes): let them write and reuse it, as an installed package does.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def shared_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """A folder `make` fills once per test run, whichever xdist worker asks first.

    The other workers wait on a file lock and reuse the folder. `make` must fill the
    folder it is given completely or raise; a failure is re-raised in every worker."""
    base = tmp_path_factory.getbasetemp()
    if base.name.startswith("popen-gw"):  # under xdist: the run's folder, shared by the workers
        base = base.parent
    folder, done, failed = base / f"shared-{name}", base / f"shared-{name}.done", base / f"shared-{name}.failed"
    with (base / f"shared-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if failed.exists():
            pytest.fail(f"building the shared fixture {name} failed in another worker:\n{failed.read_text()}")
        if not done.exists():
            folder.mkdir(exist_ok=True)
            try:
                make(folder)
            except BaseException as error:
                failed.write_text(f"{type(error).__name__}: {error}")
                raise
            done.touch()
    return folder


def _file_scope(path: Path) -> str | None:
    """The group a test file's tests run in on one worker, or None to spread its tests one by one.

    A file with a module or session fixture is one group; every file that uses the shipped PDFs
    (a session fixture of this conftest) is in one shared group, so they are printed once.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    if "shipped_pdfs" in text:
        return "shipped-pdfs"
    return str(path) if 'scope="module"' in text or 'scope="session"' in text else None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, but only for files with a module/session fixture; other tests one by one."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    grouped: dict[str, str | None] = {}

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            if file not in grouped:
                grouped[file] = _file_scope(Path(config.rootpath) / file)
            return grouped[file] or nodeid

    return Scheduling(config, log)


SHIPPED = sorted((ROOT / "protocols").rglob("*.protocol"))


@pytest.fixture(scope="session")
def shipped_pdfs() -> dict[str, bytes]:
    """Every shipped protocol printed once per test session, as `build` prints it (file stem → PDF bytes)."""
    pytest.importorskip("weasyprint")
    from compiler.pipeline import compile_file, summarize
    from compiler.render.html import render_protocol
    from compiler.render.pdf import html_to_pdf
    from compiler.tables import load

    out: dict[str, bytes] = {}
    for path in SHIPPED:
        result = compile_file(path, TODAY)
        summary = summarize(result)
        identity = {key: summary.get(key, "") for key in ("id", "version", "status", "sha256", "title", "language")}
        out[path.stem] = html_to_pdf(render_protocol(result, load(), None, TODAY), identity)
    return out
