"""Issue 12 item 4: special files and unreadable folders.

A `.protocol` symlink to /dev/zero or /dev/urandom used to be read without limit, a FIFO
hung the check, `book.yaml` → /dev/zero hung the build, and an unreadable subfolder was
skipped with exit 0. Each now ends quickly (the subprocess runs under CPU, memory and
wall-clock limits) with a diagnostic and a non-zero exit.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from compiler import cli
from compiler.fsutil import NotRegularFile, TooLarge, read_limited
from compiler.pipeline import compile_file, find_protocols
from tests.hostile.fs_support import TODAY, protocolc, versions_book

DEVICES = [d for d in ("/dev/zero", "/dev/urandom") if os.path.exists(d)]


@pytest.mark.parametrize("device", DEVICES)
def test_a_protocol_linked_to_a_device_is_refused(tmp_path: Path, device: str) -> None:
    book = versions_book(tmp_path)
    (book / "protocols" / "endless.protocol").symlink_to(device)
    result = protocolc("check", "protocols", "--no-cache", "--today", TODAY, cwd=book)
    assert result.returncode == 1
    assert "error[P010]: cannot read: a character device, not a regular file" in result.stdout
    assert "endless.protocol" in result.stdout


def test_a_fifo_protocol_does_not_hang(tmp_path: Path) -> None:
    book = versions_book(tmp_path)
    os.mkfifo(book / "protocols" / "pipe.protocol")
    result = protocolc("check", "protocols", "--no-cache", "--today", TODAY, cwd=book, timeout=60)
    assert result.returncode == 1
    assert "error[P010]: cannot read: a FIFO, not a regular file" in result.stdout


def test_book_yaml_linked_to_dev_zero_does_not_hang(tmp_path: Path) -> None:
    book = versions_book(tmp_path)
    (book / "protocols" / "book.yaml").symlink_to("/dev/zero")
    result = protocolc("build", "protocols", "-o", "out", "--no-pdf", "--today", TODAY, cwd=book, timeout=60)
    assert result.returncode == 2
    assert "book configuration" in result.stderr and "not a regular file (a character device)" in result.stderr


def test_a_file_larger_than_the_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    big = tmp_path / "big.protocol"
    big.write_bytes(b"x" * 3_000_000)
    with pytest.raises(TooLarge):
        read_limited(big, 1_000_000)
    result = compile_file(big)
    assert [d.code for d in result.diagnostics] == ["P003"]


def test_read_limited_checks_the_opened_file_not_the_name(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(NotRegularFile):
        read_limited(tmp_path / "fifo", 10)  # opened without blocking, refused on its descriptor
    with pytest.raises(NotRegularFile):
        read_limited(tmp_path, 10)
    assert read_limited(Path(__file__), 10_000_000).startswith(b'"""Issue 12')


def test_an_unreadable_subfolder_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    book = versions_book(tmp_path)
    hidden = book / "protocols" / "hidden"
    hidden.mkdir()
    (hidden / "secret.protocol").write_text("id: x\n")
    real_scandir = os.scandir

    def scandir(path: object) -> object:  # what an unreadable folder does, also when the tests run as root
        if Path(os.path.abspath(str(path))) == hidden:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[call-overload]

    monkeypatch.setattr(os, "scandir", scandir)
    assert hidden in find_protocols([book / "protocols"])
    monkeypatch.chdir(book)
    code = cli.main(["check", "protocols", "--no-cache", "--today", TODAY])
    out = capsys.readouterr().out
    assert code == 1
    assert "error[P010]" in out and "protocols/hidden" in out


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_an_unreadable_subfolder_is_reported_end_to_end(tmp_path: Path) -> None:
    book = versions_book(tmp_path)
    hidden = book / "protocols" / "hidden"
    hidden.mkdir()
    (hidden / "secret.protocol").write_text("id: x\n")
    hidden.chmod(0)
    try:
        result = protocolc("check", "protocols", "--no-cache", "--today", TODAY, cwd=book)
    finally:
        hidden.chmod(0o755)
    assert result.returncode == 1
    assert "error[P010]: cannot read folder: Permission denied" in result.stdout


def test_a_fifo_register_or_pdf_to_verify_does_not_hang(tmp_path: Path) -> None:
    book = versions_book(tmp_path)
    os.mkfifo(book / "protocols" / "RELEASES.jsonl")
    os.mkfifo(book / "copy.pdf")
    result = protocolc("verify", "copy.pdf", "--book", "protocols", cwd=book, timeout=60)
    assert result.returncode == 1  # the register cannot be read: no answer can be trusted
    assert "cannot read the register: not a regular file (a FIFO)" in result.stderr
    (book / "protocols" / "RELEASES.jsonl").unlink()
    (book / "protocols" / "RELEASES.jsonl").write_text("")
    result = protocolc("verify", "copy.pdf", "--book", "protocols", cwd=book, timeout=60)
    assert result.returncode == 2 and "cannot read copy.pdf: not a regular file (a FIFO)" in result.stderr


def test_a_protocol_linked_to_a_file_outside_the_book_is_not_quoted(tmp_path: Path) -> None:
    book = versions_book(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:geheim wachtwoord\n")
    (book / "protocols" / "leak.protocol").symlink_to(secret)
    (book / "protocols" / "inside.protocol").symlink_to(book / "protocols" / "borst" / "hormonaal.protocol")
    result = protocolc("check", "protocols", "--no-cache", "--today", TODAY, cwd=book)
    assert "geheim" not in result.stdout
    assert "error[P010]: cannot read: a symbolic link to a file outside the book" in result.stdout
    assert "P008" in result.stdout and "protocols/inside.protocol:" in result.stdout  # a link inside is read
