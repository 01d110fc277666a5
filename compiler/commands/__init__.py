"""Further `protocolc` subcommands, one module each.

A module here defines `NAME`, `HELP`, `configure(parser)` (add its arguments) and
`run(args) -> int` (the exit code). The command line discovers them, so a new command
never edits `cli.py`. Modules must import heavy dependencies inside `run` only.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """A discovered subcommand."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def discover() -> list[Command]:
    """Every command module of this package, sorted by name."""
    found: list[Command] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.append(Command(module.NAME, module.HELP, module.configure, module.run))
    return found
