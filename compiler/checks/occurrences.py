"""Occurrence rows of a dose-modification band (issue 14): `1st occurrence: …`, `2nd occurrence: …`.

Real tables (capecitabine SmPC table 3, fluorouracil, sacituzumab govitecan) give a
different action each time the same toxicity grade comes back. L013–L015 check that the
rows can be followed at the bedside: numbered without gaps, closed at the end, and never
giving more drug after a later occurrence than after an earlier one.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from compiler import model as m
from compiler.checks import Context
from compiler.diagnostics import Diagnostic, Related, Severity, check


def _bands(context: Context) -> Iterator[m.DoseBand]:
    """The bands with occurrence rows (found once per check run: three rules ask, and most bands have none)."""
    return iter(context.shared(_find_bands))


def _find_bands(context: Context) -> list[m.DoseBand]:
    return [band for band in context.of_type(m.DoseBand) if band.occurrences()]


def _ordinal(number: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(number, f"{number}th")


def _stops(occurrence: m.Occurrence) -> bool:
    return any(a.kind == "discontinue" for a in occurrence.actions)


@check("L013", "occurrence-sequence", Severity.ERROR, "occurrence rows out of order, repeated, or after the last one")
def occurrence_sequence(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the occurrence rows under a band run 1st, 2nd, 3rd… in order, each
    once, and no row follows a row that discontinues the drug or one that already holds
    for every later occurrence (`3rd and later occurrences`).

    Why it matters: a nurse finds the row for "the second time grade 3 diarrhoea occurs"
    by counting; a missing `2nd occurrence`, a repeated one, or a row that can never be
    reached (after `discontinue`) leaves that count without an answer or with two.

    Example: `1st occurrence: withhold then 75%` followed by `3rd occurrence: 50%`

    Use instead: write the `2nd occurrence:` row the source gives

    Source: issue 14; capecitabine SmPC 4.2 table 3 (rows per occurrence).
    """
    for band in _bands(context):
        expected = 1
        closed: m.Occurrence | None = None
        for occurrence in band.occurrences():
            if closed is not None:
                reason = ("discontinues the drug" if _stops(closed)
                          else f"already holds for the {_ordinal(closed.number)} and every later occurrence")
                yield occurrence_sequence.at(
                    occurrence.span, f"{_ordinal(occurrence.number)} occurrence can never apply: the row on line "
                    f"{closed.span.line} {reason}", "remove this row, or correct the row before it",
                    related=(Related(closed.span, "the last reachable row"),))
                continue
            if occurrence.number != expected:
                if occurrence.number < expected:
                    found = "repeated"
                elif expected > 1:
                    found = f"after the {_ordinal(expected - 1)}"
                else:
                    found = "without a 1st occurrence row"
                yield occurrence_sequence.at(
                    occurrence.span, f"{_ordinal(occurrence.number)} occurrence {found}: the rows must run "
                    f"1st, 2nd, 3rd… in order", f"write the {_ordinal(expected)} occurrence row here")
            expected = max(expected, occurrence.number) + 1
            if _stops(occurrence) or occurrence.and_later:
                closed = occurrence


@check("L014", "occurrence-open-end", Severity.WARNING, "the next occurrence after the last row is not written")
def occurrence_open_end(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the last occurrence row under a band discontinues the drug or holds
    for every later occurrence (`3rd and later occurrences: 50%`).

    Why it matters: when grade 3 comes back a fourth time and the table stops at the
    third, nobody at the bedside knows whether to reduce again, repeat the last step or
    stop; real tables (capecitabine SmPC table 3) end each grade with "discontinue
    permanently".

    Example: `2nd occurrence: withhold then 50%` as the last row

    Use instead: add `3rd occurrence: discontinue`, or write `2nd and later occurrences:`

    Source: issue 14; capecitabine SmPC 4.2 table 3.
    """
    for band in _bands(context):
        occurrences = band.occurrences()
        last = occurrences[-1]
        if not any(_stops(o) or o.and_later for o in occurrences):  # a row after a closing one is L013's
            yield occurrence_open_end.at(
                last.span, f"after the {_ordinal(last.number)} occurrence the table does not say what to do",
                f"add `{_ordinal(last.number + 1)} occurrence: discontinue` (or the source's next step), or write "
                f"`{_ordinal(last.number)} and later occurrences:`")


def _given(actions: tuple[m.DoseAction, ...]) -> tuple[str, Decimal] | None:
    """What a list of actions finally gives, as a comparable (kind, amount); None when it gives no dose figure."""
    for action in reversed(actions):
        if action.kind == "discontinue":
            return ("stop", Decimal(0))
        if action.kind == "percent" and action.percent is not None:
            return ("percent", action.percent.value)
        if action.kind == "level" and action.level is not None:
            return ("level", Decimal(action.level))
        if action.kind == "dose" and action.dose is not None:
            return (f"dose {action.dose.unit}", action.dose.amount.value)
    return None


@check("L015", "occurrence-dose-rises", Severity.ERROR, "a later occurrence gives more drug than an earlier one")
def occurrence_dose_rises(context: Context) -> Iterator[Diagnostic]:
    """What it checks: under one band, the dose after a later occurrence (percentage, dose
    level or dose) is never higher than the dose after an earlier occurrence.

    Why it matters: a toxicity that comes back means the last reduction was not enough;
    a table whose 2nd occurrence restores 100 % after a 1st occurrence at 75 % has its
    rows swapped or a mistyped figure, and would give a patient who already reacted twice
    the full dose again.

    Example: `1st occurrence: withhold then 75%` and `2nd occurrence: withhold then 100%`

    Use instead: `1st occurrence: withhold then 100%` and `2nd occurrence: withhold then 75%`

    Source: issue 14; capecitabine SmPC 4.2 table 3 (100 %, 75 %, 50 %, discontinue).
    """
    for band in _bands(context):
        lowest: dict[str, tuple[Decimal, m.Occurrence]] = {}
        for occurrence in band.occurrences():
            given = _given(occurrence.actions)
            if given is None:
                continue
            kind, amount = given
            earlier = lowest.get(kind)
            if earlier is not None and amount > earlier[0]:
                yield occurrence_dose_rises.at(
                    occurrence.span, f"the {_ordinal(occurrence.number)} occurrence gives more than the "
                    f"{_ordinal(earlier[1].number)} (line {earlier[1].span.line})",
                    "a returning toxicity keeps or lowers the dose: check the order of the rows and the figures",
                    related=(Related(earlier[1].span, "the earlier, lower dose"),))
            if earlier is None or amount < earlier[0]:
                lowest[kind] = (amount, occurrence)
