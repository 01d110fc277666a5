"""`protocolc data audit`: every formulary dose row with its range, hard limit, source,
section and age, for the pharmacist who signs for the data.

Rows older than the review interval (`--review-years`, else `data_review_years` in the
book's `book.yaml`, else 2 years) are flagged; the book's `formulary_overrides` are
applied and listed with their reason. Exit codes: 0 every row has a source; 1 a row has
none; 2 usage error (unknown drug, unreadable book configuration).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

NAME = "data"
HELP = "audit the clinical data tables (dose rows: range, hard limit, source, section, age)"


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `data`."""
    actions = parser.add_subparsers(dest="data_action", metavar="ACTION")
    audit = actions.add_parser("audit", help="print every dose row per drug; exit 1 when a row has no source")
    audit.add_argument("--book", type=Path, metavar="DIR",
                       help="book root whose book.yaml overrides and review interval apply (default: .)")
    audit.add_argument("--drug", action="append", metavar="ID", help="only this drug id (repeatable)")
    audit.add_argument("--review-years", type=float, metavar="N",
                       help="flag rows last verified more than N years ago (default: book.yaml, else 2)")
    audit.add_argument("--format", choices=("human", "json"), default="human")
    audit.add_argument("--today", type=datetime.date.fromisoformat, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Run the audit and print it."""
    from compiler.bookconfig import load_config
    from compiler.data_audit import audit, human
    from compiler.overrides import OverrideError
    from compiler.tables import load

    if getattr(args, "data_action", None) != "audit":
        print("protocolc: usage: protocolc data audit [--format json] [--review-years N] [--book DIR]",
              file=sys.stderr)
        return 2
    config = load_config(args.book or Path("."))
    tables = load()
    unknown = [d for d in args.drug or [] if d not in tables.drugs]
    if unknown:
        print(f"protocolc: unknown drug id `{unknown[0]}`", file=sys.stderr)
        return 2
    years = args.review_years if args.review_years is not None else config.data_review_years
    if years <= 0:
        print("protocolc: --review-years must be positive", file=sys.stderr)
        return 2
    try:
        result = audit(tables, args.today or datetime.date.today(), years, config.formulary_overrides, args.drug)
    except OverrideError as error:
        print(f"protocolc: book configuration: {error}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(human(result))
    for row in result.missing_source:
        print(f"protocolc: {row.drug_id} row {row.index} has no source", file=sys.stderr)
    return 1 if result.missing_source else 0
