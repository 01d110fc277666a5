"""The published HTML passes the real external checkers: the W3C Nu HTML checker (vnu)
and axe-core in headless Chromium. `.ci/run` installs both and sets the variables; a
local run without them skips (CI, with PROTOCOLC_REQUIRE_TOOLS, fails instead)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
import threading
import urllib.parse
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


# The checker's JVM without its optimizing compiler (C1 only): a run of a minute's pages spent
# more CPU compiling than checking. C1 code needs more stack than the checker's 512k minimum.
NU_JVM = ("-Xss8m", "-XX:TieredStopAtLevel=1")


# A page the Nu checker must fail, checked in the same run (so a run that checks nothing cannot pass).
NU_CONTROL = '<!DOCTYPE html><html lang="nl"><head><title>x</title></head><body><p id="a"><span id="a"></span></p></body></html>'


def test_html_passes_the_nu_checker(site: Path, tmp_path: Path) -> None:
    jar = tool("VNU_JAR")
    control = tmp_path / "invalid.html"
    control.write_text(NU_CONTROL, encoding="utf-8")
    checked = [*pages(site), control]
    result = subprocess.run(["java", *NU_JVM, "-jar", jar, "--errors-only", "--format", "json", *map(str, checked)],
                            capture_output=True, text=True, timeout=600)
    messages = json.loads(result.stderr or result.stdout)["messages"]
    assert result.returncode == 1, result.stdout + result.stderr
    assert {Path(urllib.parse.urlparse(m.get("url", "")).path) for m in messages} == {control}, json.dumps(messages, indent=1)


# A page axe must fail (so a run that checks nothing cannot pass): text at 1.6:1 contrast and an
# image without a text alternative.
AXE_CONTROL = """<!DOCTYPE html>
<html lang="nl"><head><meta charset="utf-8"><title>Controle</title></head>
<body><main><h1>Controle</h1><p style="color:#ccc;background:#fff">Bijna onleesbaar</p><img src="x.png"></main></body>
</html>
"""


def test_html_passes_axe_core(site: Path, tmp_path: Path) -> None:
    env = {**os.environ, "AXE_MODULES": tool("AXE_MODULES"), "CHROMEDRIVER": tool("CHROMEDRIVER"),
           "CHROMIUM": tool("CHROMIUM")}
    (tmp_path / "index.html").write_text(AXE_CONTROL, encoding="utf-8")
    with serving(site) as port, serving(tmp_path) as control_port:
        urls = [f"http://127.0.0.1:{port}/{p.relative_to(site).as_posix()}" for p in axe_pages(site)]
        control = f"http://127.0.0.1:{control_port}/index.html"
        result = subprocess.run(["node", str(ROOT / "tests" / "axe_pages.js"), *urls, control],
                                capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    found = {page["url"]: page["violations"] for page in map(json.loads, result.stdout.splitlines())}
    assert set(found) == {*urls, control}, "axe did not report on every page"
    assert {"color-contrast", "image-alt"} <= {violation["id"] for violation in found.pop(control)}
    assert {url: violations for url, violations in found.items() if violations} == {}


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
