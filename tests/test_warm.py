"""`check` prints from per-file blocks (compiler/warm.py): the same bytes as the classic
report in every format, cold and warm, with book findings merged; a warm run imports
neither the parser nor the checks."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from compiler import report
from compiler.batch import check_files
from compiler.cache import Cache
from compiler.pipeline import Compiled, book_diagnostics, find_protocols
from compiler.warm import check_document
from tests.conftest import FIXTURES, ROOT, TODAY

SHIPPED = sorted((ROOT / "protocols").rglob("*.protocol"))


def classic(files: list[Path], fmt: str, results: list[Compiled] | None = None) -> str:
    results = results if results is not None else check_files(files, TODAY, jobs=1)
    extra = book_diagnostics(results)
    stream = io.StringIO()
    if fmt == "json":
        report.dump(report.as_json(results, extra), stream)
    elif fmt == "sarif":
        report.dump(report.as_sarif(results, extra), stream)
    else:
        report.human(results, extra, stream)
    return stream.getvalue()


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("warm")
    for path in SHIPPED[:2]:
        (folder / path.name).write_bytes(path.read_bytes())
    # the same id twice (a book finding, P008), an unreadable encoding (P002), and clean fixtures
    (folder / "zz-copy.protocol").write_bytes(SHIPPED[0].read_bytes())
    (folder / "a-latin1.protocol").write_bytes("id: x\ntitle: caf\xe9\n".encode("latin-1"))
    return [*find_protocols([folder]), *find_protocols([FIXTURES / "F001", FIXTURES / "V008"])]


@pytest.fixture(scope="module")
def checked(book: list[Path]) -> list[Compiled]:
    return check_files(book, TODAY, jobs=1)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Cache:
    return Cache(tmp_path_factory.mktemp("warm-cache"))


@pytest.mark.parametrize("fmt", report.FORMATS)
def test_blocks_give_the_classic_output_cold_and_warm(book: list[Path], checked: list[Compiled], cache: Cache,
                                                       fmt: str) -> None:
    expected = classic(book, fmt, checked)
    if fmt == "json":
        assert check_document(book, TODAY, fmt, jobs=1)[0] == expected  # type: ignore[index]
    cold = check_document(book, TODAY, fmt, cache=cache, jobs=1)
    warm = check_document(book, TODAY, fmt, cache=cache, jobs=1)
    assert cold is not None and warm is not None
    assert cold[0] == warm[0] == expected
    assert cold[1] == warm[1] == report.summary(checked, book_diagnostics(checked))
    assert list(cache.directory.glob(f"*.{fmt}.block"))


def test_an_edit_is_seen_by_the_warm_run(tmp_path: Path) -> None:
    sheet = tmp_path / "p.protocol"
    sheet.write_bytes(SHIPPED[0].read_bytes())
    cache = Cache(tmp_path / "cache")
    before = check_document([sheet], TODAY, "json", cache=cache, jobs=1)
    sheet.write_text(SHIPPED[0].read_text(encoding="utf-8").replace("drug ", "drug onbekendmiddel ", 1), encoding="utf-8")
    after = check_document([sheet], TODAY, "json", cache=cache, jobs=1)
    assert before is not None and after is not None
    assert after[0] == classic([sheet], "json") != before[0]


def test_the_same_file_twice_is_printed_the_classic_way() -> None:
    assert check_document([SHIPPED[0], SHIPPED[0]], TODAY, "json") is None


def test_a_warm_check_imports_neither_parser_nor_checks_nor_model(tmp_path: Path) -> None:
    code = ("import sys; from compiler.cli import main; "
            f"main(['check', '--format', 'json', '--cache-dir', {str(tmp_path)!r}, {str(SHIPPED[0])!r}]); "
            "print([m for m in ('lark', 'compiler.checks', 'compiler.build', 'compiler.model', 'yaml', 'jinja2') "
            "if m in sys.modules])")
    for _ in range(2):
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout[-300:] + result.stderr


def test_book_findings_spilled_to_sorted_runs_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    from compiler import pipeline

    files = [*find_protocols([FIXTURES / "P008", FIXTURES / "V008"]), *SHIPPED[:3], SHIPPED[0], SHIPPED[1]]
    results = check_files(files, TODAY, jobs=1)
    in_memory = book_diagnostics(results)
    assert {d.code for d in in_memory} == {"P008", "V008"}
    monkeypatch.setattr(pipeline, "RUN_LIMIT", 2)  # every other fact goes to a temporary file
    assert book_diagnostics(results) == in_memory


def test_a_block_file_holds_the_result_for_the_other_formats(book: list[Path], tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    check_document(book, TODAY, "human", cache=cache, jobs=1)
    assert not list(cache.directory.glob("*.json"))  # one cache file per sheet: its block file
    for fmt in ("json", "sarif"):
        assert check_document(book, TODAY, fmt, cache=cache, jobs=1)[0] == classic(book, fmt)  # type: ignore[index]
    cached = check_files(book, TODAY, cache=cache, jobs=1)
    assert [(r.diagnostics, r.summary) for r in cached] == [(r.diagnostics, r.summary) for r in check_files(book, TODAY)]


@pytest.mark.parametrize("damage", [b"", b"{}", b"[]\n[]\nx", b'{"counts": {"errors": "1"}, "summary": {}}\n[]\nx',
                                    b'{"counts": {}, "summary": {}}\n[', b'{"counts": {}, "summary": {}}\n[]\n\xff'])
def test_a_damaged_block_file_is_a_miss(tmp_path: Path, damage: bytes) -> None:
    cache = Cache(tmp_path / "cache")
    sheet = [SHIPPED[0]]
    expected = check_document(sheet, TODAY, "json", cache=cache, jobs=1)
    [stored] = cache.directory.glob("*.json.block")
    stored.write_bytes(damage)
    assert check_document(sheet, TODAY, "json", cache=cache, jobs=1) == expected
    stored.write_bytes(damage)
    [cached], [fresh] = check_files(sheet, TODAY, cache=cache, jobs=1), check_files(sheet, TODAY)
    assert (cached.diagnostics, cached.summary) == (fresh.diagnostics, fresh.summary)


def test_a_cold_check_stores_a_few_sheets_in_one_private_file(book: list[Path], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cache = Cache(tmp_path / "cache")
    expected = check_document(book, TODAY, "json", cache=cache, jobs=1)
    stored = list(cache.directory.glob("*.json.block"))
    assert any(p.stat().st_nlink > 1 for p in stored)  # linked under each key
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in stored)
    assert not list(cache.directory.glob(".*"))  # no temporary file left
    assert check_document(book, TODAY, "json", cache=cache, jobs=1) == expected

    def no_links(*args: object, **kwargs: object) -> None:
        raise PermissionError("no hard links here")

    monkeypatch.setattr("os.link", no_links)  # a file system without hard links: a file per sheet
    other = Cache(tmp_path / "other")
    assert check_document(book, TODAY, "json", cache=other, jobs=1) == expected
    assert all(p.stat().st_nlink == 1 for p in other.directory.glob("*.json.block"))
    assert check_document(book, TODAY, "json", cache=other, jobs=1) == expected


def test_a_task_of_many_sheets_stores_them_a_pack_at_a_time(book: list[Path], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from compiler import warm

    monkeypatch.setattr(warm, "PACK", 2)  # a warm run reads a whole shared file for each sheet: kept small
    cache = Cache(tmp_path / "cache")
    expected = check_document(book, TODAY, "json", jobs=1)
    assert check_document(book, TODAY, "json", cache=cache, jobs=1) == expected
    links = [p.stat().st_nlink for p in cache.directory.glob("*.json.block")]
    assert len(links) >= 5 and max(links) == 2
    assert check_document(book, TODAY, "json", cache=cache, jobs=1) == expected


def test_a_path_list_is_its_paths() -> None:
    from compiler.pipeline import PathList

    paths = [Path("a/b.protocol"), Path("/tmp/é x.protocol"), Path("c.protocol")]
    listed = PathList(paths)
    assert list(listed) == paths and len(listed) == 3 and listed[-1] == paths[-1] and listed[1:] == paths[1:]
    assert [listed.text(i) for i in range(3)] == [str(p) for p in paths]
    assert not PathList([])
    with pytest.raises(IndexError):
        listed.text(3)


def _saved_while_checking(monkeypatch: pytest.MonkeyPatch, sheet: Path, edited: str) -> None:
    """The sheet is saved again after the check read it and before it is compiled."""
    import compiler.pipeline

    real = compiler.pipeline.compile_file

    def saving_first(path: Path, *args: object, **kwargs: object) -> Compiled:
        sheet.write_text(edited, encoding="utf-8")
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(compiler.pipeline, "compile_file", saving_first)


@pytest.mark.parametrize("path", ["blocks", "classic"])
def test_findings_of_a_text_saved_during_the_check_are_not_kept_for_the_text_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    # the cache key is made of the bytes read first; findings of other bytes must not be stored under it,
    # or going back to the first text (an undo) would later be answered with the edited text's findings
    sheet = tmp_path / "p.protocol"
    first = SHIPPED[0].read_text(encoding="utf-8")
    edited = first.replace("drug ", "drug onbekendmiddel ", 1)
    sheet.write_text(first, encoding="utf-8")
    cache = Cache(tmp_path / "cache")
    with monkeypatch.context() as patch:
        _saved_while_checking(patch, sheet, edited)
        if path == "blocks":
            check_document([sheet], TODAY, "json", cache=cache, jobs=1)
        else:
            check_files([sheet], TODAY, cache=cache, jobs=1)
    sheet.write_text(first, encoding="utf-8")
    again = check_document([sheet], TODAY, "json", cache=cache, jobs=1)
    assert again is not None and again[0] == classic([sheet], "json")


def test_a_block_file_with_zeros_where_its_text_was_is_a_miss(tmp_path: Path) -> None:
    # block files are not synced: after a crash a page of one may read back as zeros, lengths intact
    cache = Cache(tmp_path / "cache")
    sheet = [SHIPPED[0]]
    expected = check_document(sheet, TODAY, "json", cache=cache, jobs=1)
    [stored] = cache.directory.glob("*.json.block")
    data = stored.read_bytes()
    tail = len(data) - 200  # in the printed block, the file's last part
    stored.write_bytes(data[:tail] + b"\x00" * 200)
    assert check_document(sheet, TODAY, "json", cache=cache, jobs=1) == expected


def test_a_first_run_makes_the_keys_as_the_files_are_checked_and_stores_the_same(book: list[Path],
                                                                                tmp_path: Path) -> None:
    # without a cache folder nothing can be looked up: the keys are made as the workers take the files,
    # not all before the first is checked; the blocks stored and the output are those of a run that
    # looked every file up first (an empty folder)
    from compiler.batch import PARALLEL_THRESHOLD

    files = [*book, *SHIPPED[2:2 + PARALLEL_THRESHOLD]]
    first, looked_up = Cache(tmp_path / "first"), Cache(tmp_path / "empty")
    looked_up.directory.mkdir()
    outputs = [check_document(files, TODAY, "json", cache=c, jobs=2) for c in (first, looked_up)]
    assert outputs[0] is not None and outputs[0] == outputs[1]
    stored = [sorted(p.name for p in c.directory.glob("*.block")) for c in (first, looked_up)]
    assert stored[0] == stored[1] and len(stored[0]) >= PARALLEL_THRESHOLD
    assert check_document(files, TODAY, "json", cache=first, jobs=1) == outputs[0]


def test_a_key_of_common_parts_hashed_once_is_the_key_of_all_parts() -> None:
    from compiler.cache import key_for, keyed_by

    key = keyed_by("fingerprint", "2026-12-02", "ab")
    assert key("c", "digest") == key_for("fingerprint", "2026-12-02", "ab", "c", "digest")
    assert key("c", "digest") != key_for("fingerprint", "2026-12-02", "a", "bc", "digest")  # parts stay apart
    assert key("other", "digest") != key("c", "digest")


def test_the_spool_gives_back_each_block_whatever_the_order_of_puts_and_reads() -> None:
    from compiler.warm import _Spool

    spool = _Spool(4)
    spool.put(2, "é twee".encode(), b"refs")
    assert spool.block(2) == "é twee" and spool.references(2) == "refs"
    spool.put(0, b"nul", b"")  # after a read: appended, not written over what was read
    spool.put(3, b"drie", b"")
    assert [spool.block(i) for i in (0, 2, 3)] == ["nul", "é twee", "drie"]
    assert spool.references(0) is None and not spool.has(1)
    spool.put(1, b"een", b"r1")
    assert [spool.block(i) for i in range(4)] == ["nul", "een", "é twee", "drie"] and spool.references(1) == "r1"


@pytest.mark.parametrize("fmt", report.FORMATS)
def test_a_document_is_written_in_a_few_large_pieces(fmt: str) -> None:
    written: list[str] = []

    class Counting(io.StringIO):
        def write(self, text: str) -> int:
            written.append(text)
            return super().write(text)

    blocks = [f"block {i} " + "x" * 200 for i in range(2000)]  # 400 kB: a system call a block when unbuffered
    counts = {"files": 2000, "errors": 0, "warnings": 0, "infos": 0}
    stream = Counting()
    report.write_document(fmt, iter(blocks), counts, stream)
    assert len(written) <= len(stream.getvalue()) // (1 << 16) + 1
    assert all(block in stream.getvalue() for block in blocks[::97])
