"""The published site as a reader uses it: links between pages, the superseded and
out-of-date banners, the index's views, ordinary output files, the base URL warning."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT
from tests.site_links import broken_links

HEADER = "\n".join((FIXTURES / "F001" / "pass_generic.protocol").read_text().split("\n")[:11])


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compiler", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "NO_COLOR": "1"})


def sheet(pid: str, version: str, body: str) -> str:
    return (HEADER.replace("id: fixture", f"id: {pid}").replace("version: 1.0", f"version: {version}")
            + "\n# Hormonale therapie\n" + body + "\n")


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    # --no-pdf: the releases' controlled PDFs would only be archived; this book is built
    # without PDFs, and what it shows of a release (pages, banners, links) comes from the register
    root = tmp_path_factory.mktemp("book") / "protocols"
    (root / "borst").mkdir(parents=True)
    (root / "long").mkdir()
    tam = root / "borst" / "tam.protocol"
    tam.write_text(sheet("tam", "1.0", "drug tamoxifen (Nolvadex) 20 mg po daily"))
    assert cli("release", str(tam), "--approver", "MFC", "--note", "eerste versie", "--no-pdf").returncode == 0
    tam.write_text(sheet("tam", "1.1", "Bij HR+ ziekte.\ndrug tamoxifen (Nolvadex) 20 mg po daily"))
    assert cli("release", str(tam), "--approver", "MFC", "--note", "tekst", "--no-pdf").returncode == 0
    (root / "long" / "let.protocol").write_text(sheet("let", "1.0", "drug letrozole 2,5 mg po daily"))
    out = root.parent / "out"
    built = cli("build", str(root), "-o", str(out), "--no-pdf", "-q")
    assert built.returncode == 0, built.stdout + built.stderr
    return out, built


def test_links_resolve(book: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = book
    assert broken_links(out) == []
    page = (out / "protocols" / "tam.html").read_text()
    for link in ('href="../index.html"', 'href="tam.report.html"', 'href="tam.history.html"'):
        assert link in page


def test_superseded_page_links_to_the_current_version(book: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = book
    old = (out / "protocols" / "tam" / "1.0.html").read_text()
    assert 'class="version-banner superseded-banner" role="alert"' in old
    assert "Deze versie (1.0) is vervangen" in old and 'href="../tam.html"' in old and "(1.1)" in old


def test_page_opened_from_an_old_printout_says_it_is_out_of_date(
        book: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = book
    page = (out / "protocols" / "tam.html").read_text()
    # without script: the page says which version is valid; with it, a banner names the printed version
    assert "Dit is versie 1.1. Heeft u een afdruk met een ander versienummer" in page
    assert 'id="outdated" role="alert" hidden' in page and 'URLSearchParams(window.location.search).get("version")' in page
    assert "de geldige versie is 1.1" in page


def test_index_groups_by_folder_drug_and_status(book: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = book
    index = (out / "index.html").read_text()
    folders = index[index.index('id="by-folder"'):index.index('id="by-status"')]
    assert folders.index('<h3 class="folder">borst</h3>') < folders.index("tam.html") \
        < folders.index('<h3 class="folder">long</h3>') < folders.index("let.html")
    drugs = index[index.index('id="by-drug"'):]
    assert "<dt>tamoxifen</dt>" in drugs and ("<dt>letrozol</dt>" in drugs or "<dt>letrozole</dt>" in drugs)
    assert 'id="reviews-due"' in index


def test_outputs_are_ordinary_files_not_links_into_the_cache(tmp_path: Path) -> None:
    source = tmp_path / "p"
    source.mkdir()
    (source / "let.protocol").write_text(sheet("let", "1.0", "drug letrozole 2,5 mg po daily"))
    cache = tmp_path / "cache"
    for _ in range(2):  # the second build reuses the cache
        built = cli("build", str(source), "-o", str(tmp_path / "out"), "--no-pdf", "-q", "--cache-dir", str(cache))
        assert built.returncode == 0, built.stderr
    for name in ("let.html", "let.report.html"):
        info = (tmp_path / "out" / "protocols" / name).stat()
        assert info.st_nlink == 1, name
        assert stat.S_IMODE(info.st_mode) & 0o044 == 0o044, name  # readable by a web server


def test_build_warns_while_the_base_url_is_unset(book: tuple[Path, subprocess.CompletedProcess[str]],
                                                 tmp_path: Path) -> None:
    _, built = book
    assert "no base_url" in built.stderr
    source = tmp_path / "p"
    source.mkdir()
    (source / "let.protocol").write_text(sheet("let", "1.0", "drug letrozole 2,5 mg po daily"))
    (source / "book.yaml").write_text("base_url: https://procedures.example.be/\n")
    quiet = cli("build", str(source), "-o", str(tmp_path / "out"), "--no-pdf", "-q")
    assert quiet.returncode == 0 and "no base_url" not in quiet.stderr


def test_shipped_book_yaml_is_a_valid_commented_example() -> None:
    from compiler.bookconfig import load_config

    text = (ROOT / "protocols" / "book.yaml").read_text()
    assert "# base_url:" in text
    assert not load_config(ROOT / "protocols").base_url_set
