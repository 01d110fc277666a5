"""Build the model from the syntax tree: typed values, sections, spans.

Malformed values that the grammar accepts on purpose (so the message can be precise)
are reported here: duplicate or unknown metadata fields, bad versions, dates,
statuses, section ids.
"""

from __future__ import annotations

import datetime
import re
import sys
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable
from decimal import Context, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from lark import Token, Tree

from compiler import limits
from compiler import model as m
from compiler import source as source_module
from compiler._shadow import makers, twin
from compiler.diagnostics import Diagnostic, Fix, Related, rule
from compiler.lazyre import lazy
from compiler.parse import Node, offsets
from compiler.source import SourceFile, Span
from compiler.suggest import closest

if TYPE_CHECKING:
    from compiler import model as mk  # the model's classes, to make objects with
    from compiler import source as ms  # and `Span`
else:  # the same, each object made without its slot-by-slot `__init__` (see `_shadow`)
    mk, ms = makers(m), makers(source_module)

# canonical key -> accepted spellings (English keywords, Dutch aliases)
META_KEYS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "title": ("title", "titel"),
    "version": ("version", "versie"),
    "status": ("status",),
    "language": ("language", "taal"),
    "owner": ("owner", "department", "eigenaar", "dienst", "afdeling"),
    "author": ("author", "auteur", "opgesteld door"),
    "reviewer": ("reviewer", "nagelezen door"),
    "approver": ("approver", "goedgekeurd door", "goedkeurder"),
    "authored": ("authored", "opgesteld op", "datum opgesteld"),
    "approved": ("approved", "goedgekeurd op", "datum goedkeuring"),
    "next review": ("next review", "review", "herziening", "volgende herziening"),
    "scope": ("scope", "toepassingsgebied"),
    "reference": ("reference", "references", "referentie", "referenties", "bron"),
    "change note": ("change note", "changes", "wijziging", "wijzigingen"),
}
KEY_BY_SPELLING = {spelling: key for key, spellings in META_KEYS.items() for spelling in spellings}
REPEATABLE_KEYS = {"reference"}
# the fields kept as written (text), by key -> their name in `Metadata`
TEXT_FIELDS = {key: key.replace(" ", "_") for key in META_KEYS
               if key not in ("reference", "version", "status", "language", "authored", "approved", "next review",
                              "id")}
LANGUAGES = {"nl", "en"}
STATUSES = {status.value: status for status in m.Status}  # `m.Status(value)` without the enum's call

UNITS: dict[str, str] = {
    "mg/m2": "mg/m2", "mg/m²": "mg/m2", "mg/m^2": "mg/m2", "mg/kg": "mg/kg", "mcg/kg": "mcg/kg",
    "mcg": "mcg", "µg": "mcg", "μg": "mcg", "ug": "mcg", "mg": "mg", "g": "g", "ml": "mL", "mL": "mL",
    "cc": "mL", "unit": "units", "units": "units", "IU": "units", "U": "units", "mmol": "mmol", "MBq": "MBq",
}
ROUTES: dict[str, str] = {
    "po": "po", "p.o.": "po", "per os": "po", "oral": "po", "iv": "IV", "i.v.": "IV", "im": "IM",
    "i.m.": "IM", "sc": "subcut", "s.c.": "subcut", "subcut": "subcut", "sq": "subcut", "subq": "subcut",
    "sub q": "subcut", "intrathecal": "intrathecal", "it": "intrathecal", "intravesical": "intravesical",
    "intrapleural": "intrapleural", "intraperitoneal": "intraperitoneal", "intra-arterial": "intra-arterial",
    "intrahepatic": "intra-arterial",
}
PERIOD_UNITS = {"day": "day", "days": "day", "week": "week", "weeks": "week", "month": "month",
                "months": "month", "year": "year", "years": "year"}
MIN_DAY = -90  # the earliest day before day 1 a day list may name (a lead-in, not a second course)
Q_UNITS = {"d": "day", "w": "week", "wk": "week", "mo": "month"}
# lang-b: drug-line parts that belong to the whole line (administration details)
ADMIN_PARTS = frozenset({"relative_timing", "prn_plain", "prn_for", "prn_if", "max_times", "max_dose", "diluent",
                         "method"})
INFUSION_PARTS = frozenset({"infusion_single", "infusion_first_then", "infusion_min", "infusion_max"})
LINE_PARTS = ADMIN_PARTS | INFUSION_PARTS | {"max_duration", "form"}  # parts of the whole drug line, not the phase
ADMIN_KEYS = ("timing", "as_needed", "daily_max", "diluent", "method")
DILUENTS = {"sodium chloride": "sodium chloride", "nacl": "sodium chloride", "glucose": "glucose",
            "dextrose": "glucose", "water for injections": "water for injections",
            "water for injection": "water for injections"}
REF_PATTERN = re.compile(r"§([A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]|[A-Za-z0-9])")
HEADING_PATTERN = re.compile(r"^(?:(?P<number>[0-9]+(?:\.[0-9]+)*)\.?\s+)?(?P<title>.*?)\s*(?:\{(?P<id>[^}]*)\})?\s*$")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
TARGET_JOINER = re.compile(r"\s+(?:or|of|and|en)\s+", re.IGNORECASE)
# patterns used per statement, compiled once (the rarer ones on first use)
VERSION_PATTERN = re.compile(r"([0-9]+)\.([0-9]+)")
DIGITS = lazy(r"[0-9]+")
Q_PATTERN = lazy(r"q([0-9]+)(d|w|wk|mo)")
OFFSET_PATTERN = lazy(r"\s*([0-9]+)(?:\s*(?:-|–|to)\s*([0-9]+))?\s*([A-Za-z]+)\s+")
OAR_LEVEL = lazy(r"[vV](\d+(?:[.,]\d+)?)")
NADIR = lazy(r"nadir\s+", re.IGNORECASE)
DELAY_PATTERN = lazy(r"([0-9]+)\s*(\w+)")
LEVEL_PATTERN = lazy(r"([-−+]?)\s*([0-9]{1,6})(?![0-9])")
OCCURRENCE_DIGIT = lazy(r"\s*([1-9])")
LATER_PATTERN = lazy(r"\b(?:and|or|en|of)\s+(?:later|subsequent|volgende|after|daarna)\b")
SLUG_WORDS = lazy(r"[a-z0-9]+")


# level, title, id, explicit id?, written number, span, items
LARGEST = Decimal(10**limits.MAX_DIGITS - 1)
SectionDraft = tuple[int, str, str, bool, str | None, Span, tuple[m.Item, ...]]


DECIMALS: dict[str, Decimal] = {}  # a short number as written -> its value (at most DECIMALS_KEPT of them)
DECIMALS_KEPT = 4096


def decimal_of(raw: str) -> Decimal:
    """The value of a number as written (`2,5` → 2.5; 0 for what is no number), remembered when short."""
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        value = Decimal(0)
    if len(raw) <= 8:  # sheets write the same few hundred numbers
        if len(DECIMALS) >= DECIMALS_KEPT:  # a book of many distinct numbers: memory stays bounded
            DECIMALS.clear()
        DECIMALS[raw] = value
    return value


def use_of(raw: str) -> str:
    """The canonical use of a `for …` / `with radiotherapy` phrase (`for anti-emetic prophylaxis` → `antiemetic`)."""
    words = " ".join(raw.lower().split())
    if words.startswith("with"):
        return "chemoradiation"
    word = words.split(" ")[1].replace("-", "")
    return {"antiemesis": "antiemetic"}.get(word, word)


def time_of(raw: str) -> str:
    """The canonical time of day (`in the evening` → `evening`, `at bedtime` → `night`)."""
    words = " ".join(raw.lower().split())
    for prefix in ("in the ", "at "):
        if words.startswith(prefix):
            words = words[len(prefix):]
    return "night" if words == "bedtime" else words


SPAN_TWIN = twin(Span)


def spans(source: SourceFile) -> tuple[Callable[[int, int], Span], Callable[[Tree[Token] | Token], Span]]:
    """`source.span` for one file, and the span of a node or token: the builder makes one for nearly every node.

    The same span for the same offsets (end before start: an empty span at the start). Offsets
    are never negative (they come from the lexer's tokens). The builder asks mostly in the
    order of the text, so the line of the last span is tried before a search; each span is
    made as `_shadow` makes model objects, its fields stored inline.
    """
    starts = source.line_starts
    path = source.path
    # next_starts[i]: where the line after line i + 1 starts (the last line: never reached)
    next_starts = (*starts[1:], sys.maxsize)
    made_twin: Any = SPAN_TWIN
    # the line of the last span: its number, the offset before its start (an offset less it is a
    # 1-based column), where the next line starts
    line, before, line_next = 1, -1, next_starts[0]

    def span(start: int, end: int) -> Span:
        nonlocal line, before, line_next
        if not before < start < line_next:
            if line_next <= start < next_starts[line]:  # the next line (line_next is a line's start here)
                line += 1
            else:
                line = bisect_right(starts, start)  # 1-based: starts[line - 1] <= start < starts[line]
            before = starts[line - 1] - 1
            line_next = next_starts[line - 1]
        made = made_twin()
        made.file = path
        made.line = line
        made.column = start - before
        if end < line_next:  # most spans lie on one line: no second search
            made.end_line = line
            made.end_column = (end if end > start else start) - before
        else:
            end_index = bisect_right(starts, end, line - 1) - 1
            made.end_line = end_index + 1
            made.end_column = end - starts[end_index] + 1
        made.__class__ = Span
        return made  # type: ignore[no-any-return]  # a `Span` now

    def span_of(node: Tree[Token] | Token) -> Span:
        if type(node) is Node:  # the parser's own nodes: their offsets without a call to `offsets`
            end = node.span_end
            if end is None:  # a node that covers no token
                return ms.Span(path, 1, 1, 1, 1)
            start: int = node.span_start  # type: ignore[assignment]  # None only with the end
            if not before < start <= end < line_next:
                return span(start, end)
            # `span(start, end)` inlined for a node on the line of the last span: one call less per node
            made = made_twin()
            made.file = path
            made.line = line
            made.column = start - before
            made.end_line = line
            made.end_column = end - before
            made.__class__ = Span
            return made  # type: ignore[no-any-return]
        if isinstance(node, Token):
            start = node.start_pos or 0
            return span(start, node.end_pos if node.end_pos is not None else start + len(node))
        where = offsets(node)
        if where is None:
            return ms.Span(path, 1, 1, 1, 1)
        return span(*where)

    if made_twin is None:  # a Span that no twin can stand for (another Python's dataclasses)
        return plain_spans(source)
    return span, span_of


def plain_spans(source: SourceFile) -> tuple[Callable[[int, int], Span], Callable[[Tree[Token] | Token], Span]]:
    """What `spans` makes, by way of `SourceFile.span`."""
    span = source.span

    def span_of(node: Tree[Token] | Token) -> Span:
        if isinstance(node, Token):
            start = node.start_pos or 0
            return span(start, node.end_pos if node.end_pos is not None else start + len(node))
        where = offsets(node)
        return Span(source.path, 1, 1, 1, 1) if where is None else span(*where)

    return span, span_of


class _Builder:
    __slots__ = ("diagnostics", "path", "source", "span", "span_of", "table")

    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.table: tuple[m.Text | None, m.Text | None] = (None, None)  # the dose-modification table being built
        self.path = source.path
        self.span, self.span_of = spans(source)

    # ------------------------------------------------------------ spans and values

    def text(self, token: Token) -> m.Text:
        stripped = token.rstrip()  # a `str` (a token's `str` methods return plain strings)
        start = token.start_pos or 0
        return mk.Text(stripped, self.span(start, start + len(stripped)))

    def number(self, node: Tree[Token] | Token) -> m.Number:
        token: Token = node.children[0] if isinstance(node, Tree) else node  # type: ignore[assignment]
        raw = str(token)
        start = token.start_pos or 0
        span = self.span(start, token.end_pos if token.end_pos is not None else start + len(token))
        value = DECIMALS.get(raw)
        if value is None:
            value = decimal_of(raw)
        if len(raw) > limits.MAX_DIGITS and self.too_long(raw, span):
            # keep 12 significant digits and at most 12 integer digits: no later stage sees more
            value = min(Context(prec=limits.MAX_DIGITS).create_decimal(value), LARGEST)
        return mk.Number(value, raw, span)

    def too_long(self, raw: str, span: Span) -> bool:
        """Report P017 for a number of more digits than any protocol writes."""
        if len(raw) <= limits.MAX_DIGITS:
            return False  # no more digits than characters
        digits = sum(1 for ch in raw if ch.isdigit())
        if digits <= limits.MAX_DIGITS:
            return False
        shown = raw if len(raw) <= 24 else f"{raw[:10]}…{raw[-4:]}"
        self.report("P017", span, f"number `{shown}` has {digits:,} digits, more than the {limits.MAX_DIGITS} allowed",
                    "check the number: a protocol never needs more than a few digits")
        return True

    def integer(self, raw: str, span: Span, limit: int, what: str) -> int:
        """A whole number as written, at most `limit` (P017 when too long, P018 when too large)."""
        if self.too_long(raw, span):
            return limit
        value = int(raw)
        if value > limit:
            self.report("P018", span, f"{what} {value:,} is beyond the limit of {limit:,}",
                        f"check the number; protocolc reads {what} up to {limit:,}")
            return limit
        return value

    def period(self, raw: str, unit: str, span: Span, what: str) -> int:
        """A count of days, weeks, months or years, at most ten years (P018)."""
        limit = limits.MAX_PERIOD_DAYS // limits.DAYS_PER_UNIT.get(unit, 1)
        return self.integer(raw, span, limit, f"{what} in {unit}s")

    # ------------------------------------------------------------ metadata
    def metadata(self, fields: list[Tree[Token]]) -> m.Metadata:
        metas: list[m.MetaField] = []
        seen: dict[str, m.MetaField] = {}
        span, path = self.span, self.path
        make, make_span = mk.MetaField, ms.Span
        for node in fields:
            children: list[Token] = node.children  # type: ignore[assignment]  # `META_KEY META_VALUE?`
            key_token = children[0]
            raw_key = key_token[:-1].strip()
            key_start = key_token.start_pos or 0
            key_end = key_start + len(raw_key)
            key_span = span(key_start, key_end)
            if len(children) > 1:
                value_token = children[1]
                value = value_token.strip()
                value_start = value_token.start_pos or 0
                value_end = value_start + len(value_token.rstrip())
            else:  # the empty value: just after the key's colon
                value = ""
                value_start = value_end = key_end + 1
            # the value lies on the key's line (neither token nor the blanks between holds a line end):
            # its spans are the key's line, their columns shifted as the key's are
            line, shift = key_span.line, key_span.column - key_start
            value_span = make_span(path, line, value_start + shift, line, value_end + shift)
            line_span = make_span(path, line, key_span.column, line, value_end + shift)  # from key to value
            key = KEY_BY_SPELLING.get(raw_key) or KEY_BY_SPELLING.get(" ".join(raw_key.lower().split()))
            if key is None:
                suggestion = closest(raw_key.lower(), KEY_BY_SPELLING)
                hint = (f"did you mean `{KEY_BY_SPELLING[suggestion]}`?" if suggestion
                        else "known fields: " + ", ".join(META_KEYS))
                fix = None
                if suggestion:
                    known = KEY_BY_SPELLING[suggestion]
                    fix = Fix(key_span, known, f"rename to {known}", safe=True)
                self.report("P006", key_span, f"unknown metadata field `{raw_key}`", hint, fix)
                continue
            if key in seen and key not in REPEATABLE_KEYS:
                first = seen[key]
                self.diagnostics.append(rule("P005").at(
                    key_span, f"duplicate metadata field `{key}`",
                    f"remove one of the two; the first (line {first.span.line}) is used",
                    related=(m_related(first.span, "first given here"),)))
                continue
            meta = make(key, value, line_span, key_span, value_span)
            seen[key] = meta
            metas.append(meta)
        return self.typed_metadata(tuple(metas))

    def typed_metadata(self, metas: tuple[m.MetaField, ...]) -> m.Metadata:
        values: dict[str, object] = {"fields": metas}
        refs: list[m.Text] = []
        for meta in metas:
            if not meta.value:
                continue  # reported as missing by V001
            plain = TEXT_FIELDS.get(meta.key)
            if plain is not None:  # the commonest: a field kept as written
                values[plain] = mk.Text(meta.value, meta.value_span)
            elif meta.key == "reference":
                refs.append(mk.Text(meta.value, meta.value_span))
            elif meta.key == "version":
                values["version"] = self.version(meta)
            elif meta.key == "status":
                values["status"] = self.status(meta)
            elif meta.key == "language":
                lang = meta.value.lower()
                if lang in LANGUAGES:
                    values["language"] = lang
                else:
                    self.report("V001", meta.value_span, f"language `{meta.value}` is not supported",
                                "write `language: nl` or `language: en`")
            elif meta.key in ("authored", "approved", "next review"):
                values[meta.key.replace(" ", "_")] = self.date(meta)
            elif meta.key == "id":
                if not ID_PATTERN.match(meta.value):
                    self.report("V001", meta.value_span, f"protocol id `{meta.value}` is not a valid id",
                                "use lower-case letters, digits and hyphens, e.g. `emmaus-borst-gemetastaseerd`")
                values["id"] = mk.Text(meta.value, meta.value_span)
            else:
                values[meta.key.replace(" ", "_")] = mk.Text(meta.value, meta.value_span)
        values["references"] = tuple(refs)
        return mk.Metadata(**values)  # type: ignore[arg-type]

    def version(self, meta: m.MetaField) -> m.Version | None:
        match = VERSION_PATTERN.fullmatch(meta.value)
        if not match:
            shown = meta.value if len(meta.value) <= 40 else f"{meta.value[:20]}…"
            self.report("V001", meta.value_span, f"version `{shown}` is not major.minor",
                        "write the version as two numbers, e.g. `2.0` or `2.1`")
            return None
        if self.too_long(match.group(1), meta.value_span) or self.too_long(match.group(2), meta.value_span):
            return None
        return mk.Version(int(match.group(1)), int(match.group(2)))

    def status(self, meta: m.MetaField) -> m.Status | None:
        status = STATUSES.get(meta.value.lower())
        if status is None:
            names = [s.value for s in m.Status]
            suggestion = closest(meta.value.lower(), names)
            hint = f"did you mean `{suggestion}`?" if suggestion else "use one of: " + ", ".join(names)
            self.report("V001", meta.value_span, f"status `{meta.value}` is not one of {', '.join(names)}", hint)
        return status

    def date(self, meta: m.MetaField) -> datetime.date | None:
        try:
            return datetime.date.fromisoformat(meta.value)
        except ValueError:
            self.report("V001", meta.value_span, f"`{meta.value}` is not a date (year-month-day)",
                        "write dates as YYYY-MM-DD, e.g. `2026-11-23`; a day-month order is ambiguous")
            return None

    def report(self, code: str, span: Span, message: str, hint: str, fix: Fix | None = None) -> None:
        self.diagnostics.append(rule(code).at(span, message, hint, fix))

    # ------------------------------------------------------------ items
    def items(self, nodes: Iterable[Tree[Token]]) -> tuple[m.Item, ...]:
        head, items = self.head, self.items
        out: list[m.Item] = []
        for node in nodes:  # `item`, inlined: one call less per statement
            parts: list[Tree[Token]] = node.children  # type: ignore[assignment]  # `line_head children?`
            children: tuple[m.Item, ...] = ()
            if len(parts) > 1:  # `children: _INDENT line_item+ _DEDENT`: line items only
                children = items(parts[1].children)  # type: ignore[arg-type]
            out.append(head(parts[0], children))
        return tuple(out)

    def head(self, node: Tree[Token], children: tuple[m.Item, ...]) -> m.Item:
        span = self.span_of(node)
        kind = node.data
        if kind == "prose":  # `prose: PROSE`
            token: Token = node.children[0]  # type: ignore[assignment]
            text = token.rstrip()
            if text.startswith("\\"):
                text = text[1:]
            return mk.Prose(span, children, text, self.refs(token) if "§" in token else ())
        if kind == "bullet":  # `bullet: BULLET (statement | prose)?`
            parts = node.children
            content = self.head(parts[-1], ()) if len(parts) > 1 else None  # type: ignore[arg-type]
            return mk.Bullet(span, children, content)
        builder = HEAD_BUILDERS.get(kind)
        if builder is None:
            builder = getattr(type(self), "build_" + str(kind))
        result: m.Item = builder(self, node, span, children)
        return result

    def refs(self, token: Token) -> tuple[m.CrossRef, ...]:
        if "§" not in token:  # most lines refer to no section
            return ()
        start = token.start_pos or 0
        out = []
        for match in REF_PATTERN.finditer(str(token)):
            out.append(mk.CrossRef(match.group(1), self.span(start + match.start(), start + match.end())))
        return tuple(out)

    # ------------------------------------------------------------ drug lines
    def build_drug_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.DrugLine:
        name_node = brand_node = None
        phase_nodes: list[Tree[Token]] = []
        for child in node.children:  # one pass: the name, the brand, the phases
            if isinstance(child, Tree):
                data = child.data
                if data == "phase":
                    phase_nodes.append(child)
                elif data == "drug_name":
                    name_node = name_node or child
                elif data == "brand":
                    brand_node = brand_node or child
        assert name_node is not None  # the grammar requires the name
        name = self.joined(name_node)
        brand = self.joined(brand_node) if brand_node is not None else None
        extras: dict[str, object] = {}
        phases = [self.phase(phase_node, extras) for phase_node in phase_nodes]
        if not extras:  # the commonest: no details of the whole line
            return mk.DrugLine(span, children, name, brand, tuple(phases))
        admin = {key: extras[key] for key in ADMIN_KEYS if key in extras}
        return mk.DrugLine(span, children, name, brand, tuple(phases),
                          infusion=extras.get("infusion"),  # type: ignore[arg-type]
                          max_duration=extras.get("max_duration"),  # type: ignore[arg-type]
                          form=extras.get("form"),  # type: ignore[arg-type]
                          **admin)  # type: ignore[arg-type]

    def joined(self, node: Tree[Token]) -> m.Text:
        tokens: list[Any] = node.children  # `WORD+` as a rule (a brand's parentheses are anonymous)
        try:
            text = " ".join(tokens)  # tokens are `str`s: joined as written
        except TypeError:  # a node among them
            tokens = [c for c in tokens if isinstance(c, Token)]
            text = " ".join(tokens)
        span = self.span(tokens[0].start_pos or 0, tokens[-1].end_pos or 0)
        return mk.Text(text, span)

    def phase(self, node: Tree[Token], extras: dict[str, object]) -> m.Phase:
        values: dict[str, object] = {}
        for part in node.children:
            if not isinstance(part, Tree):
                continue
            kind = part.data
            if kind not in LINE_PARTS:  # the commonest: dose, route, frequency, days, cycle …
                key, value = self.phase_part(part)
                target = values
            elif kind in ADMIN_PARTS:
                key, value = self.admin_part(part)
                target = extras
            elif kind in INFUSION_PARTS:
                key, value, target = "infusion", self.infusion(part), extras
            elif kind == "max_duration":
                key, value, target = "max_duration", self.duration_of(part), extras
            else:
                key, value, target = "form", self.form(part), extras
            if key in target:
                self.once(target, key, value, part)
            else:
                target[key] = value
        until = values.get("until")
        if isinstance(until, m.Text):
            relative = relative_end(until)
            if relative is not None:
                values["until_after"] = relative
        return mk.Phase(self.span_of(node), **values)  # type: ignore[arg-type]

    def once(self, values: dict[str, object], key: str, value: object, node: Tree[Token]) -> None:
        if key in values:
            self.report("P006", self.span_of(node), f"{key.replace('_', ' ')} given twice in one statement",
                        "give each part once; use `then` to start a new phase (loading → maintenance)")
            return
        values[key] = value

    def phase_part(self, part: Tree[Token]) -> tuple[str, object]:
        kind = part.data
        if kind == "dose_amount":  # the commonest part; `dose` takes its own span
            return "dose", self.dose(part)
        span = self.span_of(part)
        if kind == "route":  # `route: ROUTE`
            raw = str(part.children[0])
            route = ROUTES.get(raw) or ROUTES.get(" ".join(raw.lower().split()), raw)
            return "route", mk.Route(route, raw, span)
        if kind.startswith("freq_"):
            return "frequency", self.frequency(part, span)
        if kind == "days":
            return "days", mk.CycleDays(self.cycle_days(part), self.source.text[span_offsets(self.source, span)], span)
        if kind == "dose_auc":
            number = self.number(part.children[1])
            return "dose", mk.Dose(number, None, "AUC", "AUC", span)
        tokens: list[Token] = part.children  # type: ignore[assignment]  # the other parts: tokens only
        if kind in ("cycle_len", "cycle_len_of"):
            written = next(t for t in tokens if t.type == "INT")
            unit = "day" if kind == "cycle_len_of" else PERIOD_UNITS[str(tokens[-1]).lower()]
            length = self.period(str(written), unit, self.span_of(written), "a cycle")
            return "cycle_length", mk.Duration(length, unit, span)
        if kind == "on_off":
            on, off = (self.integer(x, span, limits.MAX_DAY, "days") for x in DIGITS.findall(str(tokens[0])))
            return "on_off", (on, off)
        if kind == "count_cycles":
            return "cycles", self.integer(DIGITS.findall(str(tokens[0]))[0], span, limits.MAX_CYCLES, "cycles")
        if kind == "count_for":
            return "for_duration", self.duration_of(part)
        if kind == "continuous":
            return "continuous", True
        if kind == "until":
            return "until", self.text(tokens[1])
        if kind == "start_day":
            raw = str(tokens[-1]).replace("−", "-")
            before = raw.startswith("-")
            days = self.integer(raw.lstrip("-"), span, -MIN_DAY if before else limits.MAX_DAY, "start day")
            return "start_day", -days if before else days
        if kind == "use":
            return "use", use_of(str(tokens[0]))
        if kind == "time_of_day":
            return "time", time_of(str(tokens[0]))
        raise AssertionError(f"unhandled phase part {kind}")

    def cycle_days(self, part: Tree[Token]) -> tuple[int, ...]:
        """The days of a `days` list, ranges expanded, each day once.

        Days before day 1 (`-7 to -1`) go back at most 90 days (S002); a day beyond 366 is P020.
        """
        days = DaySet(MIN_DAY)
        for item in part.children:
            if not isinstance(item, Tree):
                continue
            written = item.children  # `INT | NEG_INT`, or a range: `… RANGE_SEP …`
            numbers: list[Token] = [written[0]] if len(written) == 1 else [written[0], written[-1]]  # type: ignore[list-item]
            if max(map(len, numbers)) > limits.MAX_DIGITS:  # the span only when a day may be reported
                span = self.span_of(item)
                if any(self.too_long(str(t), span) for t in numbers):  # the first too long one only
                    continue
            first = last = signed(numbers[0])
            if len(numbers) > 1:
                last = signed(numbers[1])
            low, high = (first, last) if first <= last else (last, first)
            if low < MIN_DAY or high > limits.MAX_DAY:
                span = self.span_of(item)
            if low < MIN_DAY:
                self.report("S002", span, f"day {low:,} lies more than {-MIN_DAY} days before day 1",
                            "check the day (days before day 1 are a short lead-in: `-7 to -1`)")
                continue
            if high > limits.MAX_DAY:
                self.report("P020", span, f"day {high:,} is beyond day {limits.MAX_DAY}, the longest cycle "
                            "protocolc reads", "check the day: cycle days count from 1 within one cycle")
                continue
            days.add(first, last)
        return tuple(days.days)

    def dose(self, part: Tree[Token]) -> m.Dose:
        parts = part.children
        if len(parts) == 2:  # `amount unit -> dose_amount`
            amount_node, unit_node = parts
        else:  # `MAX amount unit PER_DAY?` and the like
            amount_node, unit_node = [c for c in parts if isinstance(c, Tree)]
        assert isinstance(amount_node, Tree) and isinstance(unit_node, Tree)
        numbers = amount_node.children  # `number (RANGE_SEP number)?`
        low = self.number(numbers[0])
        high = self.number(numbers[-1]) if len(numbers) > 1 else None
        unit_token = unit_node.children[0]
        assert isinstance(unit_token, Token)
        raw = str(unit_token)
        return mk.Dose(low, high, UNITS.get(raw.rstrip("."), raw), raw, self.span_of(part))

    def frequency(self, part: Tree[Token], span: Span) -> m.Frequency:
        kind = part.data[5:]
        tokens: list[Token] = part.children  # type: ignore[assignment]  # a frequency is tokens only
        text = " ".join(tokens)
        if kind == "weekly":
            return mk.Frequency("every", 1, None, "week", text, span)
        if kind == "every":
            unit = PERIOD_UNITS[str(tokens[-1]).lower()]
            ints = [self.period(str(t), unit, self.span_of(t), "an interval") for t in tokens if t.type == "INT"]
            return mk.Frequency("every", ints[0] if ints else 1, ints[1] if len(ints) > 1 else None, unit, text, span)
        if kind == "q":
            return self.q_notation(str(tokens[0]), span)
        return mk.Frequency(kind.replace("_", " ").replace("three daily", "three times daily"), None, None, None, text, span)

    def q_notation(self, raw: str, span: Span) -> m.Frequency:
        lower = raw.lower().replace(".", "")
        fixed = {"qd": ("daily", None, None), "qod": ("every", 2, "day"), "bid": ("twice daily", None, None),
                 "tid": ("three times daily", None, None)}
        if lower in fixed:
            kind, interval, unit = fixed[lower]
            return mk.Frequency(kind, interval, None, unit, raw, span)
        match = Q_PATTERN.fullmatch(lower)
        assert match is not None
        unit = Q_UNITS[match.group(2)]
        return mk.Frequency("every", self.period(match.group(1), unit, span, "an interval"), None, unit, raw, span)

    def duration_of(self, part: Tree[Token]) -> m.Duration:
        tokens = [c for c in part.children if isinstance(c, Token)]
        number = next(t for t in tokens if t.type == "INT")
        unit = PERIOD_UNITS[str(tokens[-1]).lower()]
        value = self.period(str(number), unit, self.span_of(number), "a duration")
        return mk.Duration(value, unit, self.span_of(part))

    def infusion(self, part: Tree[Token]) -> m.Infusion:
        durations = [d for d in part.children if isinstance(d, Tree)]
        hours = [str(d.children[-1]).lower().startswith("h") for d in durations]
        times = [self.duration_minutes(d, h) for d, h in zip(durations, hours, strict=True)]
        first, then = times[0], times[1] if len(times) > 1 else None
        return mk.Infusion(first[0], then[0] if then else None,
                          str(part.data) == "infusion_min", self.span_of(part),
                          at_most=str(part.data) == "infusion_max", hours=any(hours),
                          first_upto=first[1], then_upto=then[1] if then else None)

    def duration_minutes(self, node: Tree[Token], hours: bool) -> tuple[int, int | None]:
        """`30 min` -> (30, None); `1-2 hours` -> (60, 120): a range's shortest and longest time."""
        per = 60 if hours else 1
        what = "infusion hours" if hours else "infusion minutes"
        numbers = [t for t in node.children if isinstance(t, Token) and t.type == "INT"]
        values = [self.integer(str(t), self.span_of(node), limits.MAX_INFUSION_MINUTES // per, what) * per
                  for t in numbers]
        return values[0], values[1] if len(values) > 1 else None

    # ------------------------------------------------------------ lang-b: administration details
    def admin_part(self, part: Tree[Token]) -> tuple[str, object]:
        kind = str(part.data)
        span = self.span_of(part)
        tokens = [c for c in part.children if isinstance(c, Token)]
        if kind == "relative_timing":
            relation = str(tokens[0])
            match = OFFSET_PATTERN.match(relation)
            offset = offset_max = offset_text = None
            if match is not None:
                per = 60 if match.group(3).lower().startswith("h") else 1
                limit = limits.MAX_INFUSION_MINUTES // per
                offset = self.integer(match.group(1), span, limit, "the time before or after") * per
                if match.group(2) is not None:  # `30-60 min before paclitaxel`
                    offset_max = self.integer(match.group(2), span, limit, "the time before or after") * per
                offset_text = " ".join(relation.split()[:-1])
            target_node = next(c for c in part.children if isinstance(c, Tree))
            word = relation.split()[-1].lower()
            return "timing", mk.RelativeTiming(word, offset, offset_text, self.joined(target_node), span,
                                              offset_max=offset_max)
        if kind in ("prn_plain", "prn_for", "prn_if"):
            reason = self.text(tokens[1]) if len(tokens) > 1 else None
            return "as_needed", mk.AsNeeded(reason, span)
        if kind == "max_times":
            return "daily_max", mk.DailyMax(span, times=int(DIGITS.findall(str(tokens[0]))[0]))
        if kind == "max_dose":
            dose = self.dose(part)
            if not any(t.type == "PER_DAY" for t in tokens) and dose.unit_text.rstrip(".").lower() not in (
                    "mg/day", "mg/dag", "mg/d"):
                self.report("P006", span, "a maximum dose without `per day`",
                            "write `max 16 mg per day`; a maximum per administration is the dose itself")
            return "daily_max", mk.DailyMax(span, dose=dose)
        if kind == "diluent":
            volume, _ = self.amount(next(c for c in part.children if isinstance(c, Tree) and c.data == "amount"),
                                    limits.MAX_VOLUME_ML, "mL")
            unit_node = next(c for c in part.children if isinstance(c, Tree) and c.data == "unit")
            unit_raw = str(unit_node.children[0])
            fluid_token = next(t for t in tokens if t.type == "DILUENT")
            numbers = [c for c in part.children if isinstance(c, Tree) and c.data == "number"]
            strength = self.number(numbers[0]) if numbers else None
            fluid = DILUENTS.get(" ".join(str(fluid_token).lower().split()), str(fluid_token).lower())
            if UNITS.get(unit_raw.rstrip("."), unit_raw) != "mL":
                self.report("P006", span, f"a diluent volume in {unit_raw}", "give the volume in mL: `in 250 mL …`")
            return "diluent", mk.Diluent(volume, UNITS.get(unit_raw.rstrip("."), unit_raw), fluid,
                                        str(fluid_token), span, strength)
        # method: push / bolus / slow push
        return "method", mk.Text(" ".join(str(tokens[0]).lower().split()), span)

    def form(self, part: Tree[Token]) -> m.Form:
        tokens = [c for c in part.children if isinstance(c, Token)]
        numbers = [self.number(c) for c in part.children if isinstance(c, Tree)]
        units = [UNITS.get(str(t).rstrip("."), str(t)) for t in tokens if t.type == "UNIT"]
        concentration = (numbers[0], units[0], numbers[1], units[1]) if len(numbers) == 2 else None
        name = " ".join(str(tokens[0]).lower().split())
        return mk.Form(name, self.span_of(part), concentration)

    # ------------------------------------------------------------ regimens, radiotherapy
    def build_regimen_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.RegimenLine:
        name_node = node.children[1]
        assert isinstance(name_node, Tree)
        token = name_node.children[0]
        assert isinstance(token, Token)
        quoted = token.type == "STRING"
        name = mk.Text(str(token).strip('"'), self.span_of(token))
        values = self.cycle_fields(node.children[2:])
        return mk.RegimenLine(span, children, name, quoted, **values)  # type: ignore[arg-type]

    def cycle_fields(self, parts: list[Tree[Token] | Token]) -> dict[str, object]:
        """The cycle data written after a regimen or phase name (cycle, count, until, maximum …), each once."""
        values: dict[str, object] = {}
        for part in parts:
            if not isinstance(part, Tree) or part.data == "phase_name":
                continue
            if part.data == "max_duration":
                self.once(values, "max_duration", self.duration_of(part), part)
            else:
                key, value = self.phase_part(part)
                self.once(values, key, value, part)
        return values

    def build_phase_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.PhaseLine:
        """lang-b: a phase of an inline regimen (`followed by phase paclitaxel: cycle 7 days, 12 cycles`)."""
        keyword = node.children[0]
        assert isinstance(keyword, Token)
        name_node = next(c for c in node.children if isinstance(c, Tree) and c.data == "phase_name")
        first = name_node.children[0]
        if isinstance(first, Token) and first.type == "STRING":
            name = mk.Text(str(first).strip('"'), self.span_of(first))
        else:
            name = self.joined(name_node)
        values = self.cycle_fields(node.children)
        followed = str(keyword).lower().startswith("followed")
        return mk.PhaseLine(span, children, name, followed, **values)  # type: ignore[arg-type]

    def build_rt_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.Fractionation:
        dose_node = node.children[1]
        assert isinstance(dose_node, Tree)
        values: dict[str, object] = {}
        amounts = [c for c in dose_node.children if isinstance(c, Tree)]
        fractions = fractions_max = per = per_max = total = None
        up_to = False
        tolerance = None
        parts: tuple[m.RtPart, ...] = ()
        sibs: list[m.RtSib] = []
        if dose_node.data == "rt_fractions":
            part_nodes = [c for c in amounts if c.data == "rt_part"]
            totals = [c for c in amounts if c.data == "amount"]
            parts = tuple(self.rt_part(p) for p in part_nodes)
            if totals:
                total = self.amount(totals[0], limits.MAX_GY, "Gy")[0]
            if len(part_nodes) == 1:
                part_amounts = [c for c in part_nodes[0].children if isinstance(c, Tree) and c.data == "amount"]
                fractions, fractions_max = self.amount(part_amounts[0], limits.MAX_FRACTIONS, "fractions")
                per, per_max = self.amount(part_amounts[1], limits.MAX_GY, "Gy")
                if not parts[0].boost and parts[0].volume is None:
                    parts = ()  # a plain `n x d Gy` line keeps its one-part model
        elif dose_node.data == "rt_up_to_dose":
            up_to = True
            total = self.amount(amounts[0], limits.MAX_GY, "Gy")[0]
        else:
            up_to = True
            tolerance = self.text(dose_node.children[-1])  # type: ignore[arg-type]
        for part in node.children[2:]:
            if not isinstance(part, Tree):
                continue
            tokens = [c for c in part.children if isinstance(c, Token)]
            if part.data == "rt_site":
                self.once(values, "site", self.text(tokens[-1]), part)
            elif part.data == "rt_technique":
                self.once(values, "technique", self.text(tokens[-1]), part)
            elif part.data == "rt_per_week":
                per_week = self.amount(part.children[0], limits.MAX_FRACTIONS, "fractions a week")  # type: ignore[arg-type]
                self.once(values, "per_week", per_week, part)
            elif part.data == "rt_technique_word":
                self.once(values, "technique", self.text(tokens[0]), part)
            elif part.data == "rt_laterality":
                self.once(values, "laterality", self.text(tokens[0]), part)
            elif part.data == "rt_sib":
                sibs.append(self.rt_sib(part))
        return mk.Fractionation(span, children, fractions, fractions_max, per, per_max, total=total,
                               up_to=up_to, tolerance=tolerance, parts=parts, sib=tuple(sibs),
                               **values)  # type: ignore[arg-type]

    def rt_sib(self, node: Tree[Token]) -> m.RtSib:
        """rt14: `SIB 25 x 2,4 Gy = 60 Gy (tumorbed)` (the volume before or after the total)."""
        part = self.rt_part(next(c for c in node.children if isinstance(c, Tree) and c.data == "rt_part"))
        totals = [c for c in node.children if isinstance(c, Tree) and c.data == "amount"]
        total = self.amount(totals[0], limits.MAX_GY, "Gy")[0] if totals else None
        volume = part.volume
        for child in node.children:
            if isinstance(child, Tree) and child.data == "rt_volume" and volume is None:
                volume = self.text(next(c for c in child.children if isinstance(c, Token)))
        return mk.RtSib(part.fractions, part.dose_per_fraction, self.span_of(node), total, volume)

    def build_oar_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.OarConstraint:
        """rt14: `constraint lung V20 < 35 %`, `constraint spinal cord Dmax < 50 Gy`."""
        tokens = [c for c in node.children if isinstance(c, Token)]
        organ = next(t for t in tokens if t.type == "OAR_ORGAN")
        metric = next(t for t in tokens if t.type == "OAR_METRIC")
        op = next(t for t in tokens if t.type == "CMP")
        unit = tokens[-1]
        value = self.number(next(c for c in node.children if isinstance(c, Tree)))
        level = None
        digits = OAR_LEVEL.match(str(metric))
        if digits:
            start = (metric.start_pos or 0) + 1
            level = mk.Number(Decimal(digits.group(1).replace(",", ".")), digits.group(1),
                             self.span(start, start + len(digits.group(1))))
        unit_text = {"gy": "Gy", "%": "%", "cc": "cc"}.get(str(unit).lower(), str(unit))  # another unit: R010
        return mk.OarConstraint(span, children, self.text(organ), self.text(metric), level,
                               {"<=": "≤", ">=": "≥", "!=": "≠"}.get(str(op), str(op)), value, unit_text)

    def rt_part(self, node: Tree[Token]) -> m.RtPart:
        """lang-b: one part of a course (`19 x 2 Gy boost (tumour bed)`); ranges are not allowed in a course."""
        amounts = [c for c in node.children if isinstance(c, Tree) and c.data == "amount"]
        fractions, fractions_max = self.amount(amounts[0], limits.MAX_FRACTIONS, "fractions")
        per, per_max = self.amount(amounts[1], limits.MAX_GY, "Gy")
        if fractions_max is not None or per_max is not None:
            self.report("P006", self.span_of(node), "a range in a part of a radiotherapy course",
                        "write each part of a course as one scheme, e.g. `25 x 2 Gy + 5 x 2 Gy boost`")
        boost = any(isinstance(c, Token) and c.type == "BOOST" for c in node.children)
        volume_nodes = [c for c in node.children if isinstance(c, Tree) and c.data == "rt_volume"]
        volume = None
        if volume_nodes:
            token = next(c for c in volume_nodes[0].children if isinstance(c, Token))
            volume = self.text(token)
        return mk.RtPart(fractions, per, self.span_of(node), boost, volume)

    def amount(self, node: Tree[Token], limit: int, what: str) -> tuple[m.Number, m.Number | None]:
        numbers = node.children  # `number (RANGE_SEP number)?`
        low = self.bounded(self.number(numbers[0]), limit, what)
        return low, (self.bounded(self.number(numbers[-1]), limit, what) if len(numbers) > 1 else None)

    def bounded(self, number: m.Number, limit: int, what: str) -> m.Number:
        """A number at most `limit` (P018 beyond it): radiotherapy arithmetic stays small."""
        if number.value <= limit:
            return number
        if sum(1 for ch in number.text if ch.isdigit()) <= limits.MAX_DIGITS:  # else P017 is reported
            self.report("P018", number.span, f"{what}: {number.text} is beyond the limit of {limit:,}",
                        f"check the number; protocolc reads {what} up to {limit:,}")
        return mk.Number(Decimal(limit), number.text, number.span)

    # ------------------------------------------------------------ conditions
    def build_when_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.When:
        return mk.When(span, children, self.shallow_condition(node.children[1]))

    def build_otherwise_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.Otherwise:
        return mk.Otherwise(span, children)

    def build_decision_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.Decision:
        texts = [c for c in node.children if isinstance(c, Token) and c.type == "DECISION_TEXT"]
        return mk.Decision(span, children, self.text(texts[0]) if texts else None)

    def build_only_when_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.OnlyWhen:
        return mk.OnlyWhen(span, children, self.shallow_condition(node.children[1]))

    def build_exclude_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.ExcludeWhen:
        return mk.ExcludeWhen(span, children, self.shallow_condition(node.children[1]))

    def build_preferably_with(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.WithConstraint:
        return mk.WithConstraint(span, children, "preferably", self.targets(node))

    def build_only_with(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.WithConstraint:
        return mk.WithConstraint(span, children, "only", self.targets(node))

    def build_not_with(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.WithConstraint:
        return mk.WithConstraint(span, children, "not", self.targets(node))

    def targets(self, node: Tree[Token]) -> tuple[m.Text, ...]:
        out: list[m.Text] = []
        target_list = node.children[1]
        assert isinstance(target_list, Tree)
        for token in target_list.children:
            assert isinstance(token, Token)
            base = token.start_pos or 0
            text = str(token)
            start = 0
            # "aromatase inhibitor or fulvestrant": split on the joining words, keep spans
            for separator in [*TARGET_JOINER.finditer(text), None]:
                end = separator.start() if separator is not None else len(text)
                piece = text[start:end]
                stripped = piece.strip()
                if stripped:
                    offset = base + start + (len(piece) - len(piece.lstrip()))
                    out.append(mk.Text(stripped, self.span(offset, offset + len(stripped))))
                start = separator.end() if separator is not None else len(text)
        return tuple(out)

    def shallow_condition(self, node: Tree[Token] | Token) -> m.Condition:
        """The condition of a statement; one nested too deeply is P019 and read with its `not`s paired off.

        Parentheses are bounded before parsing (P004), so only a chain of `not`s can be
        deeper than the limit; without it, building and checking recurse once per level.
        """
        assert isinstance(node, Tree)
        depth = condition_depth(node)
        if depth <= limits.MAX_CONDITION_DEPTH:
            return self.condition(node)
        self.report("P019", self.span_of(node),
                    f"condition nested {depth:,} levels deep, more than the {limits.MAX_CONDITION_DEPTH} allowed",
                    "simplify the condition: `not not X` is `X`")
        return self.condition(node, pair_nots=True)

    def condition(self, node: Tree[Token] | Token, pair_nots: bool = False) -> m.Condition:
        assert isinstance(node, Tree)
        span = self.span_of(node)
        kind = node.data
        if kind == "cond_flag":  # `cvar -> cond_flag`, the commonest
            return mk.Flag(span, self.words(node.children[0]))  # type: ignore[arg-type]
        if kind == "cond_compare":  # `cvar CMP cvalue`
            variable, op_token, value = node.children
            assert isinstance(variable, Tree) and isinstance(op_token, Token) and isinstance(value, Tree)
            op = CONDITION_OPS.get(op_token) or str(op_token)
            if value.data == "cvalue_number":  # `number (PERCENT | LAB_UNIT)?`
                number = self.number(value.children[0])
                mark = value.children[-1] if len(value.children) > 1 else None
                percent = isinstance(mark, Token) and mark.type == "PERCENT"
                unit = self.text(mark) if isinstance(mark, Token) and mark.type == "LAB_UNIT" else None
                return mk.Compare(span, self.words(variable), self.span_of(variable), op, number, percent, None, unit)
            return mk.Compare(span, self.words(variable), self.span_of(variable), op, None, False, self.words(value))
        subtrees = [c for c in node.children if isinstance(c, Tree)]
        if kind == "or_cond":
            return mk.Any_(span, tuple(self.condition(c, pair_nots) for c in subtrees))
        if kind == "and_cond":
            return mk.All(span, tuple(self.condition(c, pair_nots) for c in subtrees))
        if kind == "cond_not" and pair_nots:
            count = 0
            while node.data == "cond_not":
                count += 1
                node = next(c for c in node.children if isinstance(c, Tree))
            inner = self.condition(node, pair_nots)
            return mk.Not(span, inner) if count % 2 else inner
        if kind == "cond_not":
            return mk.Not(span, self.condition(subtrees[0]))
        if len(subtrees) == 1:
            return self.condition(subtrees[0], pair_nots)
        raise AssertionError(f"unhandled condition {kind}")

    def words(self, node: Tree[Token]) -> str:
        try:
            return " ".join(node.children)  # type: ignore[arg-type]  # `cvar: CWORD+`: tokens only, as a rule
        except TypeError:  # a node among them
            return " ".join([t for t in node.children if isinstance(t, Token)])

    # ------------------------------------------------------------ notes, queries, acknowledgements
    def build_note_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.Note:
        parts = node.children  # `NOTE NOTE_TEXT?`
        if len(parts) < 2:
            return mk.Note(span, children, None, ())
        token: Token = parts[1]  # type: ignore[assignment]
        return mk.Note(span, children, self.text(token), self.refs(token) if "§" in token else ())

    def build_query_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.Query:
        texts = [c for c in node.children if isinstance(c, Token) and c.type == "NOTE_TEXT"]
        return mk.Query(span, children, self.text(texts[0]) if texts else None)

    def build_allow_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.Allow:
        tokens = [c for c in node.children if isinstance(c, Token)]
        code = self.text(tokens[1])
        strings = [t for t in tokens if t.type == "STRING"]
        justification = None
        if strings:
            raw = self.text(strings[0])
            inner = raw.value.strip('"').strip()
            justification = mk.Text(inner, raw.span) if inner else None
        return mk.Allow(span, children, code, justification)

    # ------------------------------------------------------------ lab criteria, dose modification (issue 14)
    def between(self, first: Tree[Token] | Token, last: Tree[Token] | Token) -> Span:
        """The span from the start of one node to the end of another (one statement line)."""
        start, end = self.bounds(first), self.bounds(last)
        if start is not None and end is not None and end[1] >= end[0] and end[1] >= start[0]:
            return self.span(start[0], end[1])  # one span instead of two and a third
        a, b = self.span_of(first), self.span_of(last)
        return ms.Span(a.file, a.line, a.column, b.end_line, b.end_column)

    def bounds(self, node: Tree[Token] | Token) -> tuple[int, int] | None:
        """The offsets `span_of` reads for a node or a token (None: a node that covers no token)."""
        if isinstance(node, Token):
            start = node.start_pos or 0
            return start, node.end_pos if node.end_pos is not None else start + len(node)
        return offsets(node)

    def row_item(self, row: Tree[Token], build_row: str) -> m.Item:
        """A row of a criteria/dose-modification/dose-levels block: a note/query/allow, or the block's own row."""
        subtrees: list[Tree[Token]] = []
        first = last = None  # the first and last part of the row's own line
        for child in row.children:
            if isinstance(child, Tree):
                subtrees.append(child)
                if child.data in ROW_BLOCKS:
                    continue
            if first is None:
                first = child
            last = child
        kids: tuple[m.Item, ...] = ()
        if subtrees and subtrees[-1].data == "row_children":  # `_INDENT line_item+ _DEDENT`: line items only
            kids = self.items(subtrees.pop().children)  # type: ignore[arg-type]
        if len(subtrees) == 1 and subtrees[0].data in ("note_line", "query_line", "allow_line"):
            head = subtrees[0]
            result: m.Item = HEAD_BUILDERS[head.data](self, head, self.span_of(head), kids)
            return result
        assert first is not None and last is not None
        span = self.between(first, last)
        built: m.Item = getattr(self, build_row)(row, subtrees, span, kids)
        return built

    def rows(self, node: Tree[Token], build_row: str) -> tuple[m.Item, ...]:
        return tuple([self.row_item(c, build_row) for c in node.children
                      if isinstance(c, Tree) and c.data not in ("dm_drug", "dm_by")])

    def build_criteria_block(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.Criteria:
        return mk.Criteria(self.span_of(node.children[0]), self.rows(node, "criterion_row"))

    def criterion_row(self, row: Tree[Token], subtrees: list[Tree[Token]], span: Span,
                      kids: tuple[m.Item, ...]) -> m.Criterion:
        return mk.Criterion(span, kids, self.condition(subtrees[0]))

    def build_dose_levels(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.DoseLevels:
        drug = self.joined(next(c for c in node.children if isinstance(c, Tree) and c.data == "dm_drug"))
        return mk.DoseLevels(self.between(node.children[0], node.children[1]), self.rows(node, "level_row"), drug)

    def level_row(self, row: Tree[Token], subtrees: list[Tree[Token]], span: Span,
                  kids: tuple[m.Item, ...]) -> m.DoseLevel:
        token = next(c for c in row.children if isinstance(c, Token) and c.type == "DOSE_LEVEL")
        _, dose = self.phase_part(subtrees[0])
        assert isinstance(dose, m.Dose)
        return mk.DoseLevel(span, kids, level_number(str(token)), dose)

    def build_dose_modification(self, node: Tree[Token], span: Span,
                                children: tuple[m.Item, ...]) -> m.DoseModification:
        drug = self.joined(next(c for c in node.children if isinstance(c, Tree) and c.data == "dm_drug"))
        variable = unit = None
        nadir = False
        by = next((c for c in node.children if isinstance(c, Tree) and c.data == "dm_by"), None)
        if by is not None:
            cvar = next(c for c in by.children if isinstance(c, Tree) and c.data == "cvar")
            written = self.words(cvar)
            # `by nadir ANC`: the table reads the previous cycle's lowest value (pemetrexed label)
            nadir_match = NADIR.match(written)
            if nadir_match is not None:
                nadir, written = True, written[nadir_match.end():]
            variable = mk.Text(written, self.span_of(cvar))
            unit_nodes = [c for c in by.children if isinstance(c, Tree) and c.data == "dm_unit"]
            if unit_nodes:
                token = unit_nodes[0].children[0]
                assert isinstance(token, Token)
                unit = self.text(token)
        self.table = (variable, unit)
        rows = self.rows(node, "band_row")
        head = self.between(node.children[0], by if by is not None else node.children[1])
        return mk.DoseModification(head, rows, drug, variable, unit, nadir=nadir)

    def band_row(self, row: Tree[Token], subtrees: list[Tree[Token]], span: Span,
                 kids: tuple[m.Item, ...]) -> m.DoseBand:
        band_node = subtrees[0]
        table_variable, table_unit = self.table
        band_parts = band_node.children  # `cvar? band`
        written = None
        if len(band_parts) > 1:
            cvar: Tree[Token] = band_parts[0]  # type: ignore[assignment]
            written = mk.Text(self.words(cvar), self.span_of(cvar))
        band: Tree[Token] = band_parts[-1]  # type: ignore[assignment]
        band_span = self.span_of(band)
        name, name_span = written.value if written else "", written.span if written else band_span
        if table_variable is not None and (written is None or written.value.lower() in ("grade", "graad")):
            name = table_variable.value
        numbers: list[m.Number] = []
        ops: list[str] = []
        percent = False
        unit = None
        for part in band.children:  # one pass: the numbers, operators, the percent sign, the unit
            if isinstance(part, Token):
                kind = part.type
                if kind == "CMP":
                    ops.append(NORMAL_OPS.get(part) or str(part))
                elif kind == "PERCENT":
                    percent = True
                elif kind == "LAB_UNIT" and unit is None:
                    unit = self.text(part)
            else:
                numbers.append(self.number(part))
        if unit is None and table_unit is not None and table_unit.value != "%":
            unit = table_unit
        percent = percent or (table_unit is not None and table_unit.value == "%")
        make = mk.Compare
        condition: m.Condition
        if band.data == "band_compare":
            condition = make(band_span, name, name_span, ops[0], numbers[0], percent, None, unit)
        elif band.data == "band_between":
            # `> 2.5 to <= 5`: an operator written before the first number bounds it from below.
            lower_written = isinstance(band.children[0], Token) and band.children[0].type == "CMP"
            lower, upper_ops = (ops[0], ops[1:]) if lower_written else (">=", ops)
            condition = mk.All(band_span, (
                make(band_span, name, name_span, lower, numbers[0], percent, None, unit),
                make(band_span, name, name_span, upper_ops[0] if upper_ops else "<=", numbers[1], percent, None,
                     unit)))
        else:
            condition = make(band_span, name, name_span, "=", numbers[0], percent, None, unit)
        if row.data == "dm_occurrence_row":
            occurrences = tuple([self.row_item(c, "occurrence_row") for c in row.children if isinstance(c, Tree)
                                 and c.data in ("occurrence_action_row", "occurrence_note_row")])
            return mk.DoseBand(span, occurrences + kids, written, condition, ())
        actions = tuple(map(self.dose_action, subtrees[1:]))
        return mk.DoseBand(span, kids, written, condition, actions)

    def occurrence_row(self, row: Tree[Token], subtrees: list[Tree[Token]], span: Span,
                       kids: tuple[m.Item, ...]) -> m.Occurrence:
        token = next(c for c in row.children if isinstance(c, Token) and c.type == "OCCURRENCE")
        number, and_later = occurrence_number(str(token))
        return mk.Occurrence(span, kids, number, and_later, tuple(self.dose_action(a) for a in subtrees))

    def dose_action(self, node: Tree[Token]) -> m.DoseAction:
        kind = node.data[3:]
        span = self.span_of(node)
        if kind == "percent":
            return mk.DoseAction("percent", span, percent=self.number(node.children[0]))
        if kind in ("withhold", "discontinue", "then"):  # keywords only
            return mk.DoseAction(kind, span)
        tokens = [c for c in node.children if isinstance(c, Token)]
        if kind == "level":
            return mk.DoseAction("level", span, level=level_number(str(tokens[0])))
        if kind == "dose":
            _, dose = self.phase_part(node.children[0])  # type: ignore[arg-type]
            return mk.DoseAction("dose", span, dose=dose)  # type: ignore[arg-type]
        if kind == "delay":
            match = DELAY_PATTERN.search(str(tokens[0])[5:])
            delay = None
            if match:
                unit = "week" if match.group(2).lower().startswith("we") else "day"
                delay = mk.Duration(self.period(match.group(1), unit, self.span_of(tokens[0]), "delay"), unit,
                                   self.span_of(tokens[0]))
            until = self.text(tokens[-1]) if len(tokens) > 2 else None
            return mk.DoseAction("delay", span, delay=delay, until=until)
        return mk.DoseAction(kind, span)

    # ------------------------------------------------------------ sections
    def sections(self, nodes: list[Tree[Token]]) -> tuple[tuple[m.Item, ...], tuple[m.Section, ...]]:
        preamble: list[Tree[Token]] = []
        flat: list[tuple[Tree[Token], list[Tree[Token]]]] = []
        body = preamble  # the lines before the first heading, then each section's
        for node in nodes:
            if node.data == "heading":
                body = []
                flat.append((node, body))
            else:
                body.append(node)
        drafts = [self.section_head(heading, body) for heading, body in flat]
        return self.items(preamble), self.nest(drafts)

    def section_head(self, heading: Tree[Token], body: list[Tree[Token]]) -> SectionDraft:
        parts = heading.children  # `HEADING_MARK HEADING_TEXT?`
        level = len(parts[0])  # type: ignore[arg-type]
        raw = parts[1].strip() if len(parts) > 1 else ""  # type: ignore[union-attr]
        span = self.span_of(heading)
        explicit_number, title, section_id = heading_parts(raw)
        title = title.strip()
        explicit = section_id is not None
        if section_id is not None:
            section_id = section_id.strip().lstrip("#")
            if not ID_PATTERN.match(section_id):
                self.report("P006", span, f"section id `{section_id}` is not a valid id",
                            "use lower-case letters, digits and hyphens, e.g. `{hormonale-therapie}`")
        if not title:
            self.report("P001", span, "section heading without a title", "write the title after the `#`")
        return (level, title, section_id or slug(title), explicit, explicit_number, span, self.items(body))

    def nest(self, drafts: list[SectionDraft]) -> tuple[m.Section, ...]:
        # Build the tree bottom-up: each draft collects the following drafts of deeper level.
        counters: list[int] = []
        numbered: list[tuple[int, str, str, bool, str | None, Span, tuple[m.Item, ...], str]] = []
        for level, title, sid, explicit, explicit_number, span, items in drafts:
            depth = min(level, len(counters) + 1)
            del counters[depth:]
            while len(counters) < depth:
                counters.append(0)
            counters[depth - 1] += 1
            number = ".".join(map(str, counters))
            if explicit_number is not None and explicit_number != number:
                self.report("P012", span, f"section number {explicit_number} does not match its position ({number})",
                            "remove the number (sections are numbered automatically) or renumber")
            numbered.append((depth, title, sid, explicit, explicit_number, span, items, number))

        sections, _ = _sections_from(numbered, 0, 1)
        return tuple(sections)


def _sections_from(numbered: list[tuple[int, str, str, bool, str | None, Span, tuple[m.Item, ...], str]], start: int,
                   depth: int) -> tuple[list[m.Section], int]:
    """The sections from `start` at `depth` or deeper, each with its subsections, and where they end (a module
    function: a nested one calling itself through its cell leaves a reference cycle for the collector).
    """
    out: list[m.Section] = []
    i = start
    while i < len(numbered) and numbered[i][0] >= depth:
        d, title, sid, explicit, _, span, items, number = numbered[i]
        subs, i = _sections_from(numbered, i + 1, d + 1)
        out.append(mk.Section(sid, explicit, title, number, d, span, items, tuple(subs)))
    return out, i


# statement kind -> its builder (`build_<kind>`), looked up once instead of a getattr per statement
HEAD_BUILDERS: dict[str, Callable[..., m.Item]] = {
    name[len("build_"):]: method for name, method in vars(_Builder).items() if name.startswith("build_")}


def signed(token: Token) -> int:
    """An INT or NEG_INT token (`-7`, `−7`) as an int."""
    return int(str(token).replace("−", "-"))


def level_number(text: str) -> int:
    """The number of a dose level as written: `level -1`, `dose level 0`, `niveau −2`."""
    match = LEVEL_PATTERN.search(text)
    if match is None:  # more digits than any dose level has: a level that cannot exist (D022)
        return 999_999
    return -int(match.group(2)) if match.group(1) in ("-", "−") else int(match.group(2))


NORMAL_OPS = {"≥": ">=", "≤": "<=", "≠": "!="}


def normal_op(text: str) -> str:
    """A comparison operator in its ASCII spelling."""
    return NORMAL_OPS.get(text, text)


RELATIVE_END = re.compile(
    r"(?P<n>[0-9]{1,4})\s+(?P<unit>days?|weeks?|dagen|dag|weken|week)\s+(?:after|na)\s+(?:the\s+|de\s+)?"
    r"(?:last|laatste)\s+(?:(?:dose|administration|gift|toediening)\s+(?:of\s+|van\s+)?)?(?P<drug>\S.*?)"
    r"(?:\s+(?:dose|doses|dosis|administration|gift|toediening))?\s*$",
    re.IGNORECASE)


def relative_end(until: m.Text) -> m.RelativeEnd | None:
    """`21 days after the last pemetrexed` as a relative end (None for `progression` and other words)."""
    match = RELATIVE_END.fullmatch(until.value)
    if match is None:
        return None
    unit = "week" if match.group("unit").lower().startswith("we") else "day"
    start = until.span.column + match.start("drug")
    drug_span = ms.Span(until.span.file, until.span.line, start, until.span.line, start + len(match.group("drug")))
    return mk.RelativeEnd(int(match.group("n")), unit, mk.Text(match.group("drug"), drug_span))


class DaySet:
    """Days `first`-366 in the order first written, each once.

    Adding a range costs only the days it adds (a "next unseen day" pointer per day, with
    path halving), so a list of a hundred thousand overlapping ranges stays linear.
    """

    def __init__(self, first: int = 1) -> None:
        self.days: list[int] = []
        self.first = first
        self.next_unseen: dict[int, int] = {}  # only the days seen: a missing day points at itself

    def _unseen_from(self, index: int) -> int:
        pointers = self.next_unseen
        following = pointers.get(index, index)
        while following != index:
            following = pointers[index] = pointers.get(following, following)
            index = following
            following = pointers.get(index, index)
        return index

    def add(self, low: int, high: int) -> None:
        """Add the days low..high (none when high < low); both within `first`..366."""
        if low == high:  # one day, the commonest: seen or not, without walking the pointers
            index = low - self.first
            if index not in self.next_unseen:
                self.days.append(low)
                self.next_unseen[index] = index + 1
            return
        index, last = self._unseen_from(low - self.first), high - self.first
        while index <= last:
            self.days.append(index + self.first)
            self.next_unseen[index] = index + 1
            index = self._unseen_from(index + 1)


def condition_depth(node: Tree[Token]) -> int:
    """How deeply `and`, `or`, `not` and parentheses nest in a condition (without recursion)."""
    deepest = 0
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > deepest:
            deepest = depth
        for child in current.children:
            if isinstance(child, Tree) and child.data in CONDITION_NODES:
                stack.append((child, depth + 1))
    return deepest


CONDITION_NODES = frozenset({"or_cond", "and_cond", "cond_not"})
CONDITION_OPS = {"≥": ">=", "≤": "<=", "≠": "!=", "=": "="}  # a condition's operator in its ASCII spelling


def m_related(span: Span, message: str) -> Related:
    """A related location for a diagnostic."""
    return Related(span, message)


def span_offsets(source: SourceFile, span: Span) -> slice:
    """The slice of the source text a single-line span covers."""
    start = source.offset(span.line, span.column)
    end = source.offset(span.end_line, span.end_column)
    return slice(start, end)


# a row's own indented block: its notes, or a band's occurrence rows (not part of the row's line)
ROW_BLOCKS = frozenset({"row_children", "occurrence_action_row", "occurrence_note_row"})
ORDINAL_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "eerste": 1,
                 "tweede": 2, "derde": 3, "vierde": 4, "vijfde": 5, "zesde": 6}


def occurrence_number(text: str) -> tuple[int, bool]:
    """`3rd and later occurrences` → (3, True); `2e keer` → (2, False)."""
    lowered = text.lower()
    digit = OCCURRENCE_DIGIT.match(lowered)
    first_word = lowered.split()[0]
    number = int(digit.group(1)) if digit else ORDINAL_WORDS.get(first_word, 1)
    later = LATER_PATTERN.search(lowered) is not None
    return number, later


def heading_parts(raw: str) -> tuple[str | None, str, str | None]:
    """A heading's text (stripped) as `HEADING_PATTERN` reads it: number, title, id (`2. Dosering {dosis}`).

    A heading without a leading digit is read without the pattern: its lazy title tries
    the rest of the pattern at every character.
    """
    if raw[:1] in "0123456789":  # a written number, perhaps (and the empty heading)
        match = HEADING_PATTERN.match(raw)
        assert match is not None
        return match.group("number"), match.group("title"), match.group("id")
    if raw.endswith("}"):  # `title {id}`: the id from the first `{` after the last `}` before the end
        brace = raw.find("{", raw.rfind("}", 0, -1) + 1)
        if brace >= 0:
            return None, raw[:brace].rstrip(), raw[brace + 1:-1]
    return None, raw, None


def slug(title: str) -> str:
    """A section id from a title: lower case ASCII words joined by hyphens."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = SLUG_WORDS.findall(ascii_title.lower())
    return "-".join(words) or "section"


def build(source: SourceFile, tree: Tree[Token]) -> tuple[m.Protocol, list[Diagnostic]]:
    """Build the protocol model from a syntax tree."""
    builder = _Builder(source)
    top: list[Tree[Token]] = tree.children  # type: ignore[assignment]  # `meta_field* item*`: nodes only
    count = 0
    for child in top:  # the metadata comes first
        if child.data != "meta_field":
            break
        count += 1
    fields, body = top[:count], top[count:]
    meta = builder.metadata(fields)
    preamble, sections = builder.sections(body)
    protocol = mk.Protocol(source.path, source.sha256, meta, preamble, sections)
    ids: dict[str, m.Section] = {}
    for section in protocol.all_sections():
        if section.id in ids:
            builder.report("P013", section.span, f"section id `{section.id}` is used twice",
                           f"give this section its own id, e.g. `{{{section.id}-2}}`; the first is on line {ids[section.id].span.line}")
        else:
            ids[section.id] = section
    return protocol, builder.diagnostics
