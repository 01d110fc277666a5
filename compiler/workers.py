"""Worker process pools whose workers never outlive the protocolc process that started them.

A `build` killed with SIGKILL cannot shut its pool down; without help its workers run on
(rendering PDFs for nobody). On Linux each worker asks the kernel for SIGKILL when its
parent dies (prctl PR_SET_PDEATHSIG); elsewhere a thread in the worker watches its
parent id. Both also cover a parent that died before the worker got that far.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1
WATCH_INTERVAL = 1.0


def pool(workers: int, initializer: Callable[..., object] | None = None,
         initargs: tuple[Any, ...] = ()) -> ProcessPoolExecutor:
    """A process pool of `workers` processes that exit with this process (then run `initializer`)."""
    return ProcessPoolExecutor(max_workers=workers, initializer=_start,
                               initargs=(os.getpid(), initializer, initargs))


def _start(parent: int, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]) -> None:
    die_with_parent(parent)
    if initializer is not None:
        initializer(*initargs)


def die_with_parent(parent: int) -> None:
    """Worker initializer: arrange to exit when `parent` exits."""
    if not _parent_death_signal():
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _parent_death_signal() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0)
    return False


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL)
    os._exit(1)
