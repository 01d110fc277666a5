"""The published HTML passes the real external checkers: the W3C Nu HTML checker (vnu)
and axe-core in headless Chromium. `.ci/run` installs both and sets the variables; a
local run without them skips (CI, with PROTOCOLC_REQUIRE_TOOLS, fails instead)."""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import ROOT


def tool(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        if os.environ.get("PROTOCOLC_REQUIRE_TOOLS"):
            pytest.fail(f"{variable} is not set but external tools are required (CI)")
        pytest.skip(f"{variable} not set (.ci/run installs it)")
    return value


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("site") / "output"
    result = subprocess.run([sys.executable, "-m", "compiler", "build", "protocols", "-o", str(output), "--no-pdf",
                             "-q"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return output


def pages(site: Path) -> list[Path]:
    found = [site / "index.html", *sorted((site / "protocols").glob("*.html")), site / "rules" / "index.html",
             site / "rules" / "F001.html"]
    assert len(found) >= 6
    return found


# axe-core drives a browser page by page (about a second each): it checks one sheet of every
# kind — the three seed sheets, a regimen with supportive-care timing and PRN, one with phases,
# one with dose levels and dose-modification tables, a radiotherapy course — with their report
# and history pages, the index and the rule pages. The Nu checker, which is fast, checks every page.
AXE_SHEETS = ("emmaus-gemetastaseerd-borstcarcinoom", "doelgerichte-therapie-borstkanker", "nsclc-immuuntherapie",
              "regime-ac-q21d", "regime-paclitaxel-trastuzumab-wekelijks", "regime-trastuzumab-emtansine-adjuvant",
              "regime-rt-borst-40gy-15-fracties")


def axe_pages(site: Path) -> list[Path]:
    chosen = [p for p in pages(site) if p.parent.name != "protocols" or p.name.split(".")[0] in AXE_SHEETS]
    assert {p.name.split(".")[0] for p in chosen if p.parent.name == "protocols"} == set(AXE_SHEETS)
    return chosen


@contextlib.contextmanager
def serving(site: Path) -> Iterator[int]:
    """The built site on a local HTTP server, for the browser-based checks; yields its port."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()


def test_html_passes_the_nu_checker(site: Path) -> None:
    jar = tool("VNU_JAR")
    result = subprocess.run(["java", "-jar", jar, "--errors-only", "--format", "text", *map(str, pages(site))],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_html_passes_axe_core(site: Path) -> None:
    axe = tool("AXE_CLI")
    chromedriver = tool("CHROMEDRIVER")
    chromium = tool("CHROMIUM")
    with serving(site) as port:
        urls = [f"http://127.0.0.1:{port}/{p.relative_to(site).as_posix()}" for p in axe_pages(site)]
        options = ("no-sandbox,headless,disable-gpu,disable-dev-shm-usage,disable-background-networking,"
                   "disable-component-update,disable-sync,no-first-run")
        result = subprocess.run([axe, *urls, "--chromedriver-path", chromedriver, "--chrome-path", chromium,
                                 f"--chrome-options={options}", "--exit"],
                                capture_output=True, text=True, timeout=900, env={**os.environ, "NO_COLOR": "1"})
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_every_link_of_the_shipped_site_resolves(site: Path) -> None:
    from tests.site_links import broken_links

    assert broken_links(site) == []
    page = (site / "protocols" / "emmaus-gemetastaseerd-borstcarcinoom.html").read_text()
    for link in ('href="../index.html"', 'href="emmaus-gemetastaseerd-borstcarcinoom.report.html"'):
        assert link in page


def test_a_page_opened_from_an_old_printout_says_so_in_a_browser(site: Path) -> None:
    chromium = tool("CHROMIUM")
    with serving(site) as port:
        page = f"http://127.0.0.1:{port}/protocols/emmaus-gemetastaseerd-borstcarcinoom.html"

        def dom(url: str) -> str:
            result = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", url],
                                    capture_output=True, text=True, timeout=120)
            return result.stdout

        old = dom(page + "?version=0.9")
        assert '<span class="printed-version">0.9</span>) is niet meer geldig' in old
        assert 'id="outdated" role="alert" hidden' not in old
        assert 'id="outdated" role="alert" hidden' in dom(page + "?version=1.0")
