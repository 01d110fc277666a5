"""`protocolc verify FILE.pdf` or `protocolc verify --id ID --version V [--hash H]`:
is this copy (a PDF, or what is printed on paper) the version in force?

Exit codes: 0 current; 3 superseded (the diff summary says what changed since); 4 draft /
not released; 5 altered; 6 unknown; 1 the release register is broken (cannot answer);
2 usage error (no register found, unreadable file, bad arguments).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compiler.versions.verify import Answer

NAME = "verify"
HELP = "tell whether a PDF or a printed identity is current, superseded, a draft, altered or unknown"

HASH = re.compile(r"^[0-9a-fA-F]{8,64}$")


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `verify`."""
    parser.add_argument("pdf", nargs="?", type=Path, metavar="FILE.pdf")
    parser.add_argument("--id", dest="protocol_id", metavar="ID", help="the protocol id printed on the sheet")
    parser.add_argument("--version", dest="protocol_version", metavar="V", help="the version printed on the sheet")
    parser.add_argument("--hash", metavar="H", help="the sha256 printed on the sheet (at least 8 hex digits)")
    parser.add_argument("--book", type=Path, metavar="DIR", help="the book root holding RELEASES.jsonl")
    parser.add_argument("--manifest", type=Path, metavar="FILE",
                        help="a built book's manifest.json (default: found next to the PDF)")
    parser.add_argument("--format", choices=("human", "json"), default="human")
    parser.add_argument("--lang", choices=("en", "nl"), default="en",
                        help="language of the human answer (the json answer's kind is always English)")


def run(args: argparse.Namespace) -> int:
    """Answer and exit with the answer's code."""
    from compiler.versions.register import read_register
    from compiler.versions.sources import book_root
    from compiler.versions.verify import Answer, Identity, NotVerifiable, pdf_identity, verify

    if (args.pdf is None) == (args.protocol_id is None):
        print("protocolc: give either FILE.pdf or --id ID --version V", file=sys.stderr)
        return 2
    if args.protocol_id is not None and not args.protocol_version:
        print("protocolc: --id needs --version", file=sys.stderr)
        return 2
    if args.hash is not None and not HASH.match(args.hash):
        print("protocolc: --hash must be 8 to 64 hexadecimal digits", file=sys.stderr)
        return 2
    near = args.pdf.parent if args.pdf is not None else None
    root = book_root(args.book, near)
    if root is None or not (root / "RELEASES.jsonl").is_file():
        print("protocolc: no release register (RELEASES.jsonl) found; pass --book DIR", file=sys.stderr)
        return 2
    register = read_register(root)
    if register.problems:
        for problem in register.problems:
            print(f"protocolc: release register {register.path}: {problem.message}", file=sys.stderr)
        print("protocolc: the register is broken; no answer can be trusted", file=sys.stderr)
        return 1
    pdf_hash: str | None = None
    manifest: Path | None = args.manifest
    if args.pdf is not None:
        try:
            data = args.pdf.read_bytes()
        except OSError as error:
            print(f"protocolc: cannot read {args.pdf}: {error.strerror}", file=sys.stderr)
            return 2
        pdf_hash = hashlib.sha256(data).hexdigest()
        if manifest is None:
            manifest = next((p / "manifest.json" for p in (args.pdf.parent, args.pdf.parent.parent)
                             if (p / "manifest.json").is_file()), None)
        try:
            identity = pdf_identity(data)
        except NotVerifiable as error:
            answer = Answer("unknown", f"{args.pdf}: {error}")
            return _print(answer, args.format, args.lang)
    else:
        identity = Identity(args.protocol_id, args.protocol_version, "", (args.hash or "").lower())
    answer = verify(register, identity, pdf_hash, manifest)
    return _print(answer, args.format, args.lang)


def _print(answer: Answer, form: str, language: str = "en") -> int:
    from compiler import i18n

    if form == "json":
        json.dump(answer.as_json(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(f"{i18n.word(answer.kind, language)}: {i18n.message(answer.message, language, numbers=False)}")
        for line in answer.changes:
            print(f"  {line}")
        for note in answer.notes:
            print(f"  {i18n.word('note', language)}: {i18n.message(note, language, numbers=False)}")
    return answer.exit_code
