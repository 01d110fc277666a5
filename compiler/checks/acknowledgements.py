"""Acknowledgements: `allow CODE "justification"` lines and the findings they silence.

An `allow` line acknowledges findings of one code on the statement it is indented
under (and that statement's own indented block); at the top of a section it covers
the section's heading line only. The justification is required and is shown in the
report and the rendered sheet, never silently.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_right
from collections.abc import Callable, Iterator

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


_ALLOWANCES: list[tuple[m.Protocol, list[tuple[m.Allow, Span]]]] = []  # the last protocol's (three callers)


def allowances(protocol: m.Protocol) -> list[tuple[m.Allow, Span]]:
    """Every allow line with the region it covers (shared: do not change the list)."""
    for known, found in _ALLOWANCES:
        if known is protocol:
            return found
    found = _allowances(protocol)
    _ALLOWANCES[:] = [(protocol, found)]
    return found


def _walk_allows(items: tuple[m.Item, ...], owner: m.Item | None, top: Span, out: list[tuple[m.Allow, Span]],
         region: Callable[[m.Item], Span]) -> None:
    """Note each allow line below `items` with its region (not a nested function: one that calls
    itself is a reference cycle, left to the garbage collector).
    """
    for item in items:
        if isinstance(item, m.Allow):
            # the region is measured only where an allow line needs it (extent walks a subtree)
            out.append((item, region(owner) if owner is not None else top))
        _walk_allows(item.children, item, top, out, region)


def _allowances_of(context: Context) -> list[tuple[m.Allow, Span]]:
    """`allowances(context.protocol)`, asked of the run's index of items by type first: most sheets
    acknowledge nothing, and the index answers that without a pass over the items.
    """
    if context.of_type(m.Allow):
        return allowances(context.protocol)
    if not _ALLOWANCES or _ALLOWANCES[0][0] is not context.protocol:
        _ALLOWANCES[:] = [(context.protocol, [])]  # what `apply_acknowledgements` asks next
    return _ALLOWANCES[0][1]


def _allowances(protocol: m.Protocol) -> list[tuple[m.Allow, Span]]:
    out: list[tuple[m.Allow, Span]] = []
    for item in protocol.all_items():
        if isinstance(item, m.Allow):
            break
    else:
        return out  # most sheets acknowledge nothing: no walk (the items are listed once per protocol)
    extents: dict[int, Span] = {}

    def region(owner: m.Item) -> Span:
        # measured once per statement, however many allow lines sit under it
        if id(owner) not in extents:
            extents[id(owner)] = extent(owner)
        return extents[id(owner)]

    _walk_allows(protocol.preamble, None, Span(protocol.path, 1, 1, 1, 1), out, region)
    for section in protocol.all_sections():
        _walk_allows(section.items, None, section.span, out, region)
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
    for allow, _ in _allowances_of(context):
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
    for allow, _ in _allowances_of(context):
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
    if not regions:
        return list(diagnostics)  # nothing acknowledged (most sheets): every finding as it is
    index_of = RegionIndex(regions)
    used: set[int] = set()
    out: list[Diagnostic] = []
    approved = protocol.meta.status == m.Status.APPROVED
    for diagnostic in diagnostics:
        result = diagnostic
        index = index_of.first(diagnostic.code, diagnostic.span)
        if index is not None:
            allow = regions[index][0]
            assert allow.justification is not None
            used.add(index)
            blocked = (approved and diagnostic.severity == Severity.ERROR
                       and diagnostic.code[0] in UNACKNOWLEDGEABLE_WHEN_APPROVED)
            if blocked:
                result = dataclasses.replace(
                    diagnostic, hint=diagnostic.hint + " (an error of this family cannot be acknowledged in an approved protocol)")
            else:
                result = dataclasses.replace(diagnostic, acknowledged=allow.justification.value)
        out.append(result)
    rule = REGISTRY["X012"]
    for index, (allow, _) in enumerate(regions):
        if index not in used and allow.justification is not None and allow.code.value in REGISTRY:
            out.append(rule.at(allow.span, f"`allow {allow.code.value}` silences nothing here",
                               "remove the allow line, or move it under the statement it is meant for"))
    return out


_Key = tuple[str, int, int, int, int]


class RegionIndex:
    """The first allow line (in source order) whose region holds a finding, per code.

    Regions are statements with their blocks, so two regions are nested or apart: the
    regions holding a finding are the innermost one that starts at or before it and
    that region's enclosing regions. A finding costs a search and a walk up at most
    the nesting depth (identical regions are one entry), instead of a pass over every
    allow line: 20,000 allow lines once took ten minutes (issue 12).
    """

    def __init__(self, regions: list[tuple[m.Allow, Span]]) -> None:
        first: dict[tuple[str, _Key], int] = {}
        for index, (allow, span) in enumerate(regions):
            if allow.justification is not None:
                first.setdefault((allow.code.value, (span.file, span.line, span.column, -span.end_line,
                                                     -span.end_column)), index)
        self._starts: dict[str, list[tuple[str, int, int]]] = {}
        self._entries: dict[str, list[tuple[Span, int, int | None]]] = {}  # span, allow index, parent entry
        stacks: dict[str, list[int]] = {}
        for code, where in sorted(first):
            span = Span(where[0], where[1], where[2], -where[3], -where[4])
            entries = self._entries.setdefault(code, [])
            stack = stacks.setdefault(code, [])
            while stack and not entries[stack[-1]][0].contains(span):
                stack.pop()
            entries.append((span, first[(code, where)], stack[-1] if stack else None))
            stack.append(len(entries) - 1)
            self._starts.setdefault(code, []).append((span.file, span.line, span.column))

    def first(self, code: str, span: Span) -> int | None:
        """The index of the first allow line of `code` whose region contains `span`."""
        starts = self._starts.get(code)
        if not starts:
            return None
        entries = self._entries[code]
        position: int | None = bisect_right(starts, (span.file, span.line, span.column)) - 1
        best: int | None = None
        while position is not None and position >= 0:
            region, index, parent = entries[position]
            if region.contains(span) and (best is None or index < best):
                best = index
            position = parent
        return best
