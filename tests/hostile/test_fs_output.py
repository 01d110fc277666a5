"""Issue 12 items 1 and 7: `build` replaces only a folder it made, and says why it refuses.

Reproduces `protocolc build site/book -o site`, which used to delete the sources and the
register; `-o` at a file, a symlink or someone else's folder; two builds into one folder
at once ("Directory not empty"); `book.yaml` that is a folder. HTML-only builds
(`--no-pdf`) of a one-protocol book keep these fast.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from compiler import cli
from compiler.book import MARKER, OutputRefused, check_output
from tests.hostile.fs_support import TODAY, popen, versions_book

Build = Callable[[Path, str, str], tuple[int, str]]


@pytest.fixture
def build(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Build:
    """An HTML-only build, in-process (the concurrent and special-file cases use subprocesses)."""

    def run(book: Path, source: str, output: str) -> tuple[int, str]:
        monkeypatch.chdir(book)
        code = cli.main(["build", source, "-o", output, "--no-pdf", "-q", "--today", TODAY])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_output_that_holds_the_sources_is_refused_and_nothing_is_deleted(tmp_path: Path, build: Build) -> None:
    book = versions_book(tmp_path)
    site = book / "site"
    shutil.move(book / "protocols", site / "book")
    (site / "book" / "RELEASES.jsonl").write_text("")
    before = snapshot(site)
    code, output = build(book, "site/book", "site")
    assert code == 2
    assert "holds the sources" in output and "would delete them" in output
    assert snapshot(site) == before


@pytest.mark.parametrize("output", ["protocols", "protocols/borst", "."])
def test_output_that_is_a_source_folder_or_the_working_folder_is_refused(tmp_path: Path, output: str, build: Build) -> None:
    book = versions_book(tmp_path)
    before = snapshot(book)
    code, message = build(book, "protocols", output)
    assert code == 2, message
    assert "build refused" in message
    assert snapshot(book) == before


def test_output_that_is_a_file_a_symlink_or_a_foreign_folder_is_refused(tmp_path: Path, build: Build) -> None:
    book = versions_book(tmp_path)
    (book / "notes.txt").write_text("keep me")
    (book / "elsewhere").mkdir()
    (book / "elsewhere" / "thesis.docx").write_text("keep me too")
    (book / "link").symlink_to(book / "elsewhere")
    for output, reason in (("notes.txt", "is a file"), ("link", "symbolic link"), ("elsewhere", "not made by")):
        code, message = build(book, "protocols", output)
        assert code == 2 and reason in message, message
    assert (book / "notes.txt").read_text() == "keep me"
    assert (book / "link").is_symlink()
    assert (book / "elsewhere" / "thesis.docx").read_text() == "keep me too"


def test_a_book_protocolc_made_is_replaced_and_carries_the_marker(tmp_path: Path, build: Build) -> None:
    book = versions_book(tmp_path)
    (book / "empty").mkdir()
    for _ in range(2):  # a new folder, then the folder the first build made
        code, message = build(book, "protocols", "out")
        assert code == 0, message
        assert (book / "out" / MARKER).is_file()
    assert build(book, "protocols", "empty")[0] == 0


def test_a_book_built_before_the_marker_is_still_replaced(tmp_path: Path) -> None:
    legacy = tmp_path / "output"
    legacy.mkdir()
    (legacy / "index.html").write_text("<html></html>")
    (legacy / "manifest.json").write_text(json.dumps({"generator": "protocolc 0.9.0", "protocols": {}}))
    check_output(legacy, [tmp_path / "protocols"])
    (legacy / "manifest.json").write_text(json.dumps({"generator": "something else"}))
    with pytest.raises(OutputRefused):
        check_output(legacy, [tmp_path / "protocols"])


def test_two_builds_into_one_folder_at_once_both_succeed(tmp_path: Path) -> None:
    book = versions_book(tmp_path)
    args = ("build", "protocols", "-o", "out", "--no-pdf", "-q", "--no-cache", "--today", TODAY)
    first, second = popen(*args, cwd=book), popen(*args, cwd=book)
    results = [p.communicate(timeout=120) for p in (first, second)]
    for process, (stdout, stderr) in zip((first, second), results, strict=True):
        assert process.returncode == 0, stdout + stderr
        assert "Traceback" not in stderr and "Directory not empty" not in stderr
    assert (book / "out" / MARKER).is_file() and (book / "out" / "index.html").is_file()
    assert not list(book.glob(".out.staging-*")) and not (book / ".out.previous").exists()


def test_book_yaml_that_is_a_folder_is_a_configuration_error(tmp_path: Path, build: Build) -> None:
    book = versions_book(tmp_path)
    (book / "protocols" / "book.yaml").mkdir()
    code, message = build(book, "protocols", "out")
    assert code == 2
    assert "book configuration" in message and "a folder" in message
