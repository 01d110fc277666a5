"""Start-up and the garbage collector (compiler/startup.py): collected less often while a
process loads, never switched off, and the usual thresholds back once it has settled."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from compiler import startup
from compiler.cli import main
from tests.conftest import ROOT


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    # a command run in this process before (another test's `main([...])`) that compiled no sheet
    # leaves start-up unsettled: its raised threshold is not the usual one
    if startup._saved:
        gc.set_threshold(*startup._saved.pop())
    lifelong = startup._lifelong[:]  # a language server made in this process said it checks until it exits
    startup._lifelong.clear()
    before = gc.get_threshold()
    yield before
    startup._saved.clear()
    startup._lifelong[:] = lifelong
    gc.set_threshold(*before)
    gc.unfreeze()


def test_start_up_collects_less_often_then_as_before(thresholds: tuple[int, int, int]) -> None:
    startup.begin()
    assert gc.isenabled() and gc.get_threshold()[0] >= startup.START_UP_THRESHOLD
    startup.begin()  # a second start changes nothing
    startup.settled()
    assert gc.get_threshold() == thresholds and gc.get_freeze_count() > 0
    frozen = gc.get_freeze_count()
    startup.settled()  # settled once only
    assert gc.get_threshold() == thresholds and gc.get_freeze_count() == frozen


def test_a_check_settles_start_up(thresholds: tuple[int, int, int], capsys: pytest.CaptureFixture[str]) -> None:
    sheet = ROOT / "protocols" / "regimes" / "borst" / "ac-q21d.protocol"
    assert main(["check", "--no-cache", "--format", "json", str(sheet)]) == 0
    assert gc.get_threshold() == thresholds
    assert capsys.readouterr().out.startswith("{")


def test_two_threads_settling_at_once_do_not_fail(thresholds: tuple[int, int, int],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # `serve` compiles in its watcher thread and its main thread: the first compile of each may
    # settle at once. Another settle arriving while one freezes stands for that interleaving.
    startup.begin()
    freeze = gc.freeze
    inner: list[None] = []

    def freeze_while_another_settles() -> None:
        freeze()
        if not inner:
            inner.append(None)
            startup.settled()

    monkeypatch.setattr(gc, "freeze", freeze_while_another_settles)
    startup.settled()
    assert gc.get_threshold() == thresholds and not startup._saved


def test_checking_a_sheet_collects_less_often_then_as_before(thresholds: tuple[int, int, int]) -> None:
    startup.begin()
    with startup.checking():  # start-up is not over: its own threshold holds
        assert gc.get_threshold()[0] >= startup.START_UP_THRESHOLD
        startup.settled()
    assert gc.get_threshold() == thresholds
    with startup.checking():
        assert gc.isenabled() and gc.get_threshold()[0] == max(thresholds[0], startup.CHECKING_THRESHOLD)
        assert gc.get_threshold()[1:] == thresholds[1:]
    assert gc.get_threshold() == thresholds
    with pytest.raises(ValueError), startup.checking():
        raise ValueError
    assert gc.get_threshold() == thresholds


def test_the_allow_lines_of_a_sheet_leave_no_reference_cycle() -> None:
    # what a sheet leaves in cycles is found only by the collector: the allow lines' walk leaves none
    from compiler.checks.acknowledgements import _allowances
    from compiler.pipeline import compile_text

    result = compile_text("a.protocol", (ROOT / "tests" / "fixtures" / "X012" / "fail_unused.protocol").read_bytes())
    assert result.protocol is not None
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        assert _allowances(result.protocol)
        assert gc.collect() == 0
    finally:
        if enabled:
            gc.enable()


def _threshold_after_a_batch(_: int) -> int:
    with startup.checking():
        pass
    return gc.get_threshold()[0]


def test_pool_workers_keep_the_checking_threshold_for_their_life(thresholds: tuple[int, int, int]) -> None:
    # a worker checks batch after batch: putting the usual threshold back after each one forced a
    # collection each time; the parent, which checked the first file itself, is left as it was
    from compiler.batch import PARALLEL_THRESHOLD, ordered_map

    found = list(ordered_map(_threshold_after_a_batch, list(range(PARALLEL_THRESHOLD + 8)), jobs=2))
    assert found[0] == thresholds[0] and gc.get_threshold() == thresholds
    assert all(first == max(thresholds[0], startup.CHECKING_THRESHOLD) for first in found[1:])


def test_a_process_that_checks_until_it_exits_keeps_the_checking_threshold(thresholds: tuple[int, int, int]) -> None:
    # the language server says so before its first compile settles start-up: settling must not put the
    # usual threshold back, or the young collections in the middle of each compile promote its model and
    # the older generations' collections walk the analyses it remembers (a pause every few edits)
    lifelong = (max(thresholds[0], startup.CHECKING_THRESHOLD), *thresholds[1:])
    startup.begin()
    startup.worker()
    assert gc.get_threshold()[0] >= startup.START_UP_THRESHOLD  # start-up's own threshold still holds
    startup.settled()
    assert gc.get_threshold() == lifelong and gc.get_freeze_count() > 0
    with startup.checking():
        pass
    assert gc.get_threshold() == lifelong


def test_the_language_server_checks_until_it_exits(thresholds: tuple[int, int, int],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from compiler.lsp import server

    started: list[int] = []

    class Transport:
        def start_io(self) -> None:
            started.append(gc.get_threshold()[0])

    monkeypatch.setattr(server, "create_server", Transport)
    server.serve_stdio()
    assert started == [max(thresholds[0], startup.CHECKING_THRESHOLD)] and startup._lifelong
