"""`protocolc fmt [--check | --diff] PATH...`: rewrite protocols in the canonical layout.

Exit codes: 0 every file is (now) formatted; 1 `--check` found files that would change,
or a file was refused (it does not decode or parse); 2 usage error (no such path, no
protocol files). Without `--check` each changed file is rewritten atomically and the
original kept as `FILE~` (or `FILE.~N~`: a backup is never overwritten); with `--check`
nothing is written; `--diff` writes nothing either and prints the changes as a unified
diff (exit 1 when there are any, like `--check`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "fmt"
HELP = "format protocols in the canonical layout (--check: only report files that would change)"


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `fmt`."""
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="protocol files or folders")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 and list the files that would change (for CI)")
    parser.add_argument("--diff", action="store_true",
                        help="write nothing; print the changes as a unified diff (exit 1 when there are any)")


def run(args: argparse.Namespace) -> int:
    """Format (or check) every protocol under the paths."""
    import difflib

    from compiler.commands import protocol_files
    from compiler.fix import backup_path
    from compiler.fmt import FormatError, format_text
    from compiler.fsutil import write_atomic

    files = protocol_files(args.paths)
    if files is None:
        return 2
    would_change: list[Path] = []
    refused = 0
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as error:
            print(f"protocolc: cannot read {path}: {error.strerror or error}", file=sys.stderr)
            refused += 1
            continue
        try:
            formatted = format_text(str(path), raw)
        except FormatError as error:
            print(f"protocolc: not formatted: {error}", file=sys.stderr)
            refused += 1
            continue
        text = formatted.text
        if b"\r\n" in raw:
            text = text.replace("\n", "\r\n")
        data = text.encode("utf-8")
        if data == raw:
            continue
        would_change.append(path)
        if args.diff:
            before = raw.decode("utf-8", errors="replace").splitlines(keepends=True)
            sys.stdout.writelines(difflib.unified_diff(before, formatted.text.splitlines(keepends=True),
                                                       f"{path}", f"{path} (formatted)"))
            continue
        if args.check:
            print(f"would reformat {path}")
            continue
        backup = backup_path(path)
        try:
            write_atomic(backup, raw)
            write_atomic(path, data)
        except OSError as error:
            print(f"protocolc: cannot write {path}: {error.strerror or error}", file=sys.stderr)
            refused += 1
            continue
        print(f"reformatted {path} (backup: {backup})")
    if (args.check or args.diff) and would_change:
        print(f"{len(would_change)} file(s) would be reformatted", file=sys.stderr)
    return 1 if refused or ((args.check or args.diff) and would_change) else 0
