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
  one that several files need can be built once for all workers with `shared_once`;
- the shipped book with its PDFs is `shipped_book` (`shipped_pdfs` reads its PDFs): a test
  that needs a shipped sheet printed uses it, never a build of its own; a test about one
  sheet of its own builds only that sheet.
"""

from __future__ import annotations

import datetime
import fcntl
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from compiler.checks import Context

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
TODAY = datetime.date(2026, 11, 23)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="rewrite golden files from current output")


# Hypothesis's per-example deadline (200 ms) is a timing assertion: on a loaded machine a correct
# example fails it. Tests assert behaviour only; bounded time is proven in tests/hostile by limits.
settings.register_profile("protocolc", deadline=None)
settings.load_profile("protocolc")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests (and the CLI processes they start) use their own cache folder, never the user's.

    Under xdist the factory's base folder is per worker, so each worker has its own cache. It
    starts with the accelerated parser's cache file, built once for the run: every process that
    finds none builds it again (two seconds compiling the same scanners), and the first ones of
    a run start at the same time."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    os.environ["XDG_CACHE_HOME"] = str(cache)
    # The many `python -m compiler` processes the tests start would each compile every
    # module from source when bytecode writing is off (PYTHONDONTWRITEBYTECODE, set in
    # some sandboxes): let them write and reuse it, as an installed package does.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    built = shared_once(tmp_path_factory, "parser-cache", _build_parser_cache) / "protocolc"
    for kept in built.glob("parser-*.marshal"):
        (cache / "protocolc").mkdir(exist_ok=True)
        shutil.copy2(kept, cache / "protocolc" / kept.name)


def _build_parser_cache(folder: Path) -> None:
    from compiler import parse as parsing

    before = os.environ["XDG_CACHE_HOME"]
    os.environ["XDG_CACHE_HOME"] = str(folder)
    parsing.accelerated.cache_clear()
    try:
        parsing.accelerated()  # None without lark-cython (or with PROTOCOLC_PARSER=pure): nothing to copy
    finally:
        os.environ["XDG_CACHE_HOME"] = before
        parsing.accelerated.cache_clear()


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

    A file with a module or session fixture is one group; every file that uses the shipped book
    (`shipped_book`, `shipped_pdfs`: session fixtures of this conftest) is in one shared group,
    so the book is built once and its readers wait for it on no other worker.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    if "shipped_pdfs" in text or "shipped_book" in text:
        return SHIPPED_GROUP
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

        def _assign_work_unit(self, node: Any) -> None:
            # The shipped book's group is the longest (a full PDF build, then its readers): it goes
            # out first, so it never becomes the tail of a run with the other workers idle.
            if SHIPPED_GROUP in self.workqueue:
                self.workqueue.move_to_end(SHIPPED_GROUP, last=False)
            super()._assign_work_unit(node)

    return Scheduling(config, log)


SHIPPED = sorted((ROOT / "protocols").rglob("*.protocol"))
SHIPPED_GROUP = "shipped-book"
# every sheet the parser tests read: the shipped ones and every fixture
PARSER_SHEETS = sorted(p for p in [*ROOT.glob("protocols/**/*.protocol"), *FIXTURES.glob("**/*.protocol")] if p.is_file())


def lark_cython_or_skip() -> Any:
    """lark-cython's module, for the tests of the accelerated parser; skipped when it is not installed
    or when PROTOCOLC_PARSER chooses the backend.
    """
    from compiler import parse as parsing

    try:
        import lark_cython
    except ImportError:
        pytest.skip("lark-cython is not installed")
    if os.environ.get(parsing.PARSER_ENV, "").strip().lower() == "pure":
        pytest.skip("the backend is chosen by PROTOCOLC_PARSER")
    return lark_cython.lark_cython


@pytest.fixture(scope="session")
def fast() -> Any:
    """The accelerated parser (lark-cython's loop running Lark's tables), for its tests; skipped as above."""
    from compiler import parse as parsing

    lark_cython_or_skip()
    found = parsing.accelerated()
    assert found is not None
    return found


def parser_text(path: Path) -> str | None:
    """A sheet's text as the parser is given it (line ends made `\\n`, one at the end); None if not UTF-8."""
    try:
        text = path.read_bytes().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError:
        return None
    return text if text.endswith("\n") else text + "\n"


def fixture_contexts() -> Iterator[tuple[Path, Context]]:
    """Every fixture sheet that compiles to a protocol, with a fresh check context of it (the packaged tables)."""
    from compiler.checks import Context
    from compiler.pipeline import compile_text
    from compiler.tables import load

    tables = load()
    for path in sorted(FIXTURES.glob("*/*.protocol")):
        if not path.is_file():
            continue
        result = compile_text(str(path), path.read_bytes(), TODAY)
        if result.protocol is not None and result.source is not None:
            yield path, Context(result.protocol, result.source, tables, TODAY, result.protocol.all_items())


def build_cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """`protocolc build …` as a user runs it, from the repository root, dated TODAY."""
    return subprocess.run([sys.executable, "-m", "compiler", "build", *args, "--today", TODAY.isoformat()], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, "NO_COLOR": "1"})


def _build_shipped_book(folder: Path) -> None:
    result = build_cli("protocols", "-o", str(folder / "output"))
    (folder / "build.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr


@pytest.fixture(scope="session")
def shipped_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped book (`protocolc build protocols`, every sheet with its PDF, dated TODAY), built once
    per test run for every worker: the output folder. Its build log is `build.log` beside it."""
    pytest.importorskip("weasyprint")
    return shared_once(tmp_path_factory, "shipped-book", _build_shipped_book) / "output"


def protocol_id(path: Path) -> str:
    """The `id:` a protocol file declares (its file name when it declares none)."""
    found = re.search(r"^id:[ \t]*(\S+)", path.read_text(encoding="utf-8"), re.MULTILINE)
    return found.group(1) if found else path.stem


@pytest.fixture(scope="session")
def shipped_pdfs(shipped_book: Path) -> dict[str, bytes]:
    """Every shipped protocol as `build` prints it (file stem → PDF bytes), read from the shipped book.

    They are the bytes an in-process `html_to_pdf(render_protocol(…))` of the sheet gives (the
    book's config is the default one); the book prints each sheet once for every test file."""
    return {path.stem: (shipped_book / "protocols" / f"{protocol_id(path)}.pdf").read_bytes() for path in SHIPPED}
