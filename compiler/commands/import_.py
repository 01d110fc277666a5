"""`protocolc import FILE… [-o DIR]`: Word, PDF, HTML and text sheets become draft protocols.

Writes one `<name>.protocol` per input into DIR (never over an existing file), prints the
import report (lines read, statements recognised per kind, queries raised, prose kept,
print artefacts removed) and then the `check` findings of each draft.

Exit codes: 0 every input became a draft; 1 an input was refused or its draft exists
already; 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compiler.importer import ImportResult
    from compiler.pipeline import Compiled

NAME = "import"
HELP = "turn Word (.docx), PDF, HTML and text protocol sheets into draft .protocol files"


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `import`."""
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("-o", "--output", type=Path, default=Path("."), metavar="DIR",
                        help="folder for the drafts (default: the current folder)")
    parser.add_argument("--format", choices=("human", "json"), default="human")


def run(args: argparse.Namespace) -> int:
    """Import each file; report; exit 0 when every file became a draft."""
    from compiler.importer import ImportRefused, import_document, target_name
    from compiler.pipeline import compile_text

    if args.output.exists() and not args.output.is_dir():
        print(f"protocolc: {args.output} is not a folder", file=sys.stderr)
        return 2
    entries: list[dict[str, Any]] = []
    failed = False
    for path in args.files:
        try:
            result = import_document(path)
        except ImportRefused as error:
            failed = True
            entries.append({"source": str(path), "error": str(error)})
            continue
        target = args.output / target_name(path)
        try:
            _write_new(target, result.draft)
        except FileExistsError:
            failed = True
            entries.append({"source": str(path), "error": f"{target} exists already; not overwritten"})
            continue
        except OSError as error:
            failed = True
            entries.append({"source": str(path), "error": f"cannot write {target}: {error.strerror}"})
            continue
        compiled = compile_text(str(target), result.draft.encode("utf-8"))
        entries.append(_entry(path, target, result, compiled))
    if args.format == "json":
        json.dump({"imports": entries}, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        _human(entries, sys.stdout)
    return 1 if failed else 0


def _write_new(target: Path, text: str) -> None:
    """Write a new file atomically; never replace an existing one (FileExistsError)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".import-", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.link(temporary, target)  # fails when the target exists: no check-then-write race
    finally:
        os.unlink(temporary)


def escape_terminal(text: str) -> str:
    """Text from a document with its control characters made visible (no terminal escapes reach the screen)."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"
                   for ch in text)


def _entry(path: Path, target: Path, result: ImportResult, compiled: Compiled) -> dict[str, Any]:
    return {
        "source": str(path),
        "draft": str(target),
        "lines_read": result.lines_read,
        "statements": dict(sorted(result.statements.items())),
        "queries": result.queries,
        "prose_lines": result.prose_lines,
        "artefacts_removed": [{"line": a.line, "text": a.text, "why": a.why} for a in result.artefacts],
        "invisible_characters_removed": result.invisible_removed,
        "kept_as_note": result.escaped,
        "lines_not_in_draft": result.lost,
        "diagnostics": [d.to_json() for d in compiled.diagnostics],
    }


def _human(entries: list[dict[str, Any]], stream: Any) -> None:
    for entry in entries:
        if "error" in entry:
            stream.write(f"protocolc: not imported {escape_terminal(entry['source'])}: {escape_terminal(entry['error'])}\n")
            continue
        statements = entry["statements"]
        kinds = ", ".join(f"{kind} {count}" for kind, count in statements.items()) or "none"
        stream.write(f"imported {escape_terminal(entry['source'])} → {escape_terminal(entry['draft'])}\n")
        stream.write(f"  lines read {entry['lines_read']}; statements {sum(statements.values())} ({kinds}); "
                     f"queries {entry['queries']}; prose lines {entry['prose_lines']}; "
                     f"artefacts removed {len(entry['artefacts_removed'])}; "
                     f"invisible characters removed {entry['invisible_characters_removed']}\n")
        for artefact in entry["artefacts_removed"]:
            stream.write(f"  removed line {artefact['line']} ({artefact['why']}): {escape_terminal(artefact['text'])}\n")
        if entry["lines_not_in_draft"]:
            stream.write(f"  WARNING: lines not found in the draft: {entry['lines_not_in_draft']}\n")
        counts: dict[str, int] = {}
        for diagnostic in entry["diagnostics"]:
            counts[diagnostic["severity"]] = counts.get(diagnostic["severity"], 0) + 1
        stream.write(f"  check of the draft: {counts.get('error', 0)} errors, {counts.get('warning', 0)} warnings, "
                     f"{counts.get('info', 0)} infos (`protocolc check {escape_terminal(entry['draft'])}` shows them)\n")
