"""The `protocolc` command line: argument parsing, exit codes, output formats only."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from compiler import __version__, startup

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

EPILOG = """\
examples:
  protocolc check protocols/                 check every *.protocol under protocols/
  protocolc check --format json borst.protocol
  protocolc check --format sarif protocols/ > protocolc.sarif
  protocolc build protocols/ -o output/      HTML and PDF for every protocol
  protocolc explain F001                     what a rule checks and why
  protocolc rules --format json              every rule code
  protocolc model --format json borst.protocol

exit codes: 0 no errors, 1 errors found (or warnings with --strict), 2 usage or internal error
"""


def _performance_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                        help="worker processes (default: one per core)")
    parser.add_argument("--no-cache", action="store_true", help="ignore and do not update the result cache")
    parser.add_argument("--cache-dir", type=Path, default=None, help="cache folder (default: ~/.cache/protocolc)")


def _cache(args: argparse.Namespace) -> Any:
    from compiler.cache import Cache, default_cache_dir

    if args.no_cache:
        return None
    return Cache((args.cache_dir or default_cache_dir()) / "results")


def _add_check(commands: Any) -> None:
    check = commands.add_parser("check", help="check protocol files or folders",
                                description="Check protocols and report findings.")
    check.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    check.add_argument("--format", choices=("human", "json", "sarif"), default="human")
    check.add_argument("--lang", choices=("en", "nl", "auto"), default="en",
                       help="language of the human output (auto: each sheet's own); codes never change")
    check.add_argument("--strict", action="store_true", help="warnings also fail (exit 1)")
    check.add_argument("--report", type=Path, metavar="FILE.html",
                       help="also write the validation report (findings, acknowledgements, queries, computed values)")
    check.add_argument("--fix", action="store_true",
                       help="apply safe fixes (notation, spelling of names) in place; keeps FILE~ as a backup")
    check.add_argument("--today", type=datetime.date.fromisoformat, help=argparse.SUPPRESS)
    _performance_options(check)


def _add_build(commands: Any) -> None:
    build = commands.add_parser("build", help="build HTML and PDF for every protocol",
                                description="Check and render protocols to HTML and A4 PDF.")
    build.add_argument("paths", nargs="*", type=Path, default=[Path("protocols")], metavar="PATH")
    build.add_argument("-o", "--output", type=Path, default=Path("output"))
    build.add_argument("--no-pdf", action="store_true", help="HTML only (fast)")
    build.add_argument("-q", "--quiet", action="store_true", help="print only the summary line (for CI)")
    build.add_argument("-v", "--verbose", action="store_true", help="print every finding of every sheet")
    build.add_argument("--today", type=datetime.date.fromisoformat, help=argparse.SUPPRESS)
    _performance_options(build)


def _add_explain(commands: Any) -> None:
    explain = commands.add_parser("explain", help="show the documentation of a rule code")
    explain.add_argument("code")


def _add_rules(commands: Any) -> None:
    rules = commands.add_parser("rules", help="list every rule code")
    rules.add_argument("--format", choices=("human", "json"), default="human")


def _add_model(commands: Any) -> None:
    model = commands.add_parser("model", help="print the resolved model of a protocol")
    model.add_argument("path", type=Path)
    model.add_argument("--format", choices=("json",), default="json")
    model.add_argument("--today", type=datetime.date.fromisoformat, help=argparse.SUPPRESS)


# in the order `--help` lists them
_BUILTIN: dict[str, Callable[[Any], None]] = {"check": _add_check, "build": _add_build, "explain": _add_explain,
                                             "rules": _add_rules, "model": _add_model}


def _parser(with_plugins: bool = True, only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; `only`: just that built-in command's sub-parser (see `main`)."""
    parser = argparse.ArgumentParser(
        prog="protocolc", description="Compile and validate clinical protocol sheets.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"protocolc {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, add in _BUILTIN.items():
        if only is None or only == name:
            add(commands)
    if not with_plugins:  # the built-in commands do not import the plugin package (~10 ms)
        return parser
    from compiler.commands import discover

    for command in discover():
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        command.configure(sub)
        sub.set_defaults(run=command.run)
    return parser


def _book_config(paths: list[Path]) -> Any:
    """The book's configuration; its formulary overrides become the data the checks use."""
    from compiler.bookconfig import book_root, load_config
    from compiler.overrides import use_overrides

    config = load_config(book_root(paths))
    use_overrides(config.formulary_overrides)
    return config


def cmd_check(args: argparse.Namespace) -> int:
    """Check protocols and print findings."""
    from compiler import report
    from compiler.batch import check_files
    from compiler.pipeline import PathList, book_diagnostics, compile_file, find_protocols
    from compiler.versions.root import recover_books

    missing = [p for p in args.paths if not p.exists()]
    if missing:
        print(f"protocolc: no such file or folder: {missing[0]}", file=sys.stderr)
        return EXIT_USAGE
    for message in recover_books(args.paths):
        print(f"protocolc: {message}", file=sys.stderr)
    # the paths in one string: a book of 10,000 sheets would otherwise keep 3 MB of Path objects
    files = PathList(find_protocols(args.paths))
    if not files:
        # checking nothing is not a pass: a wrong folder must not look like a clean book
        from compiler import i18n

        print(f"protocolc: {i18n.word('no_protocols', args.lang, paths=', '.join(str(p) for p in args.paths))}",
              file=sys.stderr)
        return EXIT_USAGE
    config = _book_config(args.paths)
    if not args.fix and args.report is None and not (args.format == "human" and report.use_colour(sys.stdout)):
        from compiler.warm import write_check

        printed = write_check(files, args.today, args.format, sys.stdout, cache=_cache(args), jobs=args.jobs)
        if printed is not None:
            return EXIT_FINDINGS if printed["errors"] or (args.strict and printed["warnings"]) else EXIT_OK
    results = check_files(files, args.today, cache=_cache(args), jobs=args.jobs)
    if args.fix:
        from compiler.fix import apply_safe_fixes

        for result in results:
            outcome = apply_safe_fixes(compile_file(Path(result.path), args.today), args.today)
            shown = report.terminal_safe(outcome.path)
            if outcome.refused:
                print(f"protocolc: not fixed {shown}: {outcome.refused}", file=sys.stderr)
            elif outcome.applied:
                print(f"protocolc: fixed {outcome.applied} finding(s) in {shown} "
                      f"(backup: {report.terminal_safe(str(outcome.backup))})", file=sys.stderr)
        results = [compile_file(path, args.today) for path in files]
    extra = book_diagnostics(results)
    if args.report is not None:
        from compiler.fsutil import write_text_atomic
        from compiler.validation import render_report

        full = [r if r.protocol is not None else compile_file(Path(r.path), args.today) for r in results]
        write_text_atomic(args.report, render_report(full, extra, args.today, config))
    if args.format == "json":
        report.dump(report.as_json(results, extra), sys.stdout)
    elif args.format == "sarif":
        report.dump(report.as_sarif(results, extra), sys.stdout)
    else:
        report.human(results, extra, sys.stdout, args.lang)
    counts = report.summary(results, extra)
    if counts["errors"] or (args.strict and counts["warnings"]):
        return EXIT_FINDINGS
    return EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    """Build the procedure book."""
    from compiler.book import OutputRefused, build_book

    missing = [p for p in args.paths if not p.exists()]
    if missing:
        print(f"protocolc: no such file or folder: {missing[0]}", file=sys.stderr)
        return EXIT_USAGE
    try:
        outcome = build_book(args.paths, args.output, pdf=not args.no_pdf, today=args.today, stream=sys.stdout,
                             cache_dir=args.cache_dir, use_cache=not args.no_cache, jobs=args.jobs, quiet=args.quiet,
                             verbose=args.verbose)
    except OutputRefused as error:
        print(f"protocolc: build refused: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"protocolc: cannot write the book to {args.output}: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_FINDINGS if outcome.failed else EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    """Print a rule's documentation."""
    from compiler.checks import load_rules
    from compiler.diagnostics import REGISTRY

    load_rules()
    rule = REGISTRY.get(args.code.upper())
    if rule is None:
        print(f"protocolc: unknown rule code `{args.code}`; `protocolc rules` lists them", file=sys.stderr)
        return EXIT_USAGE
    print(f"{rule.code} {rule.name} ({rule.severity.value}): {rule.summary}\n")
    print(rule.doc)
    return EXIT_OK


def cmd_rules(args: argparse.Namespace) -> int:
    """List every rule code."""
    from compiler.checks import load_rules
    from compiler.diagnostics import REGISTRY
    from compiler.report import rule_severities

    load_rules()
    rules = sorted(REGISTRY.values(), key=lambda r: r.code)
    if args.format == "json":
        data = [{"code": r.code, "name": r.name, "severity": r.severity.value, "severities": rule_severities(r),
                 "summary": r.summary, "family": r.family, "status": r.status} for r in rules]
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        for r in rules:
            shown = "/".join(rule_severities(r))
            print(f"{r.code}  {shown:<13}  {r.name:<28}  {r.summary}")
    return EXIT_OK


def cmd_model(args: argparse.Namespace) -> int:
    """Print the resolved model as JSON."""
    from compiler import report
    from compiler.model import to_json
    from compiler.pipeline import compile_file

    if not args.path.is_file():
        # the same answer as `check` gives for a path it cannot use
        what = "is a folder (model takes one .protocol file)" if args.path.is_dir() else "no such file"
        print(f"protocolc: {args.path}: {what}", file=sys.stderr)
        return EXIT_USAGE
    result = compile_file(args.path, args.today)
    if result.protocol is None:
        report.human([result], [], sys.stderr)
        return EXIT_FINDINGS
    report.dump({"protocol": to_json(result.protocol), "sha256": result.source.sha256 if result.source else None,
                 "diagnostics": [d.to_json() for d in result.diagnostics]}, sys.stdout)
    return EXIT_FINDINGS if result.errors else EXIT_OK


COMMANDS = {"check": cmd_check, "build": cmd_build, "explain": cmd_explain, "rules": cmd_rules, "model": cmd_model}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; never lets a traceback reach the user."""
    startup.begin()
    arguments = list(sys.argv[1:] if argv is None else argv)
    # The built-in commands need none of the plugin modules (serve, release, …): not
    # importing them keeps `protocolc check` quick to start.
    builtin = next((a for a in arguments if not a.startswith("-")), None) in COMMANDS
    # A built-in command given first is all argparse will parse: its sub-parser alone answers
    # the same (help, usage and errors name `protocolc COMMAND`) without building the others.
    first = arguments[0] if arguments and arguments[0] in COMMANDS else None
    parser = _parser(with_plugins=not builtin, only=first)
    args = parser.parse_args(arguments)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        run = COMMANDS.get(args.command) or args.run
        return int(run(args))
    except KeyboardInterrupt:
        print("protocolc: interrupted", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK
    except Exception as error:  # the last line of defence: a short message, exit 2
        from compiler.bookconfig import ConfigError
        from compiler.tables import DataError

        if isinstance(error, ConfigError):
            print(f"protocolc: book configuration: {error}", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(error, OSError) and error.filename:  # a file the user named cannot be read or written
            from compiler.report import terminal_safe

            print(f"protocolc: {terminal_safe(str(error.filename))}: {error.strerror or error}", file=sys.stderr)
            return EXIT_USAGE
        kind = "data error" if isinstance(error, DataError) else "internal error"
        print(f"protocolc: {kind}: {type(error).__name__}: {error}", file=sys.stderr)
        print("protocolc: this is a bug in protocolc, not in your protocol; please report it", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
