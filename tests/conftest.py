import datetime
from pathlib import Path

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
    """Tests (and the CLI processes they start) use their own cache folder, never the user's."""
    import os

    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


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
