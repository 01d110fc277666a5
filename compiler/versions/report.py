"""The clinical diff for people: terminal text (coloured on a tty), JSON, and a printable
side-by-side HTML report for a quality committee (Jinja2, autoescaped, self-contained).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import jinja2

from compiler import __version__
from compiler.versions import Verdict
from compiler.versions.diff import CLINICAL, Change, change_class, term

COLOURS = {"clinical": "\033[1;31m", "editorial": "\033[36m", "bold": "\033[1m", "error": "\033[1;31m",
           "info": "\033[33m", "ok": "\033[32m", "reset": "\033[0m"}

REPORT_WORDS: dict[str, dict[str, str]] = {
    "nl": {"title": "Wijzigingsrapport", "protocol": "Protocol", "versions": "Versies", "summary": "Samenvatting",
           "verdict": "Versiebeleid", "change": "Wijziging", "class": "Soort", "reviewed": "Nagezien door (comité)",
           "date": "Datum en handtekening"},
    "en": {"title": "Change report", "protocol": "Protocol", "versions": "Versions", "summary": "Summary",
           "verdict": "Version policy", "change": "Change", "class": "Class", "reviewed": "Reviewed by (committee)",
           "date": "Date and signature"},
}


@dataclass(frozen=True)
class Side:
    """One side of a comparison: where it came from and what it is."""

    id: str
    version: str
    sha256: str
    title: str
    source: str  # the file, `id@version` or `id@git:rev` as given


@dataclass(frozen=True)
class DiffReport:
    """Two sides, their changes and the version policy's verdict."""

    old: Side
    new: Side
    language: str
    changes: tuple[Change, ...]
    verdict: Verdict

    def groups(self) -> list[tuple[str, list[Change]]]:
        """Changes grouped by section heading, in order of first appearance."""
        out: dict[str, list[Change]] = {}
        for change in self.changes:
            out.setdefault(change.heading, []).append(change)
        return list(out.items())

    def as_json(self) -> dict[str, Any]:
        """`diff --format json`."""
        return {
            "old": vars(self.old), "new": vars(self.new), "language": self.language,
            "class": change_class(self.changes), "verdict": self.verdict.as_json(),
            "changes": [c.as_json() for c in self.changes],
            "summary": {"clinical": sum(c.change_class == CLINICAL for c in self.changes),
                        "editorial": sum(c.change_class != CLINICAL for c in self.changes)},
        }


def write_text(report: DiffReport, stream: TextIO, colour: bool) -> None:
    """The terminal form: a header, then per section one line per change with its class."""
    language = report.language

    def c(name: str, text: str) -> str:
        return f"{COLOURS[name]}{text}{COLOURS['reset']}" if colour else text

    stream.write(c("bold", f"{report.new.id} {report.old.version} → {report.new.version}") + "\n")
    if not report.changes:
        stream.write(f"{term(language, 'no_changes')}\n")
    for heading, changes in report.groups():
        stream.write(f"\n{c('bold', heading)}\n")
        for change in changes:
            tag = term(language, change.change_class)
            stream.write(f"  {c(change.change_class, f'[{tag}]')} {change.text}\n")
    verdict = report.verdict
    stream.write(f"\n{c(verdict.severity, term_verdict(verdict, language))}\n")


def term_verdict(verdict: Verdict, language: str = "en") -> str:
    """`version policy: …` (`versiebeleid: …`) with the code when the policy is not met."""
    from compiler import i18n

    code = f"[{verdict.code}] " if verdict.code else ""
    return f"{i18n.word('version_policy', language)}: {code}{i18n.message(verdict.message, language, numbers=False)}"


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("compiler.versions", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_html(report: DiffReport) -> str:
    """The self-contained, printable side-by-side report."""
    language = report.language if report.language in REPORT_WORDS else "en"
    vocabulary = {**REPORT_WORDS[language], "clinical": term(language, "clinical"),
                  "editorial": term(language, "editorial"), "no_changes": term(language, "no_changes")}
    groups = [{"heading": heading, "changes": changes} for heading, changes in report.groups()]
    counts = {"clinical": sum(c.change_class == CLINICAL for c in report.changes),
              "editorial": sum(c.change_class != CLINICAL for c in report.changes)}
    from compiler import i18n

    verdict_text = i18n.message(report.verdict.message, language, numbers=False)
    return _environment().get_template("diff.html.j2").render(
        language=language, words=vocabulary, old=report.old, new=report.new, groups=groups, counts=counts,
        verdict=report.verdict, verdict_text=verdict_text, compiler=__version__)


def summary_lines(changes: Sequence[Change], limit: int = 10) -> list[str]:
    """Short lines for `verify`: the first changes, clinical first."""
    ordered = sorted(changes, key=lambda c: c.change_class != CLINICAL)
    lines = [f"[{c.change_class}] {c.text}" for c in ordered[:limit]]
    if len(changes) > limit:
        lines.append(f"… and {len(changes) - limit} more")
    return lines


class NotAProtocol(Exception):
    """A side of a diff that does not build into a protocol."""


def compare(old_label: str, old_raw: bytes, new_label: str, new_raw: bytes) -> DiffReport:
    """The diff report of two protocol sources (NotAProtocol when one does not build)."""
    import hashlib

    from compiler.render.words import language_of
    from compiler.tables import load
    from compiler.versions import model_of, policy
    from compiler.versions.diff import diff_protocols

    sides: list[Side] = []
    models = []
    for label, raw in ((old_label, old_raw), (new_label, new_raw)):
        protocol = model_of(label, raw)
        if protocol is None or protocol.meta.id is None:
            raise NotAProtocol(f"{label} does not build into a protocol with an id; run `protocolc check` on it")
        models.append(protocol)
        meta = protocol.meta
        sides.append(Side(meta.id.value if meta.id else "?", str(meta.version) if meta.version else "?",
                          hashlib.sha256(raw).hexdigest(), meta.title.value if meta.title else "", label))
    if sides[0].id != sides[1].id:
        raise NotAProtocol(f"{old_label} and {new_label} are different protocols ({sides[0].id}, {sides[1].id})")
    changes = diff_protocols(models[0], models[1], load())
    verdict = policy(sides[0].version, sides[1].version, changes)
    return DiffReport(sides[0], sides[1], language_of(models[1]), tuple(changes), verdict)
