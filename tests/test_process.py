"""The process around the checks (issue 17): the tables cache, ordered parallel results,
streamed output, and what a warm run does not import. Timing lives in bench/, not here."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from compiler import model as m
from compiler import report, tables
from compiler.batch import ordered_map
from compiler.pipeline import WITHDRAWN


def test_withdrawn_statuses_are_the_models() -> None:
    assert WITHDRAWN == (m.Status.SUPERSEDED.value, m.Status.RETIRED.value)


def _square(n: int) -> int:
    return n * n


def test_parallel_results_come_back_in_task_order() -> None:
    tasks = list(range(103))
    assert list(ordered_map(_square, tasks, 2)) == [n * n for n in tasks]
    assert list(ordered_map(_square, tasks[:3], 2)) == [0, 1, 4]  # few tasks: in this process


@pytest.mark.parametrize("fmt", report.FORMATS)
def test_the_streamed_document_is_the_joined_one(fmt: str) -> None:
    counts = {"files": 3, "errors": 1, "warnings": 0, "infos": 2}
    frame = ('{"runs": [{"results": [', "\n      ]}]}")
    for blocks in ([], ["", ""], ["a", "", "b"]):
        stream = io.StringIO()
        report.write_document(fmt, iter(blocks), counts, stream, frame)
        assert stream.getvalue() == report.document(fmt, blocks, counts, frame)


@pytest.fixture
def fresh_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    packaged = tables.load()
    tables.load.cache_clear()
    yield tmp_path / "protocolc"
    tables.load.cache_clear()
    assert tables.load() == packaged


def test_the_tables_are_the_same_read_from_yaml_or_from_the_cache(fresh_tables: Path) -> None:
    first = tables.load()
    [cached] = fresh_tables.glob("tables-*.json")
    assert cached.stat().st_mode & 0o777 == 0o600  # the cache is private
    tables.load.cache_clear()
    again = tables.load()
    assert again == first and again.names == first.names and again.class_names == first.class_names


BROKEN_INDEX = json.dumps({"raw": dict.fromkeys(tables.DATA_FILES), "index": {"names": [[1]]}})


@pytest.mark.parametrize("damage", ['{"raw": {}, "index": {}}', BROKEN_INDEX, "[1, 2]", "{not json"])
def test_a_damaged_tables_cache_is_a_miss(fresh_tables: Path, damage: str) -> None:
    expected = tables.load()
    [cached] = fresh_tables.glob("tables-*.json")
    cached.write_text(damage, encoding="utf-8")
    tables.load.cache_clear()
    assert tables.load() == expected
    assert json.loads(cached.read_text(encoding="utf-8"))["index"]["names"]  # written again


def test_the_tables_cache_holds_plain_data_only(fresh_tables: Path) -> None:
    tables.load()
    [cached] = fresh_tables.glob("tables-*.json")
    data = json.loads(cached.read_text(encoding="utf-8"))
    assert set(data) == {"raw", "index"}
    assert set(data["raw"]) == set(tables.DATA_FILES)


def test_without_a_temporary_folder_the_blocks_stay_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from compiler.warm import check_document
    from tests.conftest import ROOT, TODAY

    sheets = sorted((ROOT / "protocols").rglob("*.protocol"))[:2]
    expected = check_document(sheets, TODAY, "human", jobs=1)

    def refused() -> None:
        raise PermissionError("no temporary folder")

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    assert check_document(sheets, TODAY, "human", jobs=1) == expected


@pytest.mark.parametrize(("total", "size", "jobs"), [(1001, 16, 2), (40, 4, 2), (17, 1, 8), (5000, 16, 4)])
def test_hand_overs_shrink_towards_the_end_and_take_every_task(total: int, size: int, jobs: int) -> None:
    from compiler.batch import hand_over

    sizes, left = [], total
    while left:
        sizes.append(min(left, hand_over(left, size, jobs)))
        left -= sizes[-1]
    assert sum(sizes) == total and max(sizes) == size and sizes == sorted(sizes, reverse=True)
    assert sizes[-jobs:] == [1] * jobs  # the last hand-overs: one task each
    assert len(sizes) < total // size + 4 * size  # full chunks until close to the end
