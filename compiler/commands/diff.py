"""`protocolc diff A B`: the clinical diff of two versions of a protocol.

A and B are files, `ID@VERSION` (from the book's archive) or `ID@git:REV`. Exit codes:
0 compared (whatever the verdict), 1 the version policy is not met (V005/V006 error),
2 a side cannot be read or does not build.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "diff"
HELP = "compare two versions of a protocol in clinical terms (files, ID@VERSION or ID@git:REV)"


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `diff`."""
    parser.add_argument("old", metavar="A", help="the earlier version: a file, ID@VERSION or ID@git:REV")
    parser.add_argument("new", metavar="B", help="the later version: a file, ID@VERSION or ID@git:REV")
    parser.add_argument("--format", choices=("human", "json"), default="human")
    parser.add_argument("--html", type=Path, metavar="REPORT.html", help="also write a printable side-by-side report")
    parser.add_argument("--book", type=Path, metavar="DIR", help="the book root holding RELEASES.jsonl and .archive")


def run(args: argparse.Namespace) -> int:
    """Compare and print."""
    from compiler import report as diagnostics_report
    from compiler.fsutil import write_text_atomic
    from compiler.versions.report import NotAProtocol, compare, render_html, write_text
    from compiler.versions.sources import SourceNotFound, read_side

    try:
        old_label, old_raw = read_side(args.old, args.book)
        new_label, new_raw = read_side(args.new, args.book)
        result = compare(old_label, old_raw, new_label, new_raw)
    except (SourceNotFound, NotAProtocol) as error:
        print(f"protocolc: {diagnostics_report.terminal_safe(str(error))}", file=sys.stderr)
        return 2
    if args.format == "json":
        json.dump(result.as_json(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        write_text(result, sys.stdout, diagnostics_report.use_colour(sys.stdout))
    if args.html is not None:
        try:
            write_text_atomic(args.html, render_html(result))
        except OSError as error:
            print(f"protocolc: cannot write {args.html}: {error.strerror}", file=sys.stderr)
            return 2
    return 1 if result.verdict.severity == "error" else 0
