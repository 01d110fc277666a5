"""`protocolc export --fhir FILE|DIR [-o DIR]`: checked protocols as FHIR R4 or model JSON.

`--fhir` (the same as `--format fhir`) writes one Bundle (type collection) per protocol:
a PlanDefinition and one ActivityDefinition per drug administration (docs/fhir.md).
`--model` (`--format model-json`) writes the checked model (`compiler.model.to_json`). A protocol
with errors is not exported (a hospital system must never import an unchecked sheet).

Exit codes: 0 all exported; 1 a protocol has errors or cannot be read (the others are
still exported); 2 usage error (no such path, no protocols, several protocols and no -o).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "export"
HELP = "export checked protocols as FHIR R4 Bundles (--fhir) or as model JSON (--model); one of them is required"


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `export`."""
    parser.add_argument("paths", nargs="+", type=Path, metavar="FILE|DIR", help="protocol files or folders")
    parser.add_argument("--fhir", dest="format", action="store_const", const="fhir",
                        help="FHIR R4 Bundle per protocol (same as --format fhir)")
    parser.add_argument("--model", dest="format", action="store_const", const="model-json",
                        help="the checked internal model as JSON (same as --format model-json)")
    # no default: the command must never write one format while the user expected the other
    parser.add_argument("--format", dest="format", choices=("fhir", "model-json"), default=None)
    parser.add_argument("-o", "--output", type=Path, metavar="DIR",
                        help="write <id>.fhir.json / <id>.model.json here (default: standard output, one protocol)")
    parser.add_argument("--base-url", default=None, metavar="URL",
                        help="canonical base of the exported resources (default: https://example.org/protocolc/fhir)")


def run(args: argparse.Namespace) -> int:
    """Compile, refuse protocols with errors, write the exports."""
    from compiler import report
    from compiler.commands import protocol_files
    from compiler.fhir import DEFAULT_BASE_URL, export_protocol, fhir_id
    from compiler.fsutil import write_text_atomic
    from compiler.model import to_json
    from compiler.pipeline import compile_file
    from compiler.tables import load

    if args.format is None:
        print("protocolc: export needs a format: --fhir (FHIR R4 Bundles) or --model (the internal model as JSON)",
              file=sys.stderr)
        return 2
    files = protocol_files(args.paths)
    if files is None:
        return 2
    if args.output is None and len(files) > 1:
        print(f"protocolc: {len(files)} protocols: give -o DIR to write one file each", file=sys.stderr)
        return 2
    tables = load()
    failed = 0
    for path in files:
        result = compile_file(path)
        if result.protocol is None or result.errors:
            errors = [d for d in result.diagnostics if d.severity.value == "error" and d.acknowledged is None]
            print(f"protocolc: not exported: {path}: {len(errors)} error(s); `protocolc check {path}` lists them",
                  file=sys.stderr)
            report.human([result], [], sys.stderr)
            failed += 1
            continue
        protocol = result.protocol
        if args.format == "fhir":
            document = export_protocol(protocol, tables, args.base_url or DEFAULT_BASE_URL).bundle
            suffix = ".fhir.json"
        else:
            document = {"protocol": to_json(protocol), "sha256": protocol.sha256,
                        "diagnostics": [d.to_json() for d in result.diagnostics]}
            suffix = ".model.json"
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if args.output is None:
            sys.stdout.write(text)
            continue
        name = fhir_id(protocol.meta.id.value if protocol.meta.id is not None else path.stem) + suffix
        try:
            write_text_atomic(args.output / name, text)
        except OSError as error:
            print(f"protocolc: cannot write {args.output / name}: {error.strerror or error}", file=sys.stderr)
            failed += 1
            continue
        print(f"wrote {args.output / name}", file=sys.stderr)
    return 1 if failed else 0
