"""Acknowledgements: `allow CODE "justification"` lines and the findings they silence.

An `allow` line acknowledges findings of one code on the statement it is indented
under (and that statement's own indented block); at the top of a section it covers
the section's heading line only. The justification is required and is shown in the
report and the rendered sheet, never silently.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from compiler import model as m
from compiler.checks import Context
from compiler.diagnostics import REGISTRY, Diagnostic, Severity, check
from compiler.source import Span

UNACKNOWLEDGEABLE_WHEN_APPROVED = ("D", "C", "S")


def extent(item: m.Item) -> Span:
    """The span of an item together with all its descendants."""
    end = item.span
    stack = list(item.children)
    while stack:
        child = stack.pop()
        if (child.span.end_line, child.span.end_column) > (end.end_line, end.end_column):
            end = child.span
        stack.extend(child.children)
    return Span(item.span.file, item.span.line, item.span.column, end.end_line, end.end_column)


def allowances(protocol: m.Protocol) -> list[tuple[m.Allow, Span]]:
    """Every allow line with the region it covers."""
    out: list[tuple[m.Allow, Span]] = []

    def walk(items: tuple[m.Item, ...], owner: m.Item | None, top: Span) -> None:
        for item in items:
            if isinstance(item, m.Allow):
                # the region is measured only where an allow line needs it (extent walks a subtree)
                out.append((item, extent(owner) if owner is not None else top))
            walk(item.children, item, top)

    walk(protocol.preamble, None, Span(protocol.path, 1, 1, 1, 1))
    for section in protocol.all_sections():
        walk(section.items, None, section.span)
    return out


@check("X010", "allow-without-justification", Severity.ERROR, "acknowledgement without a justification")
def allow_without_justification(context: Context) -> Iterator[Diagnostic]:
    """What it checks: every `allow CODE` carries a written justification in quotes.

    Why it matters: an acknowledged finding is a deliberate deviation; the reason is what
    the quality team reviews and what the report shows.

    Example: `allow D012`

    Use instead: `allow D012 "dose-dense EC per local trial protocol X, committee 2026-03"`

    Source: RULES.md (acknowledgements); Rust RFC 2383 (lint reasons).
    """
    for allow, _ in allowances(context.protocol):
        if allow.justification is None:
            yield allow_without_justification.at(allow.span, f"`allow {allow.code.value}` without a justification",
                                                 'add the reason in quotes: allow CODE "why this is acceptable"')


@check("X011", "allow-unknown-code", Severity.ERROR, "acknowledgement of an unknown code")
def allow_unknown_code(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the code in `allow CODE` is a registered rule code.

    Why it matters: a mistyped code silences nothing while looking as if it did.

    Example: `allow D999 "…"`

    Use instead: the code shown in the finding (`protocolc rules` lists them all).

    Source: protocolc.
    """
    for allow, _ in allowances(context.protocol):
        if allow.code.value not in REGISTRY:
            yield allow_unknown_code.at(allow.code.span, f"unknown rule code `{allow.code.value}`",
                                        "use a code from `protocolc rules`")


define_unfulfilled = check("X012", "allow-unused", Severity.WARNING, "acknowledgement that silences nothing")


@define_unfulfilled
def allow_unused(context: Context) -> Iterator[Diagnostic]:
    """What it checks: every `allow CODE` line silences at least one finding of that code
    on its statement (reported after all other checks have run).

    Why it matters: a stale acknowledgement outlives the problem it excused and would
    silently excuse a new one.

    Example: `allow D001 "…"` under a drug line whose dose is within range.

    Use instead: remove the `allow` line.

    Source: Rust RFC 2383 (`#[expect]`, unfulfilled lint expectations).
    """
    return iter(())


def apply_acknowledgements(protocol: m.Protocol, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Mark acknowledged findings and report allow lines that silence nothing."""
    regions = allowances(protocol)
    used: set[int] = set()
    out: list[Diagnostic] = []
    approved = protocol.meta.status == m.Status.APPROVED
    for diagnostic in diagnostics:
        result = diagnostic
        for index, (allow, region) in enumerate(regions):
            if allow.code.value != diagnostic.code or allow.justification is None:
                continue
            if not region.contains(diagnostic.span):
                continue
            used.add(index)
            blocked = (approved and diagnostic.severity == Severity.ERROR
                       and diagnostic.code[0] in UNACKNOWLEDGEABLE_WHEN_APPROVED)
            if blocked:
                result = dataclasses.replace(
                    diagnostic, hint=diagnostic.hint + " (an error of this family cannot be acknowledged in an approved protocol)")
            else:
                result = dataclasses.replace(diagnostic, acknowledged=allow.justification.value)
            break
        out.append(result)
    rule = REGISTRY["X012"]
    for index, (allow, _) in enumerate(regions):
        if index not in used and allow.justification is not None and allow.code.value in REGISTRY:
            out.append(rule.at(allow.span, f"`allow {allow.code.value}` silences nothing here",
                               "remove the allow line, or move it under the statement it is meant for"))
    return out
