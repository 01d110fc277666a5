"""Issue 12 item 6: `verify` trusts the register's hash chain, nothing beside the PDF.

A forged PDF with a `manifest.json` beside it, or copied over `.archive/…pdf`, used to be
"current" (exit 0). A deleted RELEASES.jsonl, or a deleted or edited last record, went
unnoticed. The book here is released in-process through the same transaction `release`
uses (with a tiny PDF made by pypdf, so no WeasyPrint render is needed).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from pypdf import PdfWriter

from compiler.pipeline import compile_file
from compiler.versions.register import GENESIS, ReleaseRecord, archive_path, read_register, verify_chain
from compiler.versions.transaction import ArchivedFile, book_lock, commit
from tests.conftest import TODAY
from tests.hostile.fs_support import PID, SHEET, protocolc, versions_book

SECOND = "borst-tweede"


def pdf(pid: str, sha256: str, text: str = "") -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/protocolcId": pid, "/protocolcVersion": "1.0", "/protocolcStatus": "approved",
                         "/protocolcSha256": sha256, "/Subject": text})
    stream = io.BytesIO()
    writer.write(stream)
    return stream.getvalue()


def release(root: Path, sheet: Path) -> bytes:
    """What `protocolc release` records, made directly (the transaction is the same)."""
    source = sheet.read_bytes()
    sha = hashlib.sha256(source).hexdigest()
    pid = next(line.split(":", 1)[1].strip() for line in source.decode().splitlines() if line.startswith("id:"))
    document = pdf(pid, sha)
    with book_lock(root):
        register = read_register(root) if (root / "RELEASES.jsonl").exists() else None
        records = register.records if register else ()
        record = ReleaseRecord(seq=len(records) + 1, id=pid, version="1.0", from_status="draft", status="approved",
                               sha256=sha, prev=register.head if register else GENESIS, author="Apotheek",
                               approver="Comité", approved=TODAY.isoformat(), note="Eerste versie.",
                               change_class="clinical", compiler="protocolc test", data="test",
                               pdf_sha256=hashlib.sha256(document).hexdigest())
        commit(root, [record], [ArchivedFile(archive_path(root, pid, "1.0"), source),
                                ArchivedFile(archive_path(root, pid, "1.0", ".pdf"), document)])
    return document


@pytest.fixture
def book(tmp_path: Path) -> Path:
    book = versions_book(tmp_path)
    second = book / "protocols" / "borst" / "tweede.protocol"
    second.write_text((book / SHEET).read_text().replace(f"id: {PID}", f"id: {SECOND}"))
    release(book / "protocols", book / SHEET)
    release(book / "protocols", second)
    return book


def verify(book: Path, *args: str) -> tuple[int, str]:
    result = protocolc("verify", *args, "--book", "protocols", cwd=book)
    return result.returncode, result.stdout + result.stderr


def v009(book: Path) -> list[str]:
    return [d.message for d in compile_file(book / SHEET, TODAY).diagnostics if d.code == "V009"]


def test_the_genuine_pdf_is_current(book: Path) -> None:
    genuine = book / "copy.pdf"
    genuine.write_bytes(archive_path(book / "protocols", PID, "1.0", ".pdf").read_bytes())
    assert verify(book, str(genuine))[0] == 0


def test_a_forged_pdf_with_a_forged_manifest_beside_it_is_altered(book: Path) -> None:
    sha = read_register(book / "protocols").release(PID, "1.0").sha256  # type: ignore[union-attr]
    forged = pdf(PID, sha, "vervalst: 10x de dosis")
    folder = book / "download"
    folder.mkdir()
    (folder / "hormonaal.pdf").write_bytes(forged)
    (folder / "manifest.json").write_text(json.dumps({"protocols": {PID: {
        "version": "1.0", "pdf_sha256": hashlib.sha256(forged).hexdigest()}}}))
    code, output = verify(book, str(folder / "hormonaal.pdf"))
    assert code == 5, output
    assert "altered" in output


def test_a_forged_pdf_copied_over_the_archive_breaks_the_register(book: Path) -> None:
    sha = read_register(book / "protocols").release(PID, "1.0").sha256  # type: ignore[union-attr]
    forged = pdf(PID, sha, "vervalst")
    archive_path(book / "protocols", PID, "1.0", ".pdf").write_bytes(forged)
    copy = book / "forged.pdf"
    copy.write_bytes(forged)
    code, output = verify(book, str(copy))
    assert code == 1, output
    assert "archived PDF of record 1" in output and "does not match its recorded hash" in output
    assert any("archived PDF" in m for m in v009(book))


def test_a_deleted_register_beside_an_archive_is_detected(book: Path) -> None:
    (book / "protocols" / "RELEASES.jsonl").unlink()
    code, output = verify(book, "--id", PID, "--version", "1.0")
    assert code == 1, output
    assert "RELEASES.jsonl is missing" in output
    assert any("RELEASES.jsonl is missing" in m for m in v009(book))


def test_a_deleted_last_record_is_detected(book: Path) -> None:
    register = book / "protocols" / "RELEASES.jsonl"
    register.write_text(register.read_text().splitlines()[0] + "\n")
    code, output = verify(book, "--id", PID, "--version", "1.0")
    assert code == 1, output
    assert "names record 2 as the last: records were removed" in output


def test_an_edited_last_record_is_detected(book: Path) -> None:
    register = book / "protocols" / "RELEASES.jsonl"
    lines = register.read_text().splitlines()
    last = json.loads(lines[1])
    last["approver"] = "iemand anders"
    register.write_text(lines[0] + "\n" + json.dumps(last, sort_keys=True, separators=(",", ":")) + "\n")
    edited = read_register(book / "protocols")
    assert verify_chain(edited.records) == []  # the chain alone cannot see an edited last record …
    assert edited.problems  # … .archive/HEAD can
    code, output = verify(book, "--id", PID, "--version", "1.0")
    assert code == 1, output
    assert "differs from the record .archive/HEAD names" in output


def test_a_built_manifest_remembers_the_register_head(book: Path) -> None:
    built = protocolc("build", "protocols", "-o", "out", "--no-pdf", "-q", "--today", TODAY.isoformat(), cwd=book)
    assert built.returncode == 0, built.stdout + built.stderr
    head = json.loads((book / "out" / "manifest.json").read_text())["register"]
    assert head["seq"] == 2
    root = book / "protocols"  # a thorough forger: removes the last record, HEAD and the archived files
    register = root / "RELEASES.jsonl"
    register.write_text(register.read_text().splitlines()[0] + "\n")
    (root / ".archive" / "HEAD").unlink()
    for path in (root / ".archive" / SECOND).iterdir():
        path.unlink()
    (root / ".archive" / SECOND).rmdir()
    assert verify(book, "--id", PID, "--version", "1.0")[0] == 0  # without the manifest: invisible
    code, output = verify(book, "--id", PID, "--version", "1.0", "--manifest", "out/manifest.json")
    assert code == 1, output
    assert "records were removed" in output
