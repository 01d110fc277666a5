"""Further `protocolc` subcommands, one module each.

A module here defines `NAME`, `HELP`, `configure(parser)` (add its arguments) and
`run(args) -> int` (the exit code). The command line discovers them, so a new command
never edits `cli.py`. Modules must import heavy dependencies inside `run` only.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


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


def protocol_files(paths: Sequence[Path]) -> list[Path] | None:
    """The protocol files under the paths, or None after saying why there are none (exit 2)."""
    from compiler.pipeline import find_protocols

    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"protocolc: no such file or folder: {missing[0]}", file=sys.stderr)
        return None
    files = find_protocols(paths)
    if not files:
        print("protocolc: no .protocol files under " + ", ".join(map(str, paths)), file=sys.stderr)
        return None
    return files
