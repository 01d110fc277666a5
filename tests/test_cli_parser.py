"""`main` builds only the sub-parser of a built-in command given first: the answers (parsed
arguments, help, usage, errors, exit codes) are those of the whole parser."""

from __future__ import annotations

import contextlib
import io

import pytest

from compiler import cli

ARGUMENTS = [
    ["check", "a.protocol"], ["check", "--no-cache", "-j", "2", "--format", "json", "a", "b"],
    ["check", "--form", "sarif", "a"], ["check", "--format=json", "--lang", "nl", "--strict", "a"],
    ["check", "--today", "2026-01-02", "--report", "r.html", "--fix", "--cache-dir", "c", "a"],
    ["check", "-h"], ["check"], ["check", "--format", "xml", "a"], ["check", "--bogus", "a"],
    ["check", "a", "--version"], ["check", "--today", "soon", "a"], ["check", "-j", "x", "a"], ["check", "--", "-a"],
    ["build"], ["build", "-h"], ["build", "-o", "out", "--no-pdf", "-q", "p"], ["build", "--verbose", "--quiet"],
    ["explain"], ["explain", "D002"], ["explain", "D002", "extra"], ["rules", "--format", "json"], ["rules", "-h"],
    ["model", "p.protocol"], ["model", "--format", "x", "p"], ["model"],
]


def _outcome(parser_only: str | None, arguments: list[str]) -> tuple[object, str, str]:
    parser = cli._parser(with_plugins=False, only=parser_only)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            parsed: object = vars(parser.parse_args(arguments))
        except SystemExit as stop:
            parsed = ("exit", stop.code)
    return parsed, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("arguments", ARGUMENTS, ids=" ".join)
def test_the_sub_parser_alone_answers_as_the_whole_parser(arguments: list[str]) -> None:
    assert _outcome(arguments[0], arguments) == _outcome(None, arguments)


def test_only_a_command_given_first_builds_the_sub_parser_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str | None] = []
    real = cli._parser

    def spy(with_plugins: bool = True, only: str | None = None) -> object:
        asked.append(only)
        return real(with_plugins, only)

    monkeypatch.setattr(cli, "_parser", spy)
    for arguments in (["--version", "check"], [], ["rules", "--format", "json"]):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            cli.main(arguments)
    assert asked == [None, None, "rules"]
