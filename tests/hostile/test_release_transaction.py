"""Issue 12 item 5: an interrupted or concurrent release never breaks the book.

`kill -9` during `release` used to leave the archive ahead of the register: every protocol
then failed V009, a retry was refused and the next build published nothing. Here the
release is killed (SIGKILL, from inside, via PROTOCOLC_FAULT) at every step of its
transaction; the next run must complete or roll back the release, say which, and
`build` must publish the protocol. Two releases at once must not share a record number.
"""

from __future__ import annotations

import hashlib
import json
import signal
from pathlib import Path

import pytest

from compiler import cli
from compiler.versions.register import read_register
from compiler.versions.transaction import PENDING_DIR, STEPS, read_head
from tests.hostile.fs_support import PID, SHEET, TODAY, popen, protocolc, versions_book

APPROVER = "Medisch-Farmaceutisch Comité"
COMMITTED = {"register", "archive", "head", "done"}  # steps at or after the commit point


def release(book: Path, sheet: str = SHEET, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = protocolc("release", sheet, "--approver", APPROVER, "--no-pdf", "--today", TODAY, cwd=book, env=env)
    return result.returncode, result.stdout + result.stderr


def intact(root: Path) -> None:
    register = read_register(root)
    assert register.problems == (), register.problems
    assert not (root / PENDING_DIR).exists()
    if register.records:
        assert read_head(root) == (register.records[-1].seq, register.head)


@pytest.mark.parametrize("step", STEPS)
def test_a_release_killed_at_any_step_is_recovered_by_the_next_build(tmp_path: Path, step: str,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    book = versions_book(tmp_path)
    root = book / "protocols"
    code, _ = release(book, env={"PROTOCOLC_FAULT": step})  # a real process, really killed
    assert code == -signal.SIGKILL
    assert read_register(root).problems == ()  # readers meanwhile see no broken register (no V009)
    monkeypatch.chdir(book)  # the next runs in-process: faster, and the same code
    code = cli.main(["build", "protocols", "-o", "out", "--no-pdf", "--no-cache", "--today", TODAY])
    built = capsys.readouterr().out
    assert code == 0, built
    assert "built 1 of 1 protocol(s)" in built
    if step in COMMITTED and step != "done":
        assert "completed the release of borst-hormonaal 1.0" in built
    elif step not in COMMITTED:
        assert "rolled back the release of borst-hormonaal 1.0" in built
    intact(root)
    manifest = json.loads((book / "out" / "manifest.json").read_text())
    if step in COMMITTED:
        assert manifest["protocols"][PID]["status"] == "approved"
        assert (root / ".archive" / PID / "1.0.protocol").read_bytes() == (book / SHEET).read_bytes()
    else:
        assert not (root / "RELEASES.jsonl").exists()
        code = cli.main(["release", SHEET, "--approver", APPROVER, "--no-pdf", "--today", TODAY])
        output = capsys.readouterr().out  # nothing was recorded: the retry releases it
        assert code == 0, output
        assert "as record 1" in output
        intact(root)


def test_a_retried_release_recovers_first_and_says_so(tmp_path: Path) -> None:
    book = versions_book(tmp_path)
    assert release(book, env={"PROTOCOLC_FAULT": "files"})[0] == -signal.SIGKILL
    code, output = release(book)
    assert code == 0, output
    assert "rolled back the release of borst-hormonaal 1.0" in output and "as record 1" in output
    intact(book / "protocols")


def test_a_release_killed_after_its_record_is_completed_not_repeated(tmp_path: Path) -> None:
    book = versions_book(tmp_path)
    assert release(book, env={"PROTOCOLC_FAULT": "register"})[0] == -signal.SIGKILL
    code, output = release(book)
    assert "completed the release of borst-hormonaal 1.0" in output
    assert code == 1 and "V005" in output  # already released: not released twice
    assert len(read_register(book / "protocols").records) == 1
    intact(book / "protocols")


def test_two_releases_at_once_get_distinct_record_numbers(tmp_path: Path) -> None:
    book = versions_book(tmp_path)
    second = book / "protocols" / "borst" / "tweede.protocol"
    second.write_text((book / SHEET).read_text().replace(f"id: {PID}", "id: borst-tweede"))
    processes = [popen("release", sheet, "--approver", APPROVER, "--no-pdf", "--today", TODAY, cwd=book)
                 for sheet in (SHEET, "protocols/borst/tweede.protocol", SHEET)]
    outputs = [p.communicate(timeout=120) for p in processes]
    codes = sorted(p.returncode for p in processes)
    assert codes == [0, 0, 1], outputs  # the same version twice: one release, one V005
    register = read_register(book / "protocols")
    assert [r.seq for r in register.records] == [1, 2]
    assert sorted(r.id for r in register.records) == [PID, "borst-tweede"]
    intact(book / "protocols")


def test_a_half_written_journal_is_cleaned_up(tmp_path: Path) -> None:
    book = versions_book(tmp_path)
    pending = book / "protocols" / PENDING_DIR
    pending.mkdir()
    (pending / "journal.json").write_text('{"records": [')  # cannot happen (atomic write), but must not wedge
    code, output = release(book)
    assert code == 0, output
    assert "interrupted before anything was recorded" in output
    intact(book / "protocols")


def test_a_failure_after_the_commit_point_is_completed_later(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The record is written but moving the files fails (disk full, say): the release says
    so, and the next recovery completes it."""
    from compiler.versions import transaction
    from compiler.versions.register import GENESIS, ReleaseRecord, archive_path

    root = versions_book(tmp_path) / "protocols"
    source = (root / "borst" / "hormonaal.protocol").read_bytes()
    record = ReleaseRecord(seq=1, id=PID, version="1.0", from_status="draft", status="approved",
                           sha256=hashlib.sha256(source).hexdigest(), prev=GENESIS, author="a", approver="b",
                           approved=TODAY, note="n", change_class="clinical", compiler="c", data="d")

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(transaction, "_move", full)
    with pytest.raises(transaction.Incomplete), transaction.book_lock(root):
        transaction.commit(root, [record], [transaction.ArchivedFile(archive_path(root, PID, "1.0"), source)])
    assert not archive_path(root, PID, "1.0").exists() and (root / PENDING_DIR).exists()
    monkeypatch.undo()
    assert transaction.recover(root) == "completed the release of borst-hormonaal 1.0 (approved), interrupted after " \
                                        "it was recorded"
    assert archive_path(root, PID, "1.0").read_bytes() == source
    intact(root)


def test_a_release_an_older_protocolc_left_half_done_is_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's state: the archive ahead of the register (source and PDF archived, no
    record), every protocol V009. Releasing those same bytes again finishes it."""
    book = versions_book(tmp_path)
    root = book / "protocols"
    folder = root / ".archive" / PID
    folder.mkdir(parents=True)
    (folder / "1.0.protocol").write_bytes((book / SHEET).read_bytes())
    (folder / "1.0.pdf").write_bytes(b"%PDF-1.7 half written")
    monkeypatch.chdir(book)
    assert cli.main(["check", "protocols", "--no-cache", "--today", TODAY]) == 1
    assert "release that version again to finish it" in capsys.readouterr().out
    code = cli.main(["release", SHEET, "--approver", APPROVER, "--no-pdf", "--today", TODAY])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert "finishing the release of borst-hormonaal 1.0" in captured.err and "as record 1" in captured.out
    assert not (folder / "1.0.pdf").exists()  # never recorded, so not kept
    intact(root)
    assert cli.main(["build", "protocols", "-o", "out", "--no-pdf", "--no-cache", "--today", TODAY]) == 0
    assert "built 1 of 1 protocol(s)" in capsys.readouterr().out


def test_an_archived_version_with_other_bytes_is_not_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    book = versions_book(tmp_path)
    folder = book / "protocols" / ".archive" / PID
    folder.mkdir(parents=True)
    (folder / "1.0.protocol").write_bytes((book / SHEET).read_bytes().replace(b"2,5 mg", b"25 mg"))
    monkeypatch.chdir(book)
    code = cli.main(["release", SHEET, "--approver", APPROVER, "--no-pdf", "--today", TODAY])
    assert code == 1
    assert "V009" in capsys.readouterr().out
    assert not (book / "protocols" / "RELEASES.jsonl").exists()
