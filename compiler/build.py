"""Build the model from the syntax tree: typed values, sections, spans.

Malformed values that the grammar accepts on purpose (so the message can be precise)
are reported here: duplicate or unknown metadata fields, bad versions, dates,
statuses, section ids.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation

from lark import Token, Tree

from compiler import limits
from compiler import model as m
from compiler.diagnostics import Diagnostic, Fix, Related, rule
from compiler.source import SourceFile, Span
from compiler.suggest import closest

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
LANGUAGES = {"nl", "en"}

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
Q_UNITS = {"d": "day", "w": "week", "wk": "week", "mo": "month"}
REF_PATTERN = re.compile(r"§([A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]|[A-Za-z0-9])")
HEADING_PATTERN = re.compile(r"^(?:(?P<number>[0-9]+(?:\.[0-9]+)*)\.?\s+)?(?P<title>.*?)\s*(?:\{(?P<id>[^}]*)\})?\s*$")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
TARGET_JOINER = re.compile(r"\s+(?:or|of|and|en)\s+", re.IGNORECASE)


# level, title, id, explicit id?, written number, span, items
LARGEST = Decimal(10**limits.MAX_DIGITS - 1)
SectionDraft = tuple[int, str, str, bool, str | None, Span, tuple[m.Item, ...]]


@dataclass
class _Builder:
    source: SourceFile
    diagnostics: list[Diagnostic] = field(default_factory=list)

    # ------------------------------------------------------------ spans and values
    def span_of(self, node: Tree[Token] | Token) -> Span:
        if isinstance(node, Token):
            start = node.start_pos or 0
            return self.source.span(start, node.end_pos if node.end_pos is not None else start + len(node))
        meta = node.meta
        if getattr(meta, "empty", True):
            return Span(self.source.path, 1, 1, 1, 1)
        return self.source.span(meta.start_pos, meta.end_pos)

    def text(self, token: Token) -> m.Text:
        stripped = str(token).rstrip()
        start = token.start_pos or 0
        return m.Text(stripped, self.source.span(start, start + len(stripped)))

    def number(self, node: Tree[Token] | Token) -> m.Number:
        token = node.children[0] if isinstance(node, Tree) else node
        assert isinstance(token, Token)
        raw = str(token)
        span = self.span_of(token)
        try:
            value = Decimal(raw.replace(",", "."))
        except InvalidOperation:
            value = Decimal(0)
        if self.too_long(raw, span):
            # keep 12 significant digits and at most 12 integer digits: no later stage sees more
            value = min(Context(prec=limits.MAX_DIGITS).create_decimal(value), LARGEST)
        return m.Number(value, raw, span)

    def too_long(self, raw: str, span: Span) -> bool:
        """Report P017 for a number of more digits than any protocol writes."""
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
        for node in fields:
            key_token = node.children[0]
            assert isinstance(key_token, Token)
            raw_key = str(key_token)[:-1].strip()
            value_token = node.children[1] if len(node.children) > 1 else None
            key_span = self.source.span(key_token.start_pos or 0, (key_token.start_pos or 0) + len(raw_key))
            if isinstance(value_token, Token):
                value = str(value_token).strip()
                value_span = self.text(value_token).span
            else:
                value = ""
                value_span = Span(key_span.file, key_span.line, key_span.end_column + 1, key_span.line, key_span.end_column + 1)
            key = KEY_BY_SPELLING.get(" ".join(raw_key.lower().split()))
            line_span = Span(key_span.file, key_span.line, key_span.column, value_span.end_line, value_span.end_column)
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
            meta = m.MetaField(key, value, line_span, key_span, value_span)
            seen[key] = meta
            metas.append(meta)
        return self.typed_metadata(tuple(metas))

    def typed_metadata(self, metas: tuple[m.MetaField, ...]) -> m.Metadata:
        values: dict[str, object] = {"fields": metas}
        refs: list[m.Text] = []
        for meta in metas:
            text = m.Text(meta.value, meta.value_span)
            if not meta.value:
                continue  # reported as missing by V001
            if meta.key == "reference":
                refs.append(text)
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
                values["id"] = text
            else:
                values[meta.key.replace(" ", "_")] = text
        values["references"] = tuple(refs)
        return m.Metadata(**values)  # type: ignore[arg-type]

    def version(self, meta: m.MetaField) -> m.Version | None:
        match = re.fullmatch(r"([0-9]+)\.([0-9]+)", meta.value)
        if not match:
            shown = meta.value if len(meta.value) <= 40 else f"{meta.value[:20]}…"
            self.report("V001", meta.value_span, f"version `{shown}` is not major.minor",
                        "write the version as two numbers, e.g. `2.0` or `2.1`")
            return None
        if self.too_long(match.group(1), meta.value_span) or self.too_long(match.group(2), meta.value_span):
            return None
        return m.Version(int(match.group(1)), int(match.group(2)))

    def status(self, meta: m.MetaField) -> m.Status | None:
        try:
            return m.Status(meta.value.lower())
        except ValueError:
            names = [s.value for s in m.Status]
            suggestion = closest(meta.value.lower(), names)
            hint = f"did you mean `{suggestion}`?" if suggestion else "use one of: " + ", ".join(names)
            self.report("V001", meta.value_span, f"status `{meta.value}` is not one of {', '.join(names)}", hint)
            return None

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
        return tuple(self.item(node) for node in nodes)

    def item(self, node: Tree[Token]) -> m.Item:
        head = node.children[0]
        assert isinstance(head, Tree)
        children: tuple[m.Item, ...] = ()
        if len(node.children) > 1:
            block = node.children[1]
            assert isinstance(block, Tree)
            children = self.items(c for c in block.children if isinstance(c, Tree))
        return self.head(head, children)

    def head(self, node: Tree[Token], children: tuple[m.Item, ...]) -> m.Item:
        span = self.span_of(node)
        kind = node.data
        tokens = [c for c in node.children if isinstance(c, Token)]
        if kind == "prose":
            text = str(tokens[0]).rstrip()
            if text.startswith("\\"):
                text = text[1:]
            return m.Prose(span, children, text, self.refs(tokens[0]))
        if kind == "bullet":
            content_nodes = [c for c in node.children if isinstance(c, Tree)]
            content = self.head(content_nodes[0], ()) if content_nodes else None
            return m.Bullet(span, children, content)
        builder = getattr(self, "build_" + str(kind))
        result: m.Item = builder(node, span, children)
        return result

    def refs(self, token: Token) -> tuple[m.CrossRef, ...]:
        start = token.start_pos or 0
        out = []
        for match in REF_PATTERN.finditer(str(token)):
            out.append(m.CrossRef(match.group(1), self.source.span(start + match.start(), start + match.end())))
        return tuple(out)

    # ------------------------------------------------------------ drug lines
    def build_drug_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.DrugLine:
        name_node = next(c for c in node.children if isinstance(c, Tree) and c.data == "drug_name")
        name = self.joined(name_node)
        brand_nodes = [c for c in node.children if isinstance(c, Tree) and c.data == "brand"]
        brand = self.joined(brand_nodes[0]) if brand_nodes else None
        phases: list[m.Phase] = []
        extras: dict[str, object] = {}
        for phase_node in (c for c in node.children if isinstance(c, Tree) and c.data == "phase"):
            phases.append(self.phase(phase_node, extras))
        return m.DrugLine(span, children, name, brand, tuple(phases),
                          infusion=extras.get("infusion"),  # type: ignore[arg-type]
                          max_duration=extras.get("max_duration"),  # type: ignore[arg-type]
                          form=extras.get("form"))  # type: ignore[arg-type]

    def joined(self, node: Tree[Token]) -> m.Text:
        tokens = [c for c in node.children if isinstance(c, Token)]
        span = self.source.span(tokens[0].start_pos or 0, tokens[-1].end_pos or 0)
        return m.Text(" ".join(str(t) for t in tokens), span)

    def phase(self, node: Tree[Token], extras: dict[str, object]) -> m.Phase:
        values: dict[str, object] = {}
        for part in node.children:
            if not isinstance(part, Tree):
                continue
            kind = str(part.data)
            if kind in ("infusion_single", "infusion_first_then", "infusion_min"):
                self.once(extras, "infusion", self.infusion(part), part)
            elif kind == "max_duration":
                self.once(extras, "max_duration", self.duration_of(part), part)
            elif kind == "form":
                self.once(extras, "form", self.form(part), part)
            else:
                key, value = self.phase_part(part)
                self.once(values, key, value, part)
        return m.Phase(self.span_of(node), **values)  # type: ignore[arg-type]

    def once(self, values: dict[str, object], key: str, value: object, node: Tree[Token]) -> None:
        if key in values:
            self.report("P006", self.span_of(node), f"{key.replace('_', ' ')} given twice in one statement",
                        "give each part once; use `then` to start a new phase (loading → maintenance)")
            return
        values[key] = value

    def phase_part(self, part: Tree[Token]) -> tuple[str, object]:
        kind = str(part.data)
        span = self.span_of(part)
        tokens = [c for c in part.children if isinstance(c, Token)]
        if kind == "dose_amount":
            return "dose", self.dose(part)
        if kind == "dose_auc":
            number = self.number(part.children[1])
            return "dose", m.Dose(number, None, "AUC", "AUC", span)
        if kind == "route":
            raw = str(tokens[0])
            return "route", m.Route(ROUTES.get(" ".join(raw.lower().split()), raw), raw, span)
        if kind.startswith("freq_"):
            return "frequency", self.frequency(part, span)
        if kind == "days":
            return "days", m.CycleDays(self.cycle_days(part), self.source.text[span_offsets(self.source, span)], span)
        if kind in ("cycle_len", "cycle_len_of"):
            written = next(t for t in tokens if t.type == "INT")
            unit = "day" if kind == "cycle_len_of" else PERIOD_UNITS[str(tokens[-1]).lower()]
            length = self.period(str(written), unit, self.span_of(written), "a cycle")
            return "cycle_length", m.Duration(length, unit, span)
        if kind == "on_off":
            on, off = (self.integer(x, span, limits.MAX_DAY, "days") for x in re.findall(r"[0-9]+", str(tokens[0])))
            return "on_off", (on, off)
        if kind == "count_cycles":
            return "cycles", self.integer(re.findall(r"[0-9]+", str(tokens[0]))[0], span, limits.MAX_CYCLES, "cycles")
        if kind == "count_for":
            return "for_duration", self.duration_of(part)
        if kind == "continuous":
            return "continuous", True
        if kind == "until":
            return "until", self.text(tokens[1])
        raise AssertionError(f"unhandled phase part {kind}")

    def cycle_days(self, part: Tree[Token]) -> tuple[int, ...]:
        """The days of a `days` list, ranges expanded, each day once; a day beyond 366 is P020."""
        days = DaySet()
        for item in part.children:
            if not isinstance(item, Tree):
                continue
            numbers = [t for t in item.children if isinstance(t, Token) and t.type == "INT"]
            span = self.span_of(item)
            if any(self.too_long(str(t), span) for t in numbers):
                continue
            bounds = [int(str(t)) for t in numbers]
            if max(bounds) > limits.MAX_DAY:
                self.report("P020", span, f"day {max(bounds):,} is beyond day {limits.MAX_DAY}, the longest cycle "
                            "protocolc reads", "check the day: cycle days count from 1 within one cycle")
                continue
            days.add(bounds[0], bounds[-1])
        return tuple(days.days)

    def dose(self, part: Tree[Token]) -> m.Dose:
        amount_node, unit_node = (c for c in part.children if isinstance(c, Tree))
        numbers = [c for c in amount_node.children if isinstance(c, Tree)]
        low = self.number(numbers[0])
        high = self.number(numbers[1]) if len(numbers) > 1 else None
        unit_token = unit_node.children[0]
        assert isinstance(unit_token, Token)
        raw = str(unit_token)
        return m.Dose(low, high, UNITS.get(raw.rstrip("."), raw), raw, self.span_of(part))

    def frequency(self, part: Tree[Token], span: Span) -> m.Frequency:
        kind = str(part.data)[5:]
        tokens = [c for c in part.children if isinstance(c, Token)]
        text = " ".join(str(t) for t in tokens)
        if kind == "weekly":
            return m.Frequency("every", 1, None, "week", text, span)
        if kind == "every":
            unit = PERIOD_UNITS[str(tokens[-1]).lower()]
            ints = [self.period(str(t), unit, self.span_of(t), "an interval") for t in tokens if t.type == "INT"]
            return m.Frequency("every", ints[0] if ints else 1, ints[1] if len(ints) > 1 else None, unit, text, span)
        if kind == "q":
            return self.q_notation(str(tokens[0]), span)
        return m.Frequency(kind.replace("_", " ").replace("three daily", "three times daily"), None, None, None, text, span)

    def q_notation(self, raw: str, span: Span) -> m.Frequency:
        lower = raw.lower().replace(".", "")
        fixed = {"qd": ("daily", None, None), "qod": ("every", 2, "day"), "bid": ("twice daily", None, None),
                 "tid": ("three times daily", None, None)}
        if lower in fixed:
            kind, interval, unit = fixed[lower]
            return m.Frequency(kind, interval, None, unit, raw, span)
        match = re.fullmatch(r"q([0-9]+)(d|w|wk|mo)", lower)
        assert match is not None
        unit = Q_UNITS[match.group(2)]
        return m.Frequency("every", self.period(match.group(1), unit, span, "an interval"), None, unit, raw, span)

    def duration_of(self, part: Tree[Token]) -> m.Duration:
        tokens = [c for c in part.children if isinstance(c, Token)]
        number = next(t for t in tokens if t.type == "INT")
        unit = PERIOD_UNITS[str(tokens[-1]).lower()]
        value = self.period(str(number), unit, self.span_of(number), "a duration")
        return m.Duration(value, unit, self.span_of(part))

    def infusion(self, part: Tree[Token]) -> m.Infusion:
        minutes = [self.integer(str(d.children[0]), self.span_of(d), limits.MAX_INFUSION_MINUTES, "infusion minutes")
                   for d in part.children if isinstance(d, Tree)]
        return m.Infusion(minutes[0], minutes[1] if len(minutes) > 1 else None,
                          str(part.data) == "infusion_min", self.span_of(part))

    def form(self, part: Tree[Token]) -> m.Form:
        tokens = [c for c in part.children if isinstance(c, Token)]
        numbers = [self.number(c) for c in part.children if isinstance(c, Tree)]
        units = [UNITS.get(str(t).rstrip("."), str(t)) for t in tokens if t.type == "UNIT"]
        concentration = (numbers[0], units[0], numbers[1], units[1]) if len(numbers) == 2 else None
        name = " ".join(str(tokens[0]).lower().split())
        return m.Form(name, self.span_of(part), concentration)

    # ------------------------------------------------------------ regimens, radiotherapy
    def build_regimen_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.RegimenLine:
        name_node = node.children[1]
        assert isinstance(name_node, Tree)
        token = name_node.children[0]
        assert isinstance(token, Token)
        quoted = token.type == "STRING"
        name = m.Text(str(token).strip('"'), self.span_of(token))
        values: dict[str, object] = {}
        for part in node.children[2:]:
            if not isinstance(part, Tree):
                continue
            if part.data == "max_duration":
                self.once(values, "max_duration", self.duration_of(part), part)
            else:
                key, value = self.phase_part(part)
                self.once(values, key, value, part)
        return m.RegimenLine(span, children, name, quoted, **values)  # type: ignore[arg-type]

    def build_rt_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.Fractionation:
        dose_node = node.children[1]
        assert isinstance(dose_node, Tree)
        values: dict[str, object] = {}
        amounts = [c for c in dose_node.children if isinstance(c, Tree)]
        fractions = fractions_max = per = per_max = total = None
        up_to = False
        tolerance = None
        if dose_node.data == "rt_fractions":
            fractions, fractions_max = self.amount(amounts[0], limits.MAX_FRACTIONS, "fractions")
            per, per_max = self.amount(amounts[1], limits.MAX_GY, "Gy")
            if len(amounts) > 2:
                total = self.amount(amounts[2], limits.MAX_GY, "Gy")[0]
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
        return m.Fractionation(span, children, fractions, fractions_max, per, per_max, total=total,
                               up_to=up_to, tolerance=tolerance, **values)  # type: ignore[arg-type]

    def amount(self, node: Tree[Token], limit: int, what: str) -> tuple[m.Number, m.Number | None]:
        numbers = [self.bounded(self.number(c), limit, what) for c in node.children if isinstance(c, Tree)]
        return numbers[0], (numbers[1] if len(numbers) > 1 else None)

    def bounded(self, number: m.Number, limit: int, what: str) -> m.Number:
        """A number at most `limit` (P018 beyond it): radiotherapy arithmetic stays small."""
        if number.value <= limit:
            return number
        if sum(1 for ch in number.text if ch.isdigit()) <= limits.MAX_DIGITS:  # else P017 is reported
            self.report("P018", number.span, f"{what}: {number.text} is beyond the limit of {limit:,}",
                        f"check the number; protocolc reads {what} up to {limit:,}")
        return m.Number(Decimal(limit), number.text, number.span)

    # ------------------------------------------------------------ conditions
    def build_when_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.When:
        return m.When(span, children, self.shallow_condition(node.children[1]))

    def build_otherwise_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.Otherwise:
        return m.Otherwise(span, children)

    def build_decision_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.Decision:
        texts = [c for c in node.children if isinstance(c, Token) and c.type == "DECISION_TEXT"]
        return m.Decision(span, children, self.text(texts[0]) if texts else None)

    def build_only_when_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.OnlyWhen:
        return m.OnlyWhen(span, children, self.shallow_condition(node.children[1]))

    def build_exclude_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.ExcludeWhen:
        return m.ExcludeWhen(span, children, self.shallow_condition(node.children[1]))

    def build_preferably_with(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.WithConstraint:
        return m.WithConstraint(span, children, "preferably", self.targets(node))

    def build_only_with(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.WithConstraint:
        return m.WithConstraint(span, children, "only", self.targets(node))

    def build_not_with(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.WithConstraint:
        return m.WithConstraint(span, children, "not", self.targets(node))

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
                    out.append(m.Text(stripped, self.source.span(offset, offset + len(stripped))))
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
        kind = str(node.data)
        subtrees = [c for c in node.children if isinstance(c, Tree)]
        if kind == "or_cond":
            return m.Any_(span, tuple(self.condition(c, pair_nots) for c in subtrees))
        if kind == "and_cond":
            return m.All(span, tuple(self.condition(c, pair_nots) for c in subtrees))
        if kind == "cond_not" and pair_nots:
            count = 0
            while node.data == "cond_not":
                count += 1
                node = next(c for c in node.children if isinstance(c, Tree))
            inner = self.condition(node, pair_nots)
            return m.Not(span, inner) if count % 2 else inner
        if kind == "cond_not":
            return m.Not(span, self.condition(subtrees[0]))
        if kind == "cond_flag":
            return m.Flag(span, self.words(subtrees[0]))
        if kind == "cond_compare":
            variable, value = subtrees
            op_token = next(c for c in node.children if isinstance(c, Token))
            op = {"≥": ">=", "≤": "<=", "≠": "!=", "=": "="}.get(str(op_token), str(op_token))
            if value.data == "cvalue_number":
                number = self.number(value.children[0])
                percent = any(isinstance(c, Token) and c.type == "PERCENT" for c in value.children)
                return m.Compare(span, self.words(variable), self.span_of(variable), op, number, percent, None)
            return m.Compare(span, self.words(variable), self.span_of(variable), op, None, False, self.words(value))
        if len(subtrees) == 1:
            return self.condition(subtrees[0], pair_nots)
        raise AssertionError(f"unhandled condition {kind}")

    def words(self, node: Tree[Token]) -> str:
        return " ".join(str(t) for t in node.children if isinstance(t, Token))

    # ------------------------------------------------------------ notes, queries, acknowledgements
    def build_note_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.Note:
        texts = [c for c in node.children if isinstance(c, Token) and c.type == "NOTE_TEXT"]
        text = self.text(texts[0]) if texts else None
        return m.Note(span, children, text, self.refs(texts[0]) if texts else ())

    def build_query_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.Query:
        texts = [c for c in node.children if isinstance(c, Token) and c.type == "NOTE_TEXT"]
        return m.Query(span, children, self.text(texts[0]) if texts else None)

    def build_allow_line(self, node: Tree[Token], span: Span, children: tuple[m.Item, ...]) -> m.Allow:
        tokens = [c for c in node.children if isinstance(c, Token)]
        code = self.text(tokens[1])
        strings = [t for t in tokens if t.type == "STRING"]
        justification = None
        if strings:
            raw = self.text(strings[0])
            inner = raw.value.strip('"').strip()
            justification = m.Text(inner, raw.span) if inner else None
        return m.Allow(span, children, code, justification)

    # ------------------------------------------------------------ sections
    def sections(self, nodes: list[Tree[Token]]) -> tuple[tuple[m.Item, ...], tuple[m.Section, ...]]:
        preamble: list[Tree[Token]] = []
        flat: list[tuple[Tree[Token], list[Tree[Token]]]] = []
        for node in nodes:
            if node.data == "heading":
                flat.append((node, []))
            elif flat:
                flat[-1][1].append(node)
            else:
                preamble.append(node)
        drafts = [self.section_head(heading, body) for heading, body in flat]
        return self.items(preamble), self.nest(drafts)

    def section_head(self, heading: Tree[Token], body: list[Tree[Token]]) -> SectionDraft:
        mark = heading.children[0]
        assert isinstance(mark, Token)
        level = len(str(mark))
        texts = [c for c in heading.children[1:] if isinstance(c, Token)]
        raw = str(texts[0]).strip() if texts else ""
        span = self.span_of(heading)
        match = HEADING_PATTERN.match(raw)
        assert match is not None
        title = match.group("title").strip()
        explicit_number = match.group("number")
        section_id = match.group("id")
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
            number = ".".join(str(c) for c in counters)
            if explicit_number is not None and explicit_number != number:
                self.report("P012", span, f"section number {explicit_number} does not match its position ({number})",
                            "remove the number (sections are numbered automatically) or renumber")
            numbered.append((depth, title, sid, explicit, explicit_number, span, items, number))

        def build(start: int, depth: int) -> tuple[list[m.Section], int]:
            out: list[m.Section] = []
            i = start
            while i < len(numbered) and numbered[i][0] >= depth:
                d, title, sid, explicit, _, span, items, number = numbered[i]
                subs, i = build(i + 1, d + 1)
                out.append(m.Section(sid, explicit, title, number, d, span, items, tuple(subs)))
            return out, i

        sections, _ = build(0, 1)
        return tuple(sections)


class DaySet:
    """Days 1-366 in the order first written, each once.

    Adding a range costs only the days it adds (a "next unseen day" pointer per day, with
    path halving), so a list of a hundred thousand overlapping ranges stays linear.
    """

    def __init__(self) -> None:
        self.days: list[int] = []
        self.next_unseen = list(range(limits.MAX_DAY + 2))

    def _unseen_from(self, day: int) -> int:
        pointers = self.next_unseen
        while pointers[day] != day:
            pointers[day] = pointers[pointers[day]]
            day = pointers[day]
        return day

    def add(self, low: int, high: int) -> None:
        """Add the days low..high (none when high < low)."""
        day = self._unseen_from(low)
        while day <= high:
            self.days.append(day)
            self.next_unseen[day] = day + 1
            day = self._unseen_from(day + 1)


def condition_depth(node: Tree[Token]) -> int:
    """How deeply `and`, `or`, `not` and parentheses nest in a condition (without recursion)."""
    deepest = 0
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((c, depth + 1) for c in current.children if isinstance(c, Tree) and c.data in CONDITION_NODES)
    return deepest


CONDITION_NODES = frozenset({"or_cond", "and_cond", "cond_not"})


def m_related(span: Span, message: str) -> Related:
    """A related location for a diagnostic."""
    return Related(span, message)


def span_offsets(source: SourceFile, span: Span) -> slice:
    """The slice of the source text a single-line span covers."""
    start = source.offset(span.line, span.column)
    end = source.offset(span.end_line, span.end_column)
    return slice(start, end)


def slug(title: str) -> str:
    """A section id from a title: lower case ASCII words joined by hyphens."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_title.lower())
    return "-".join(words) or "section"


def build(source: SourceFile, tree: Tree[Token]) -> tuple[m.Protocol, list[Diagnostic]]:
    """Build the protocol model from a syntax tree."""
    builder = _Builder(source)
    fields = [c for c in tree.children if isinstance(c, Tree) and c.data == "meta_field"]
    body = [c for c in tree.children if isinstance(c, Tree) and c.data != "meta_field"]
    meta = builder.metadata(fields)
    preamble, sections = builder.sections(body)
    protocol = m.Protocol(source.path, source.sha256, meta, preamble, sections)
    ids: dict[str, m.Section] = {}
    for section in protocol.all_sections():
        if section.id in ids:
            builder.report("P013", section.span, f"section id `{section.id}` is used twice",
                           f"give this section its own id, e.g. `{{{section.id}-2}}`; the first is on line {ids[section.id].span.line}")
        else:
            ids[section.id] = section
    return protocol, builder.diagnostics
