"""The one Diagnostic type and the one registry of rule codes.

Every problem protocolc reports, from a bad byte to a wrong dose, is a `Diagnostic`
carrying a registered code. Codes are never reused; a retired code stays in the
registry with status "retired".
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import field
from typing import Any

from compiler.records import frozen
from compiler.source import Span


class Severity(enum.Enum):
    """How serious a finding is: errors block release, warnings are counted, infos advise."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Sort order: errors first."""
        return {"error": 0, "warning": 1, "info": 2}[self.value]


FAMILIES: dict[str, str] = {
    "P": "parse, encoding, structure, limits",
    "F": "formulary: drug names, brands, abbreviations, units, routes",
    "N": "notation: error-prone abbreviations and number formats",
    "D": "dose: ranges, basis, caps, cumulative, loading",
    "S": "schedule: frequency, cycle days, cycles, duration, infusion time",
    "C": "combinations: companions, forbidden pairs, class duplicates",
    "L": "decision logic: conditions, biomarker thresholds, coverage",
    "R": "radiotherapy: fractionation arithmetic, dose per fraction",
    "X": "text and references: placeholders, editorial notes, references",
    "V": "document control and versions",
    "A": "acknowledgements (allow lines)",
}


@frozen(slots=True)
class Fix:
    """A suggested replacement of the text at `span`.

    `safe` fixes (notation, spelling of a name) may be applied by `check --fix`;
    unsafe ones (anything touching a dose or a schedule) are only ever shown.
    """

    span: Span
    replacement: str
    title: str
    safe: bool = False


@frozen(slots=True)
class Related:
    """A secondary location that explains a finding."""

    span: Span
    message: str


@frozen(slots=True)
class Diagnostic:
    """One finding: code, severity, message, where, what to do."""

    code: str
    severity: Severity
    message: str
    span: Span
    hint: str
    fix: Fix | None = None
    related: tuple[Related, ...] = ()
    acknowledged: str | None = None

    def sort_key(self) -> tuple[str, int, int, str]:
        """Order by file, then position, then code."""
        return (self.span.file, self.span.line, self.span.column, self.code)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape other tools rely on."""
        data: dict[str, Any] = {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "hint": self.hint,
            "fix": None,
        }
        if self.fix is not None:
            data["fix"] = {
                "replacement": self.fix.replacement,
                "title": self.fix.title,
                "safe": self.fix.safe,
                "line": self.fix.span.line,
                "column": self.fix.span.column,
                "end_line": self.fix.span.end_line,
                "end_column": self.fix.span.end_column,
            }
        if self.related:
            data["related"] = [
                {"message": r.message, "file": r.span.file, "line": r.span.line, "column": r.span.column,
                 "end_line": r.span.end_line, "end_column": r.span.end_column}
                for r in self.related
            ]
        if self.acknowledged is not None:
            data["acknowledged"] = self.acknowledged
        return data


def diagnostic_from_json(data: dict[str, Any]) -> Diagnostic:
    """The inverse of `Diagnostic.to_json` (used by the result cache)."""
    file = str(data["file"])
    span = Span(file, int(data["line"]), int(data["column"]), int(data["end_line"]), int(data["end_column"]))
    fix = None
    if data.get("fix"):
        f = data["fix"]
        fix = Fix(Span(file, int(f["line"]), int(f["column"]), int(f["end_line"]), int(f["end_column"])),
                  str(f["replacement"]), str(f["title"]), bool(f["safe"]))
    related = tuple(
        Related(Span(str(r["file"]), int(r["line"]), int(r["column"]), int(r.get("end_line", r["line"])),
                     int(r.get("end_column", r["column"]))), str(r["message"]))
        for r in data.get("related") or [])
    return Diagnostic(str(data["code"]), Severity(data["severity"]), str(data["message"]), span, str(data["hint"]),
                      fix, related, data.get("acknowledged"))


@frozen(slots=True)
class Rule:
    """A registered code: its name, family, default severity, summary and documentation."""

    code: str
    name: str
    severity: Severity
    summary: str
    doc: str
    status: str = "active"
    check: Callable[..., Iterable[Diagnostic]] | None = field(default=None, compare=False)

    @property
    def family(self) -> str:
        """The family letter, e.g. "D" for D002."""
        return self.code[0]

    def at(
        self,
        span: Span,
        message: str,
        hint: str,
        fix: Fix | None = None,
        related: tuple[Related, ...] = (),
        severity: Severity | None = None,
    ) -> Diagnostic:
        """A diagnostic of this rule at `span`."""
        return Diagnostic(self.code, severity or self.severity, message, span, hint, fix, related)


REGISTRY: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    """Add a rule to the registry; a code can be registered once only."""
    if rule.code in REGISTRY:
        raise ValueError(f"code {rule.code} registered twice")
    REGISTRY[rule.code] = rule
    return rule


def define(code: str, name: str, severity: Severity, summary: str, doc: str) -> Rule:
    """Register a rule reported by a compiler stage rather than by a check function."""
    return register(Rule(code, name, severity, summary, inspect.cleandoc(doc)))


def check(code: str, name: str, severity: Severity, summary: str) -> Callable[[Callable[..., Iterator[Diagnostic]]], Rule]:
    """Decorator: register a check function; its docstring is the rule's documentation."""

    def wrap(function: Callable[..., Iterator[Diagnostic]]) -> Rule:
        doc = inspect.cleandoc(function.__doc__ or "")
        return register(Rule(code, name, severity, summary, doc, check=function))

    return wrap


def rule(code: str) -> Rule:
    """Look up a registered rule, importing the rule modules on first use."""
    if code not in REGISTRY:
        from compiler.checks import load_rules

        load_rules()
    return REGISTRY[code]
