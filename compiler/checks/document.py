"""V: document control (ISO 9001 §7.5) — metadata, roles, dates."""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterator

from compiler import model as m
from compiler.checks import Context
from compiler.diagnostics import Diagnostic, Severity, check, define, rule
from compiler.source import Span

REQUIRED = ("id", "title", "version", "status", "language", "owner", "author", "next review", "scope", "reference")
REQUIRED_WHEN_APPROVED = ("approver", "approved")


def _top(context: Context) -> Span:
    fields = context.protocol.meta.fields
    if fields:
        return fields[0].span
    return Span(context.source.path, 1, 1, 1, 1)


@check("V001", "metadata-missing", Severity.ERROR, "required metadata missing or invalid")
def metadata_missing(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the metadata block names id, title, version (major.minor), status
    (draft, review, approved, superseded, retired), language (nl, en), owner, author,
    next review date, scope and at least one reference; an approved protocol also names
    its approver and approval date. Values must be valid (dates as YYYY-MM-DD).

    Why it matters: a controlled document must say what it is, which version, who is
    responsible and until when it is valid — the footer of every printed page is
    filled from these fields.

    Example: a protocol without `version:` or with `version: 2`

    Use instead: `version: 2.0`

    Source: ISO 9001:2015 §7.5.2 and §7.5.3.
    """
    meta = context.protocol.meta
    present = {f.key for f in meta.fields if f.value}
    required = list(REQUIRED)
    if meta.status == m.Status.APPROVED:
        required += REQUIRED_WHEN_APPROVED
    for key in required:
        if key not in present:
            line = meta.field(key)
            span = line.span if line is not None else _top(context)
            yield metadata_missing.at(span, f"required metadata `{key}` is missing",
                                      f"add a line `{key}: …` to the metadata at the top")


@check("V002", "approver-is-author", Severity.ERROR, "approver is the author")
def approver_is_author(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the approver differs from the author.

    Why it matters: approval is an independent check; nobody approves their own sheet.

    Example: `author: Ziekenhuisapotheek` and `approver: Ziekenhuisapotheek`

    Use instead: name the approving committee or role, e.g. `approver: Medisch-Farmaceutisch Comité`.

    Source: ISO 9001:2015 §7.5.2 c (review and approval for suitability and adequacy).
    """
    meta = context.protocol.meta
    if meta.author and meta.approver and " ".join(meta.author.value.lower().split()) == " ".join(meta.approver.value.lower().split()):
        yield approver_is_author.at(meta.approver.span, "the approver is the author",
                                    "approval must come from another person, role or committee")


@check("V003", "dates-out-of-order", Severity.ERROR, "document dates out of order")
def dates_out_of_order(context: Context) -> Iterator[Diagnostic]:
    """What it checks: authored ≤ approved ≤ next review (and authored ≤ next review).

    Why it matters: an approval dated before the text was written, or a review date
    before the approval, means one of the dates is wrong — and the validity of the
    printed copy is judged by them.

    Example: `authored: 2026-11-01`, `approved: 2026-10-01`

    Use instead: correct the dates.

    Source: ISO 9001:2015 §7.5.3.
    """
    meta = context.protocol.meta
    order: list[tuple[str, datetime.date | None]] = [
        ("authored", meta.authored), ("approved", meta.approved), ("next review", meta.next_review)]
    known = [(k, d) for k, d in order if d is not None]
    for (k1, d1), (k2, d2) in itertools.pairwise(known):
        if d1 is not None and d2 is not None and d2 < d1:
            line = meta.field(k2)
            span = line.value_span if line else _top(context)
            yield dates_out_of_order.at(span, f"{k2} date {d2.isoformat()} is before the {k1} date {d1.isoformat()}",
                                        f"the {k2} date must be on or after the {k1} date")


@check("V004", "review-overdue", Severity.WARNING, "review date has passed")
def review_overdue(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the next review date is not in the past (default interval: 2 years
    after approval).

    Why it matters: an unreviewed protocol may no longer match current labels and
    guidelines; release refuses it.

    Example: `next review: 2024-01-01`

    Use instead: review the protocol and set the next review date.

    Source: ISO 9001:2015 §7.5.3; local policy (2-year review interval).
    """
    meta = context.protocol.meta
    line = meta.field("next review")
    if meta.next_review is not None and meta.next_review < context.today and line is not None:
        if meta.status in (m.Status.SUPERSEDED, m.Status.RETIRED):
            return
        days = (context.today - meta.next_review).days
        yield review_overdue.at(line.value_span, f"review was due {meta.next_review.isoformat()} ({days} days ago)",
                                "review the protocol and set a new `next review:` date")


@check("V010", "approved-with-open-query", Severity.ERROR, "an approved protocol holds an open review query")
def approved_with_open_query(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a protocol whose status is `approved` holds no `query:` line. Each
    open query is reported at the query.

    Why it matters: a query is an unanswered review question about the content — often a
    dose; an approved sheet that still asks it has been approved without the answer.

    Example: `status: approved` and `query: is 100 mL the bottle or the daily dose?`

    Use instead: answer the query, change the content, remove the query line, then approve.

    Source: ISO 9001:2015 §7.5.2 (review and approval for suitability and adequacy);
    RULES.md V and X006.
    """
    if context.protocol.meta.status != m.Status.APPROVED:
        return
    for item in context.of_type(m.Query):
        if isinstance(item, m.Query):
            yield approved_with_open_query.at(item.span, "open review query in an approved protocol",
                                              "answer and remove the query, or set `status: review`")


# V011 is reported by the pipeline after acknowledgements: it needs every other finding.
define("V011", "approved-with-unacknowledged-error", Severity.ERROR,
       "an approved protocol holds an unacknowledged error", """
    What it checks: a protocol whose status is `approved` has no error left that is not
    acknowledged with `allow CODE "why"`. It is reported once, at the status line, after
    every other check and acknowledgement has run, and lists the codes.

    Why it matters: the status is what a reader trusts; an approved sheet must not carry a
    known error that nobody has justified.

    Example: `status: approved` in a protocol with `drug tamoxifen 200 mg po daily` (D002).

    Use instead: correct the errors (or acknowledge each with a reason), then approve.

    Source: ISO 9001:2015 §7.5.2; RULES.md (errors block release).
""")


def approved_with_errors(protocol: m.Protocol, diagnostics: list[Diagnostic]) -> Diagnostic | None:
    """V011 for an approved protocol that still holds unacknowledged errors (None otherwise)."""
    if protocol.meta.status != m.Status.APPROVED:
        return None
    codes = sorted({d.code for d in diagnostics if d.severity is Severity.ERROR and d.acknowledged is None
                    and d.code not in ("V010", "V011")})
    if not codes:
        return None
    field = protocol.meta.field("status")
    span = field.value_span if field is not None else Span(protocol.path, 1, 1, 1, 1)
    return rule("V011").at(span, f"approved protocol with unacknowledged errors: {', '.join(codes)}",
                           "correct or acknowledge each error (`allow CODE \"why\"`), or set `status: review`")


define("V008", "withdrawn-protocol-referenced", Severity.WARNING,
       "a current protocol refers to a superseded or retired one", """
    What it checks: across the book, a protocol that is not itself superseded or retired
    names, in a `reference:` line, the id of a protocol whose status is `superseded` or
    `retired`. It is reported at the reference (a book finding: it needs the other
    protocol, so `check` of a single file cannot see it).

    Why it matters: a reader following the reference lands on a withdrawn sheet, with
    doses or indications that no longer apply.

    Example: `reference: borst-hormonaal-2019` where that protocol has `status: superseded`.

    Use instead: refer to the protocol that replaced it.

    Source: ISO 9001:2015 §7.5.3.2 (prevent the unintended use of obsolete documented
    information); RULES.md V008.
""")
