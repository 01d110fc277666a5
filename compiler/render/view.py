"""The checked model as a tree of printable blocks (what the template places).

Grouping happens here, not in the template: consecutive prose lines become one
paragraph, consecutive bullets one list, consecutive drug lines (bullets included) one
drug table. All text that reaches the template is either plain (escaped by Jinja) or
built as `Markup` from escaped pieces, so source text can never inject markup.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from markupsafe import Markup, escape

from compiler import i18n, radiobiology
from compiler import model as m
from compiler.arms import phase_override
from compiler.diagnostics import Diagnostic
from compiler.render import calendar as cal
from compiler.render import flowchart
from compiler.render import words as w
from compiler.source import Span
from compiler.tables import Tables

_NO_SPAN = Span("", 0, 0, 0, 0)
NEVER = re.compile(r"(?!)")
# a dose as written in prose: `90 mg/m²`, `1000–1250 mg/m²`, `AUC 5`, `19,5 Gy` (kept on one line with its unit)
DOSE_IN_TEXT = (r"(?:AUC\s?\d+(?:[.,]\d+)?|\d+(?:[.,]\d+)?(?:\s?[–-]\s?\d+(?:[.,]\d+)?)?\s?"
                r"(?:mg/m²|mg/m2|mg/kg|mcg/kg|mg|mcg|µg|g|Gy|mL|ml|IE|eenheden|units)(?![A-Za-z]))")
REF_PATTERN = re.compile(r"§([A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]|[A-Za-z0-9])")
SEE_BEFORE = re.compile(r"(?:zie|see|cfr\.?|cf\.?|vgl\.?)\s*$", re.IGNORECASE)

# ---------------------------------------------------------------- blocks


@dataclass
class Block:
    """Base of printable blocks; `kind` selects the template macro."""

    kind: str


@dataclass
class Paragraph(Block):
    """One paragraph (joined prose lines); `lead` for a label line like `Castratie:`."""

    html: Markup
    lead: bool = False
    children: list[Block] = field(default_factory=list)


@dataclass
class ListEntry:
    """One bullet: its text and nested blocks."""

    html: Markup | None
    children: list[Block] = field(default_factory=list)


@dataclass
class BulletList(Block):
    """A bulleted list."""

    entries: list[ListEntry]


@dataclass
class DrugRow:
    """One drug line as a table row."""

    name: str
    brand: str | None
    known: bool
    doses: list[str]
    route: str
    administration: str
    schedule: str
    notes: list[str]
    extras: list[Block] = field(default_factory=list)
    anchor: str = ""
    dose_html: list[Markup] = field(default_factory=list)  # the doses with amount and unit kept on one line
    prn: bool = False  # lang-b: an as-needed line (marked on the sheet)


@dataclass
class DrugTable(Block):
    """Consecutive drug lines sharing one table, with the calendars and timeline of its cyclic lines."""

    rows: list[DrugRow]
    calendars: list[cal.CycleCalendar] = field(default_factory=list)
    timeline: Markup | None = None


@dataclass
class RegimenBlock(Block):
    """A regimen line: a library regimen with its drug rows and source, or an inline/unknown one."""

    name: str
    title: str | None
    summary: str
    tables: list[tuple[str | None, DrugTable]]
    source: str | None
    note: str | None
    resolved: bool
    unverified: bool
    children: list[Block] = field(default_factory=list)
    anchor: str = ""
    calendar: cal.CycleCalendar | None = None
    timeline: Markup | None = None


@dataclass
class RadiotherapyLine(Block):
    """A fractionation: `5 × 4 Gy = 20 Gy op ovaria`."""

    text: str
    children: list[Block] = field(default_factory=list)


@dataclass
class Branch(Block):
    """`Indien …:` or `Anders:` with its content."""

    label: str
    children: list[Block] = field(default_factory=list)


@dataclass
class DecisionBlock(Block):
    """A decision: a title, its flowchart and its branches."""

    title: str
    children: list[Block] = field(default_factory=list)
    chart: flowchart.Chart | None = None
    marks: list[str] = field(default_factory=list)


@dataclass
class DecisionRow:
    """One branch of a dosing decision: the condition and its single drug line (or text)."""

    label: str
    row: DrugRow | None
    html: Markup | None


@dataclass
class DecisionTable(Block):
    """A decision whose branches each hold one drug line (or one line of text): one table."""

    title: str
    rows: list[DecisionRow]
    chart: flowchart.Chart | None = None
    marks: list[str] = field(default_factory=list)


@dataclass
class Constraint(Block):
    """only-when / exclude-when / preferably-with / only-with as a short sentence."""

    variant: str
    text: str


@dataclass
class Callout(Block):
    """A note (NOTA) or a review query."""

    title: str
    html: Markup | None
    children: list[Block] = field(default_factory=list)


@dataclass
class Allowance(Block):
    """An acknowledged finding: `Aanvaarde afwijking D002: …`."""

    code: str
    justification: str


@dataclass
class LabTable(Block):
    """A criteria block, a dose-modification table or a dose-levels list as a two-column table.

    `kind`: `criteria` (criterion | value), `modification` (band | action) or `levels`
    (level | dose); `head` holds the two column headings.
    """

    title: str
    head: tuple[str, str]
    rows: list[tuple[str, str]]
    children: list[Block] = field(default_factory=list)


@dataclass
class SectionView:
    """A numbered section with its blocks and subsections."""

    id: str
    number: str
    title: str
    heading: str
    blocks: list[Block]
    subsections: list[SectionView]
    rt_table: cal.RtTable | None = None


@dataclass
class FindingView:
    """One diagnostic in the validation summary."""

    code: str
    severity: str
    severity_label: str
    line: int
    message: str
    hint: str
    acknowledged: str | None


@dataclass
class ProtocolView:
    """Everything the page template needs."""

    language: str
    labels: dict[str, str]
    title: str
    id: str
    version: str
    status: str
    status_label: str
    watermark_word: str
    approved: bool
    sha256: str
    validity: str
    control: list[tuple[str, str]]
    references: list[str]
    scope: str | None
    change_note: str | None
    preamble: list[Block]
    sections: list[SectionView]
    findings: list[FindingView]
    counts: dict[str, int]
    keywords: str
    css: Markup = field(default_factory=Markup)
    extra: dict[str, Any] = field(default_factory=dict)
    qr: Any = None
    next_review: str = ""
    printed: str = ""


# ---------------------------------------------------------------- builder


@dataclass
class _Builder:
    tables: Tables
    language: str
    numbers: dict[str, str]
    tallman: dict[str, str]
    chart_context: flowchart.ChartContext | None = None
    unbreakable: re.Pattern[str] = NEVER
    tall_pattern: re.Pattern[str] | None = None
    pictures: list[tuple[str, str, Markup]] = field(default_factory=list)  # kind, id, svg (goldens, tests)
    inside_regimen: int = 0
    current_phase: m.PhaseLine | None = None  # lang-b: the phase being rendered (its count applies)
    inside_decision: int = 0
    dose_levels: dict[str, dict[int, str]] = field(default_factory=dict)  # drug name -> level -> dose text

    @property
    def labels(self) -> dict[str, str]:
        return w.LABELS[self.language]

    # ------------------------------------------------------------ inline text
    def inline(self, text: str) -> Markup:
        """Escaped text with `§id` turned into links to the section."""
        out = Markup("")
        position = 0
        for match in REF_PATTERN.finditer(text):
            before = text[position:match.start()]
            out += self.phrase(before)
            target = match.group(1)
            number = self.numbers.get(target)
            if number is None:
                out += Markup('<span class="xref-broken">{}</span>').format(match.group(0))
            else:
                shown = number if SEE_BEFORE.search(before) else f"{self.labels['see']} {number}"
                out += Markup('<a class="xref" href="#{}">{}</a>').format(target, shown)
            position = match.end()
        out += self.phrase(text[position:])
        return out

    def phrase(self, text: str) -> Markup:
        """Escaped text with drug names in tall-man letters, and drug names and doses kept on one line."""
        out = Markup("")
        position = 0
        for match in self.unbreakable.finditer(text):
            out += escape(self.tall_text(text[position:match.start()]))
            out += unsplit(self.tall_text(match.group(0)))
            position = match.end()
        return out + escape(self.tall_text(text[position:]))

    def tall_text(self, text: str) -> str:
        """Every look-alike drug name in a text in tall-man letters (`paclitaxel-bevacizumab` → `PACLItaxel-…`)."""
        if self.tall_pattern is None:
            return text
        return self.tall_pattern.sub(lambda found: self.tall(found.group(0)), text)

    # ------------------------------------------------------------ drug names
    def tall(self, name: str) -> str:
        """Tall-man lettering for look-alike names (`PACLItaxel`, `CARBOplatine`)."""
        lower = name.lower()
        for key in sorted(self.tallman, key=len, reverse=True):
            if lower.startswith(key) and (len(lower) == len(key) or not lower[len(key)].isalpha()
                                          or lower[len(key):] in ("e", "um")):
                form = self.tallman[key]
                return form + name[len(form):]
        return name

    def drug_row(self, line: m.DrugLine, extra_children: Sequence[m.Item]) -> DrugRow:
        if line.drug_id is not None:
            name = self.tall_text(self.tables.drug_name(line.drug_id, self.language))
        else:
            name = self.tall_text(line.name.value)
        brand = line.brand.value if line.brand is not None else None
        if brand is not None and brand.lower() in name.lower():
            brand = None  # product names like "denosumab 120 mg (Xgeva)" already carry it
        doses: list[str] = []
        for phase in line.phases:
            if phase.dose is not None and w.dose(phase.dose, self.language) not in doses:
                doses.append(w.dose(phase.dose, self.language))
        routes: list[str] = []
        for phase in line.phases:
            if phase.route is not None:
                label = w.route(phase.route.code, self.language)
                if label not in routes:
                    routes.append(label)
        schedule = f", {self.labels['then']} ".join(
            s for s in (w.phase_schedule(p, self.language) for p in line.phases) if s)
        if line.max_duration is not None:
            schedule += (", " if schedule else "") + w.max_duration(line.max_duration, self.language)
        notes: list[str] = []
        if line.form is not None:
            notes.append(w.form(line.form, self.language))
        if line.drug_id is None:
            notes.append(self.labels["not_in_formulary"])
        if line.as_needed is not None:  # lang-b: PRN is part of the schedule, and marked
            schedule = w.as_needed(line.as_needed, line.daily_max, self.language) + (", " if schedule else "") + schedule
        elif line.daily_max is not None:
            schedule += (", " if schedule else "") + w.daily_max(line.daily_max, self.language)
        return DrugRow(
            name=name, brand=brand, known=line.drug_id is not None,
            doses=doses, route=" / ".join(routes),
            administration=self.administration(line),
            schedule=schedule, notes=notes, extras=self.blocks(extra_children), anchor=flowchart.anchor(line),
            dose_html=[self.phrase(d) for d in doses],
            prn=line.as_needed is not None,
        )

    def administration(self, line: m.DrugLine) -> str:
        """lang-b: the administration column: timing, method, infusion time, diluent."""
        parts: list[str] = []
        if line.timing is not None:
            target = w.timing_target(line.timing, self.tables, self.language)
            if line.timing.target_id in self.tables.drugs:
                target = self.tall(target)
            parts.append(w.relative_timing(line.timing, target, self.language))
        if line.method is not None:
            parts.append(w.method(line.method, self.language))
        if line.infusion is not None:
            parts.append(w.infusion(line.infusion, self.language))
        if line.diluent is not None:
            parts.append(w.diluent(line.diluent, self.language))
        return ", ".join(parts)

    def regimen_drug_row(self, entry: dict[str, Any]) -> DrugRow:
        drug_id = str(entry.get("drug") or "")
        known = drug_id in self.tables.drugs
        name = self.tall_text(self.tables.drug_name(drug_id, self.language) if known else drug_id)
        amount = entry.get("dose")
        dose = ""
        if amount is not None:
            dose_unit = str(entry.get("unit") or "")
            shown = _data_amount(amount, self.language)
            dose = f"AUC {shown}" if dose_unit.upper() == "AUC" else f"{shown} {w.unit(dose_unit, self.language)}"
        schedule: list[str] = []
        frequency = entry.get("frequency")
        if frequency:
            schedule.append(self.data_frequency(str(frequency)))
        days = entry.get("days")
        if days:
            schedule.append(w.cycle_days(cal.expand_days(days), self.language))
        if entry.get("cycles"):
            schedule.append(w.cycles(int(entry["cycles"]), self.language))
        notes: list[str] = []
        doses = [dose] if dose else []
        loading = entry.get("loading")
        if isinstance(loading, dict):
            loading_dose = loading.get("dose")
            if loading_dose is not None:
                # the loading dose is a dose: it goes in the dose column, before the maintenance dose
                doses.insert(0, f"{_data_amount(loading_dose, self.language)} "
                                f"{w.unit(str(loading.get('unit') or ''), self.language)} ({self.labels['loading']})")
            if loading.get("note") and self.language == "en":
                notes.append(f"{self.labels['loading']}: {loading['note']}")
        # The library's free-text notes are written in English, with English number notation
        # ("1.4 mg/m²"); on a sheet in another language they would put a dose in the wrong
        # notation next to the right one, so only structured values are shown there.
        if entry.get("note") and self.language == "en":
            notes.append(str(entry["note"]))
        route_code = str(entry.get("route") or "")
        infusion = entry.get("infusion_min")
        administration = ""
        if isinstance(infusion, dict) and infusion.get("first"):
            then = infusion.get("then")
            administration = w.infusion(m.Infusion(int(infusion["first"]), int(then) if then else None, False,
                                                   _NO_SPAN), self.language)
        elif isinstance(infusion, int) and infusion:
            administration = w.infusion(m.Infusion(infusion, None, False, _NO_SPAN), self.language)
        return DrugRow(
            name=name, brand=None, known=known, doses=doses,
            route=w.route(route_code, self.language),
            administration=administration,
            schedule=", ".join(schedule), notes=notes, dose_html=[self.phrase(d) for d in doses],
        )

    def data_frequency(self, text: str) -> str:
        """A frequency token from the data tables (`daily`, `every 3 weeks`, `q3w`) in words."""
        match = re.fullmatch(r"every\s+([0-9]+)\s+(day|week|month)s?", text.strip())
        if match:
            return w.frequency(m.Frequency("every", int(match.group(1)), None, match.group(2), text, _NO_SPAN),
                               self.language)
        match = re.fullmatch(r"q([0-9]+)(d|w|mo)", text.strip())
        if match:
            unit_code = {"d": "day", "w": "week", "mo": "month"}[match.group(2)]
            return w.frequency(m.Frequency("every", int(match.group(1)), None, unit_code, text, _NO_SPAN),
                               self.language)
        return w.FREQUENCIES[self.language].get(text.strip(), text)

    # ------------------------------------------------------------ statements
    def regimen(self, line: m.RegimenLine) -> RegimenBlock:
        if self.current_phase is not None:  # lang-b: a library regimen in a phase takes its count
            line = phase_override(line, self.current_phase)
        entry = self.tables.regimens.get(line.regimen_id or "") if line.regimen_id else None
        summary: list[str] = []
        tables: list[tuple[str | None, DrugTable]] = []
        title: str | None = None
        source = note = None
        unverified = False
        if entry is not None:
            titles = entry.get("title") or {}
            title = str(titles.get(self.language) or titles.get("en") or "") or None
            # drug lines the author wrote under the regimen are what the sheet shows (and
            # what was checked); the library's rows appear only when there are none
            written = any(_drug_of(child) is not None for child in line.children)
            rows = [] if written else [self.regimen_drug_row(d) for d in entry.get("drugs") or []]
            if rows:
                tables.append((None, DrugTable("drugs", rows)))
            for phase in [] if written else entry.get("phases") or []:
                phase_rows = [self.regimen_drug_row(d) for d in phase.get("drugs") or []]
                if phase_rows:
                    name = str(phase.get("name") or "")
                    if phase.get("cycles"):
                        name += f" ({w.cycles(int(phase['cycles']), self.language)})"
                    tables.append((name, DrugTable("drugs", phase_rows)))
            source = self.phrase(str(entry.get("source") or "")) or None
            # the library's own `note` is editorial commentary about the entry, not sheet text
            unverified = bool(entry.get("unverified"))
        # what the line states wins over the library defaults
        if line.frequency is not None:
            summary.append(w.frequency(line.frequency, self.language))
        elif entry is not None and entry.get("cycle_days"):
            summary.append(w.frequency(m.Frequency("every", int(entry["cycle_days"]), None, "day", "", line.span),
                                       self.language))
        if line.cycle_length is not None:
            summary.append(w.cycle_length(line.cycle_length, self.language))
        if line.cycles is not None:
            summary.append(w.cycles(line.cycles, self.language))
        elif entry is not None and entry.get("cycles"):
            summary.append(w.cycles(int(entry["cycles"]), self.language))
        if line.until is not None:
            summary.append(w.until(line.until.value, self.language))
        elif entry is not None and entry.get("until_progression"):
            summary.append(w.until("progression", self.language))
        if line.for_duration is not None:
            summary.append(("gedurende " if self.language == "nl" else "for ")
                           + w.period(line.for_duration.value, line.for_duration.unit, self.language))
        if line.max_duration is not None:
            summary.append(w.max_duration(line.max_duration, self.language))
        elif entry is not None and entry.get("max_duration_months"):
            summary.append(w.max_duration(m.Duration(int(entry["max_duration_months"]), "month", line.span),
                                          self.language))
        self.inside_regimen += 1
        children = self.blocks(line.children)
        self.inside_regimen -= 1
        calendar, timeline = self.regimen_pictures(line, entry)
        return RegimenBlock("regimen", self.phrase(line.name.value), self.phrase(title) if title else None,
                            self.phrase(", ".join(summary)), tables, source, note,
                            entry is not None, unverified, children, flowchart.anchor(line), calendar, timeline)

    def phase(self, item: m.PhaseLine) -> Paragraph:
        """lang-b: a phase of a regimen: its title with its own cycle data, its drug table and its
        own cycle calendar (a regimen in phases draws one calendar per phase).
        """
        summary: list[str] = []
        if item.frequency is not None:
            summary.append(w.frequency(item.frequency, self.language))
        if item.cycle_length is not None:
            summary.append(w.cycle_length(item.cycle_length, self.language))
        if item.cycles is not None:
            summary.append(w.cycles(item.cycles, self.language))
        if item.until is not None:
            summary.append(w.until(item.until.value, self.language))
        if item.max_duration is not None:
            summary.append(w.max_duration(item.max_duration, self.language))
        label = self.labels["followed_by"] if item.followed else self.labels["phase"]
        title = f"{label} {item.name.value}" + (": " + ", ".join(summary) if summary else ":")
        outer, self.current_phase = self.current_phase, item
        children = self.blocks(item.children)
        self.current_phase = outer
        written = [d for d in (_drug_of(c) for c in item.children) if d is not None]
        cycle = cal.duration_days(item.cycle_length) if item.cycle_length is not None else None
        table = next((b for b in children if isinstance(b, DrugTable)), None)
        if written and cycle and table is not None:
            footer = [w.cycles(item.cycles, self.language)] if item.cycles is not None else []
            schedules = [self.schedule_of(d, d.phases[-1]) for d in written if d.phases]
            calendar = cal.cycle_calendar(f"cal-{item.span.line}", item.name.value, cycle, schedules, footer,
                                          self.language)
            if calendar is not None:
                table.calendars.append(calendar)
                self.pictures.append(("calendar", calendar.id, Markup("")))
        return Paragraph("p", escape(title), lead=True, children=children)

    def fractionation(self, line: m.Fractionation) -> str:
        language = self.language
        parts: list[str] = []
        if line.up_to and line.tolerance is not None:
            parts.append(f"{self.labels['up_to']} {w.tolerance(line.tolerance.value, language)}")
        elif line.up_to and line.total is not None:
            parts.append(f"{self.labels['up_to']} {w.number(line.total.value, language)} Gy")
        elif line.parts:
            parts.append(w.rt_course(line, language))  # lang-b: a course in parts (or a part with a volume)
        elif line.fractions is not None and line.dose_per_fraction is not None:
            fractions = w.number_range(line.fractions.value,
                                       line.fractions_max.value if line.fractions_max else None, language)
            per = w.number_range(line.dose_per_fraction.value,
                                 line.dose_per_fraction_max.value if line.dose_per_fraction_max else None,
                                 language)
            text = f"{fractions} × {per} Gy"
            if line.total is not None:
                text += f" = {w.number(line.total.value, language)} Gy"
            elif line.fractions_max is None and line.dose_per_fraction_max is None:
                text += f" = {w.number(line.fractions.value * line.dose_per_fraction.value, language)} Gy"
            parts.append(text)
        parts.extend(w.rt_sib(sib, language) for sib in line.sib)  # rt14: simultaneous integrated boosts
        if line.site is not None:
            parts.append(f"{self.labels['site']} {line.site.value}")
        if line.technique is not None:
            parts.append(f"{self.labels['technique']} {line.technique.value}")
        if line.laterality is not None:
            parts.append(w.laterality(line.laterality, language))
        if line.per_week is not None:
            low, high = line.per_week
            parts.append(f"{w.number_range(low.value, high.value if high else None, language)} "
                         f"{self.labels['per_week']}")
        return ", ".join(parts)

    def constraint(self, item: m.Item) -> Constraint:
        language = self.language
        if isinstance(item, m.OnlyWhen):
            return Constraint("constraint", "only", f"{self.labels['only_when']} "
                                                    f"{w.condition(item.condition, language)}.")
        if isinstance(item, m.ExcludeWhen):
            return Constraint("constraint", "exclude", f"{self.labels['exclude_when']} "
                                                       f"{w.condition(item.condition, language)}.")
        assert isinstance(item, m.WithConstraint)
        key = {"preferably": "preferably_with", "only": "only_with", "not": "not_with"}[item.kind]
        targets = w.joined((t.value for t in item.targets), language, "or")
        return Constraint("constraint", item.kind, f"{self.labels[key]} {targets}.")

    # ------------------------------------------------------------ grouping
    def blocks(self, items: Sequence[m.Item]) -> list[Block]:
        """Sibling items → blocks, grouping paragraphs, lists and drug tables."""
        out: list[Block] = []
        index = 0
        while index < len(items):
            item = items[index]
            if _drug_of(item) is not None:
                rows: list[DrugRow] = []
                drug_lines: list[m.DrugLine] = []
                while index < len(items) and (line := _drug_of(items[index])) is not None:
                    current = items[index]
                    children = current.children + (line.children if current is not line else ())
                    rows.append(self.drug_row(line, children))
                    drug_lines.append(line)
                    index += 1
                out.append(self.drug_pictures(DrugTable("drugs", rows), drug_lines))
                continue
            if isinstance(item, m.Bullet):
                entries: list[ListEntry] = []
                while index < len(items) and isinstance(items[index], m.Bullet) \
                        and _drug_of(items[index]) is None:
                    bullet = items[index]
                    assert isinstance(bullet, m.Bullet)
                    entries.append(self.bullet(bullet))
                    index += 1
                out.append(BulletList("ul", entries))
                continue
            if isinstance(item, m.Prose) and not item.children:
                lines = [item.text]
                last = item.span.end_line
                index += 1
                while index < len(items) and isinstance(nxt := items[index], m.Prose) \
                        and not nxt.children and nxt.span.line == last + 1:
                    lines.append(nxt.text)
                    last = nxt.span.end_line
                    index += 1
                text = " ".join(w.squash(x) for x in lines)
                out.append(Paragraph("p", self.inline(text), lead=len(lines) == 1 and text.endswith(":")))
                continue
            if isinstance(item, m.Decision):
                out.append(self.decision(item))
            elif isinstance(item, m.When):
                out.append(Branch("branch", f"{self.labels['if']} {w.condition(item.condition, self.language)}:",
                                  self.blocks(item.children)))
            elif isinstance(item, m.Otherwise):
                out.append(Branch("branch", f"{self.labels['otherwise']}:", self.blocks(item.children)))
            else:
                out.extend(self.single(item))
            index += 1
        return out

    def single(self, item: m.Item) -> Iterator[Block]:
        """One item that is not grouped with its neighbours."""
        if isinstance(item, m.Prose):
            yield Paragraph("p", self.inline(w.squash(item.text)), lead=True, children=self.blocks(item.children))
        elif isinstance(item, m.RegimenLine):
            yield self.regimen(item)
        elif isinstance(item, m.PhaseLine):
            yield self.phase(item)
        elif isinstance(item, m.Fractionation):
            yield RadiotherapyLine("rt", self.fractionation(item), self.blocks(item.children))
        elif isinstance(item, (m.OnlyWhen, m.ExcludeWhen, m.WithConstraint)):
            yield self.constraint(item)
            yield from self.blocks(item.children)
        elif isinstance(item, m.Note):
            yield Callout("note", self.labels["note"],
                          self.inline(item.text.value) if item.text is not None else None,
                          self.blocks(item.children))
        elif isinstance(item, m.Query):
            yield Callout("query", self.labels["query"],
                          self.phrase(item.text.value) if item.text is not None else None,
                          self.blocks(item.children))
        elif isinstance(item, m.OarConstraint):  # rt14: under its rt line
            yield Paragraph("p", Markup(f'<span class="oar">{escape(w.label(self.language, "oar_constraint"))}: '
                                        f'{escape(w.oar_constraint(item, self.language))}</span>'),
                            children=self.blocks(item.children))
        elif isinstance(item, m.Allow):
            yield Allowance("allow", item.code.value,
                            item.justification.value.strip('"') if item.justification is not None else "")
        elif isinstance(item, m.Bullet):
            yield BulletList("ul", [self.bullet(item)])
        elif isinstance(item, (m.Criteria, m.DoseModification, m.DoseLevels)):
            yield self.lab_table(item)
        else:
            yield from self.blocks(item.children)

    # ------------------------------------------------------------ lab criteria, dose modification
    def lab_table(self, item: m.Criteria | m.DoseModification | m.DoseLevels) -> LabTable:
        """A criteria block, dose-modification table or dose-levels list as a table; notes and queries below."""
        labels = self.labels
        rows: list[tuple[str, str]] = []
        others = [c for c in item.children if not isinstance(c, (m.Criterion, m.DoseBand, m.DoseLevel))]
        nested = [g for c in item.children if isinstance(c, (m.Criterion, m.DoseBand, m.DoseLevel))
                  for g in _row_notes(c)]
        if isinstance(item, m.Criteria):
            for criterion in item.criteria():
                rows.append(self.criterion_row(criterion.condition))
            table = LabTable("criteria", labels["criteria"], (labels["criterion"], labels["band"]), rows)
        elif isinstance(item, m.DoseLevels):
            name = self.tall(item.drug.value)
            for level in item.levels():
                rows.append((f"{labels['level']} {str(level.level).replace('-', '−')}", w.dose(level.dose, self.language)))
            table = LabTable("levels", f"{labels['dose_levels']} {name}", (labels["level"].capitalize(), labels["dose"]),
                             rows)
        else:
            table = self.modification(item)
        table.children = self.blocks(tuple(others) + tuple(nested))
        return table

    def criterion_row(self, condition: m.Condition) -> tuple[str, str]:
        """`ANC` | `≥ 1,5 ×10⁹/L` for a comparison; the whole condition in words otherwise."""
        if isinstance(condition, m.Compare) and condition.number is not None:
            shown = w.condition(condition, self.language)
            label = w.condition(dataclasses.replace(condition, op="="), self.language).split(" = ")[0]
            return self.variable_label(condition.variable), shown[len(label):].strip()
        return w.condition(condition, self.language), ""

    def variable_label(self, written: str) -> str:
        """A lab variable's name in the document language (`trombocyten`); other names as written."""
        from compiler.conditions import find_variable
        from compiler.labs import lab_variables

        variable = find_variable(written, self.tables)
        lab = lab_variables(self.tables).get(variable or "")
        return lab.label(self.language) if lab is not None else written

    def modification(self, item: m.DoseModification) -> LabTable:
        labels = self.labels
        name = self.tall(item.drug.value)
        title = f"{labels['dose_modification']} {name}"
        grade = item.variable is not None and "grade" in item.variable.value.lower()
        if item.variable is not None:
            title += f" {labels['by']} {'nadir ' if item.nadir else ''}" \
                     f"{self.variable_label(item.variable.value) if grade else item.variable.value}"
            if item.unit is not None:
                title += f" ({w.lab_unit(item.unit.value)})"
        levels = self.dose_levels.get(item.drug.value.lower(), {})
        rows: list[tuple[str, str]] = []
        for band in item.bands():
            grade_row = grade or (band.variable is not None and band.variable.value.lower() in ("grade", "graad"))
            shown = w.band(band.condition, self.language, grade_row)
            occurrences = band.occurrences()
            if not occurrences:
                rows.append((shown, self.band_actions(band.actions, levels)))
            for occurrence in occurrences:  # one row per occurrence: a nurse counts down the rows
                rows.append((f"{shown}, {w.occurrence(occurrence.number, occurrence.and_later, self.language)}",
                             self.band_actions(occurrence.actions, levels)))
        return LabTable("modification", title, (labels["band"], labels["action"]), rows)

    def band_actions(self, actions: tuple[m.DoseAction, ...], levels: dict[int, str]) -> str:
        texts = [w.dose_action(a, self.language, levels.get(a.level) if a.level is not None else None)
                 for a in actions]
        return w.sequence(actions, texts, self.language)

    def bullet(self, bullet: m.Bullet) -> ListEntry:
        content = bullet.content
        if content is None:
            return ListEntry(None, self.blocks(bullet.children))
        if isinstance(content, m.Prose):
            return ListEntry(self.inline(w.squash(content.text)), self.blocks(content.children + bullet.children))
        if isinstance(content, m.Fractionation):
            return ListEntry(escape(self.fractionation(content)), self.blocks(content.children + bullet.children))
        return ListEntry(None, self.blocks((content, *bullet.children)))

    def decision(self, item: m.Decision) -> DecisionBlock | DecisionTable:
        title = self.labels["decision"]
        if item.title is not None:
            title += f": {self.tall_text(item.title.value)}"
        marks = self.decision_marks(item)
        rows: list[DecisionRow] = []
        for branch in item.children:
            if not isinstance(branch, (m.When, m.Otherwise)) or len(branch.children) != 1:
                break
            label = (w.condition(branch.condition, self.language) if isinstance(branch, m.When)
                     else self.labels["otherwise"])
            only = branch.children[0]
            line = _drug_of(only)
            if line is not None and not only.children and not line.children:
                rows.append(DecisionRow(label, self.drug_row(line, ()), None))
            elif isinstance(only, m.Prose) and not only.children:
                rows.append(DecisionRow(label, None, self.inline(w.squash(only.text))))
            else:
                break
        else:
            if sum(1 for r in rows if r.row is not None) >= 2 and len(rows) >= 3:
                return DecisionTable("decision-table", title, rows,
                                     self.chart(item) if not self.inside_decision else None, marks)
        # a decision inside another decision is drawn in the outer one's chart
        chart = self.chart(item) if not self.inside_decision else None
        self.inside_decision += 1
        children = self.blocks(item.children)
        self.inside_decision -= 1
        return DecisionBlock("decision", title, children, chart, marks)

    def decision_marks(self, item: m.Decision) -> list[str]:
        """The chart's gap and overlap marks as lines of text (the printed sheet shows the text, not the chart)."""
        if self.chart_context is None:
            return []
        out: list[str] = []
        for mark in self.chart_context.marks.get(item.span.line, ()):
            key = "not_covered" if mark.kind == "gap" else "overlaps"
            out.append(f"{'' if mark.kind == 'gap' else '⚠ '}{self.labels[key]}: {mark.text}")
        return out

    # ------------------------------------------------------------ pictures
    def chart(self, item: m.Decision) -> flowchart.Chart | None:
        """The flowchart of a decision (None when the builder has no chart context)."""
        if self.chart_context is None:
            return None
        chart = flowchart.render_chart(item, self.chart_context)
        self.pictures.append(("flowchart", chart.id, chart.svg))
        return chart

    def chart_drug_name(self, line: m.DrugLine) -> str:
        if line.drug_id is not None:
            return self.tall_text(self.tables.drug_name(line.drug_id, self.language))
        return self.tall_text(line.name.value)

    def chart_drug_detail(self, line: m.DrugLine) -> str:
        row = self.drug_row(line, ())
        return " ".join(p for p in (f" {self.labels['then']} ".join(row.doses), row.route) if p)

    def chart_regimen_detail(self, line: m.RegimenLine) -> str:
        written = [d for d in (_drug_of(c) for c in line.children) if d is not None]
        if written:
            names = [self.chart_drug_name(d) for d in written]
        else:
            entry = self.tables.regimens.get(line.regimen_id or "") if line.regimen_id else None
            names = [self.tall_text(self.tables.drug_name(str(d.get("drug") or ""), self.language))
                     for d in (entry or {}).get("drugs") or []]
        return " + ".join(dict.fromkeys(names))

    def schedule_of(self, line: m.DrugLine, phase: m.Phase) -> cal.DrugSchedule:
        """A calendar row for a written drug line (its last phase: what repeats)."""
        days = cal.phase_days(phase)
        continuous = days is None and cal.phase_is_continuous(phase)
        own = None
        if days is None and not continuous and phase.frequency is not None:
            own = f"{w.frequency(phase.frequency, self.language)} ({self.labels['own_interval']})"
        notes = []
        if days is not None and phase.frequency is not None:
            notes.append(w.frequency(phase.frequency, self.language))
        if phase.time is not None:
            notes.append(w.time_of_day(phase.time, self.language))
        dose = w.dose(phase.dose, self.language) if phase.dose is not None else ""
        route = w.route(phase.route.code, self.language) if phase.route is not None else (
            w.route(line.route.code, self.language) if line.route is not None else "")
        return cal.DrugSchedule(self.chart_drug_name(line), flowchart.anchor(line), dose, route, days, continuous,
                                own, notes)

    def library_schedule(self, drug: dict[str, Any]) -> cal.DrugSchedule:
        row = self.regimen_drug_row(drug)
        days = cal.expand_days(drug.get("days")) if drug.get("days") else None
        frequency = str(drug.get("frequency") or "")
        continuous = days is None and frequency in ("daily", "twice daily", "three times daily")
        own = None
        if days is None and not continuous and frequency:
            own = f"{self.data_frequency(frequency)} ({self.labels['own_interval']})"
        notes: list[str] = []
        if frequency and (days is not None or continuous):
            notes.append(self.data_frequency(frequency))
        loading = drug.get("loading")
        if isinstance(loading, dict) and loading.get("dose") is not None:
            notes.append(f"{self.labels['cycle1']}: {_data_amount(loading['dose'], self.language)} "
                         f"{w.unit(str(loading.get('unit') or ''), self.language)} ({self.labels['loading']})")
        if drug.get("cycles"):
            notes.append(self.labels["only_cycles"].format(n=int(drug["cycles"])))
        return cal.DrugSchedule(row.name, None, row.doses[-1] if row.doses else "", row.route, days, continuous, own,
                                notes)

    def course_footer(self, line: m.RegimenLine | None, entry: dict[str, Any] | None) -> list[str]:
        footer: list[str] = []
        cycles = line.cycles if line is not None and line.cycles is not None else (
            int(entry["cycles"]) if entry is not None and entry.get("cycles") else None)
        if cycles is not None:
            footer.append(w.cycles(cycles, self.language))
        if line is not None and line.until is not None:
            footer.append(w.until(line.until.value, self.language))
        elif entry is not None and entry.get("until_progression"):
            footer.append(w.until("progression", self.language))
        if line is not None and line.max_duration is not None:
            footer.append(w.max_duration(line.max_duration, self.language))
        elif entry is not None and entry.get("max_duration_months"):
            footer.append(w.max_duration(m.Duration(int(entry["max_duration_months"]), "month", _NO_SPAN),
                                         self.language))
        return footer

    def regimen_pictures(self, line: m.RegimenLine,
                         entry: dict[str, Any] | None) -> tuple[cal.CycleCalendar | None, Markup | None]:
        """The cycle calendar and course timeline of a regimen line."""
        written = [d for d in (_drug_of(c) for c in line.children) if d is not None]
        cycle = cal.duration_days(line.cycle_length) if line.cycle_length is not None else (
            int(entry["cycle_days"]) if entry is not None and entry.get("cycle_days") else None)
        if written:
            cycle = cycle or next((c for d in written for p in d.phases if (c := cal.phase_cycle(p))), None)
            schedules = [self.schedule_of(d, p) for d in written for p in _calendar_phases(d)]
        elif entry is not None:
            schedules = [self.library_schedule(d) for d in entry.get("drugs") or []]
        else:
            schedules = []
        calendar = None
        if cycle is not None:
            calendar = cal.cycle_calendar(f"cal-{line.span.line}", self.tall_text(line.name.value), cycle, schedules,
                                          self.course_footer(line, entry), self.language)
        if calendar is not None:
            self.pictures.append(("calendar", calendar.id, Markup("")))
        lanes: list[cal.Lane] = []
        if written:
            lanes = [self.drug_lane(d) for d in written if _needs_course(d)]
        elif entry is not None:
            drugs = entry.get("drugs") or []
            max_weeks = cal.duration_weeks(line.max_duration) if line.max_duration is not None else (
                float(entry["max_duration_months"]) * cal.WEEKS_PER_MONTH if entry.get("max_duration_months")
                else None)
            has_loading = any(isinstance(d.get("loading"), dict) for d in drugs)
            if has_loading or max_weeks is not None:
                lanes = cal.library_lanes(entry, lambda d: self.tall_text(self.tables.drug_name(d, self.language)),
                                          self.library_dose, line.cycles or entry.get("cycles"), max_weeks,
                                          self.language)
        return calendar, self.timeline(f"course-{line.span.line}", line.name.value, lanes)

    def library_dose(self, drug: dict[str, Any]) -> str:
        row = self.regimen_drug_row(drug)
        return " ".join(p for p in (row.doses[-1] if row.doses else "", row.route, row.schedule) if p)

    def drug_lane(self, line: m.DrugLine) -> cal.Lane:
        def phase_text(phase: m.Phase) -> str:
            parts = [w.dose(phase.dose, self.language) if phase.dose is not None else "",
                     w.route(phase.route.code, self.language) if phase.route is not None else "",
                     w.phase_schedule(phase, self.language)]
            return " ".join(p for p in parts if p)

        return cal.drug_lane(line, self.chart_drug_name(line), flowchart.anchor(line), phase_text, 26 * 7,
                             self.language)

    def timeline(self, timeline_id: str, title: str, lanes: list[cal.Lane]) -> Markup | None:
        if not lanes:
            return None
        body, _ = cal.timeline_svg(timeline_id, f"{self.labels['timeline']}: {title}", lanes, self.language)
        self.pictures.append(("timeline", timeline_id, body))
        return body

    def drug_pictures(self, table: DrugTable, lines: list[m.DrugLine]) -> DrugTable:
        """Calendars of cyclic drug lines and the course timeline of a drug table (not inside a regimen)."""
        if self.inside_regimen:
            return table
        for line in lines:
            phase = next((p for p in line.phases if cal.phase_cycle(p) is not None), None)
            if phase is None:
                continue
            cycle = cal.phase_cycle(phase)
            assert cycle is not None
            footer: list[str] = []
            if phase.cycles is not None:
                footer.append(w.cycles(phase.cycles, self.language))
            if phase.until is not None:
                footer.append(w.until(phase.until.value, self.language))
            if line.max_duration is not None:
                footer.append(w.max_duration(line.max_duration, self.language))
            calendar = cal.cycle_calendar(f"cal-{line.span.line}", self.chart_drug_name(line), cycle,
                                          [self.schedule_of(line, phase)], footer, self.language)
            if calendar is not None:
                table.calendars.append(calendar)
                self.pictures.append(("calendar", calendar.id, Markup("")))
        lanes = [self.drug_lane(line) for line in lines if _needs_course(line)]
        if lanes:
            first = lines[0]
            names = ", ".join(dict.fromkeys(lane.name for lane in lanes))
            table.timeline = self.timeline(f"course-{first.span.line}", names, lanes)
        return table

    def rt_table(self, section: m.Section) -> cal.RtTable | None:
        """The fractionation table of a section's own schemes, grouped by the indication they stand under."""
        rt = self.tables.rt_schemes
        # lang-b: the first BED/EQD2 pair uses the α/β R003 uses for the row's site (shown per row);
        # the second, late-responding tissue (α/β 3 Gy), for every row alike.
        late = [(v, t) for v, t in cal.alpha_beta_values(rt) if t.startswith("late")]
        limits = rt.get("limits") or {}
        lq_limit = limits.get("lq_note_above_dose_per_fraction_gy")
        limit = Decimal(str(lq_limit)) if lq_limit is not None else None
        groups: list[cal.RtGroup] = []

        def site_alpha_beta(node: m.Fractionation) -> Decimal:
            info = radiobiology.site_info(node.site.value if node.site else None, self.tables)
            cord_itself = "spinal cord" in info.organs and "spine" not in info.organs
            value = radiobiology.alpha_beta(self.tables, info.indications,
                                            "spinal cord" if cord_itself else None).value
            return Decimal(value.numerator) / Decimal(value.denominator)

        def rows_of(node: m.Fractionation) -> list[cal.RtRow]:
            site_ab = site_alpha_beta(node)
            values = [site_ab, *(v for v, _ in late)]
            singles = radiobiology.course_parts(node) if len(node.parts) > 1 else [node]
            out: list[cal.RtRow] = []
            for single in singles:
                row = cal.rt_row(single, values, limit, self.language)
                if row is None:
                    row = cal.RtRow(self.fractionation(single), "—", "", ["—"] * (2 * len(values)), False)
                if single.course_part is not None:
                    part = node.parts[single.course_part - 1]
                    label = self.labels["boost"] if part.boost else f"{self.labels['rt_part']} {single.course_part}"
                    row.site = ", ".join(p for p in (label, part.volume.value if part.volume else "", row.site) if p)
                row.alpha_beta = w.number(site_ab, self.language)
                out.append(row)
            for sib_view, sib in zip(radiobiology.sib_views(node), node.sib, strict=True):  # rt14: one row per SIB
                row = cal.rt_row(sib_view, values, limit, self.language)
                if row is None:
                    continue
                row.site = ", ".join(p for p in ("SIB", sib.volume.value if sib.volume else "", row.site) if p)
                row.alpha_beta = w.number(site_ab, self.language)
                out.append(row)
            if len(node.parts) > 1 and all(r.values and r.values[0] != "—" for r in out):
                sums: list[Decimal] = []
                for ab in values:  # exact sums (as R003), rounded once
                    exact_ab = radiobiology.exact(ab)
                    parts = [(radiobiology.exact(p.fractions.value), radiobiology.exact(p.dose_per_fraction.value))
                             for p in node.parts]
                    sums.append(Decimal(radiobiology.shown(sum((radiobiology.bed(n, d, exact_ab) for n, d in parts),
                                                               Fraction(0)))))
                    sums.append(Decimal(radiobiology.shown(sum((radiobiology.eqd2(n, d, exact_ab) for n, d in parts),
                                                               Fraction(0)))))
                total = node.total.value if node.total is not None else sum(
                    (p.fractions.value * p.dose_per_fraction.value for p in node.parts), Decimal(0))
                out.append(cal.RtRow(self.labels["rt_course"], f"{w.number(total, self.language)} Gy",
                                     ", ".join(p for p in (node.site.value if node.site else "",
                                                           node.technique.value if node.technique else "",
                                                           node.laterality.value if node.laterality else "") if p),
                                     [w.number(v, self.language) for v in sums], False,
                                     w.number(site_ab, self.language)))
            return out

        def walk(items: Sequence[m.Item], label: str) -> None:
            for item in items:
                node = item.content if isinstance(item, m.Bullet) and item.content is not None else item
                if isinstance(node, m.Fractionation):
                    for row in rows_of(node):
                        if groups and groups[-1].indication == label:
                            groups[-1].rows.append(row)
                        else:
                            groups.append(cal.RtGroup(label, [row]))
                    continue
                inner = label
                if isinstance(node, m.Prose):
                    inner = w.squash(node.text).rstrip(":").strip()
                walk(node.children + (item.children if node is not item else ()), inner)

        walk(section.items, "")
        if not groups:
            return None
        tissues = [(self.labels["ab_site"], self.labels["ab_site_tissue"])] + [
            (f"{self.labels['alpha_beta']} = {w.number(v, self.language)} Gy", self.labels["ab_late"]) for v, _ in late]
        note = self.labels["lq_unreliable"].format(d=w.number(limit, self.language)) if limit is not None and any(
            r.lq_warning for g in groups for r in g.rows) else None
        table = cal.RtTable(f"rt-{section.id}", tissues, groups, note)
        self.pictures.append(("rt", table.id, Markup("")))
        return table

    def section(self, section: m.Section) -> SectionView:
        heading = f"h{min(section.level + 1, 6)}"
        return SectionView(section.id, section.number, section.title, heading, self.blocks(section.items),
                           [self.section(s) for s in section.subsections], self.rt_table(section))


def _drug_of(item: m.Item) -> m.DrugLine | None:
    if isinstance(item, m.DrugLine):
        return item
    if isinstance(item, m.Bullet) and isinstance(item.content, m.DrugLine):
        return item.content
    return None


def _needs_course(line: m.DrugLine) -> bool:
    """A drug line whose course is worth a timeline: loading → maintenance, or a limited duration."""
    return (len(line.phases) > 1 or line.max_duration is not None
            or any(p.for_duration is not None for p in line.phases))


def _data_amount(value: Any, language: str) -> str:
    """A dose from the data tables: a number or a [low, high] range."""
    if isinstance(value, list) and value:
        high = Decimal(str(value[-1])) if len(value) > 1 else None
        return w.number_range(Decimal(str(value[0])), high, language)
    return w.number(Decimal(str(value)), language)




def _text_patterns(tables: Tables, tallman: dict[str, str]) -> tuple[re.Pattern[str], re.Pattern[str] | None]:
    """Drug names and doses that must stay on one line, and the look-alike names to print in tall-man letters."""
    names: set[str] = set(tallman)
    for drug_id, entry in tables.drugs.items():
        names.add(drug_id.replace("_", " "))
        for name in (entry.get("names") or {}).values():
            if isinstance(name, str) and len(name) > 3:
                names.add(name.lower())
    ordered = sorted(names, key=len, reverse=True)
    words = "|".join(re.escape(n) for n in ordered)
    unbreakable = re.compile(rf"(?<![\w-])(?:{words})(?:e|um)?(?!\w)|{DOSE_IN_TEXT}", re.IGNORECASE)
    if not tallman:
        return unbreakable, None
    tall = "|".join(re.escape(n) for n in sorted(tallman, key=len, reverse=True))
    # lower-case (or capitalised) occurrences only: a name an author already wrote in capitals is left alone
    return unbreakable, re.compile(rf"(?<![\w])(?i:{tall})(?:e|um)?(?!\w)")


def _tallman_forms(tables: Tables) -> dict[str, str]:
    """lower-case generic name → tall-man form, from data/tallman.yaml."""
    forms: dict[str, str] = {}
    for entry in tables.tallman:
        form = entry.get("tallman")
        if isinstance(form, str) and form:
            forms[form.lower()] = form
    return forms


def _is_approved(meta: m.Metadata) -> bool:
    return meta.status in (m.Status.APPROVED, m.Status.SUPERSEDED) and meta.approved is not None


def _date(value: datetime.date | None, language: str) -> str:
    if value is None:
        return ""
    return value.strftime("%d-%m-%Y") if language == "nl" else value.isoformat()


def build_view(protocol: m.Protocol, diagnostics: Sequence[Diagnostic], tables: Tables) -> ProtocolView:
    """The printable view of a checked protocol."""
    language = w.language_of(protocol)
    labels = w.LABELS[language]
    meta = protocol.meta
    numbers = {s.id: s.number for s in protocol.all_sections()}
    builder = _Builder(tables, language, numbers, _tallman_forms(tables))
    builder.unbreakable, builder.tall_pattern = _text_patterns(tables, builder.tallman)
    for item in protocol.all_items():
        if isinstance(item, m.DoseLevels):
            builder.dose_levels.setdefault(item.drug.value.lower(), {}).update(
                {level.level: w.dose(level.dose, language) for level in item.levels()})
    sections = {s.id: (s.number, s.title, tuple(sub.id for sub in s.subsections)) for s in protocol.all_sections()}
    builder.chart_context = flowchart.ChartContext(
        language, sections, builder.chart_drug_name, builder.chart_drug_detail, builder.chart_regimen_detail,
        flowchart.coverage_marks(protocol, tables, language), builder.tall_text)
    version = str(meta.version) if meta.version is not None else "?"
    status = (meta.status or m.Status.DRAFT).value
    control: list[tuple[str, str]] = [
        (labels["id"], meta.id.value if meta.id else ""),
        (labels["version"], version),
        (labels["status"], w.status_label(language, meta.status)),
        (labels["owner"], meta.owner.value if meta.owner else ""),
        (labels["author"], meta.author.value if meta.author else ""),
        (labels["reviewer"], meta.reviewer.value if meta.reviewer else ""),
        # who approves reads as "approved by" only once the register (status and date) says so
        (labels["approver"] if _is_approved(meta) else labels["to_approve"],
         meta.approver.value if meta.approver else ""),
        (labels["authored"], _date(meta.authored, language)),
        (labels["approved"], _date(meta.approved, language) if _is_approved(meta) else ""),
        (labels["next_review"], _date(meta.next_review, language)),
    ]
    findings = [
        FindingView(d.code, d.severity.value, labels.get(d.severity.value, d.severity.value), d.span.line,
                    i18n.message(d.message, language), i18n.message(d.hint, language) if d.hint else d.hint,
                    d.acknowledged)
        for d in diagnostics
    ]
    counts = {
        "errors": sum(1 for d in diagnostics if d.severity.value == "error" and d.acknowledged is None),
        "warnings": sum(1 for d in diagnostics if d.severity.value == "warning" and d.acknowledged is None),
        "infos": sum(1 for d in diagnostics if d.severity.value == "info" and d.acknowledged is None),
        "acknowledged": sum(1 for d in diagnostics if d.acknowledged is not None),
    }
    pid = meta.id.value if meta.id else ""
    return ProtocolView(
        language=language, labels=labels, title=meta.title.value if meta.title else pid,
        id=pid, version=version, status=status, status_label=w.status_label(language, meta.status),
        watermark_word=watermark_word(w.status_label(language, meta.status)),
        approved=meta.status == m.Status.APPROVED, sha256=protocol.sha256,
        validity=labels["validity"].format(version=version),
        control=[(k, v) for k, v in control if v], references=[r.value for r in meta.references],
        scope=meta.scope.value if meta.scope else None,
        change_note=meta.change_note.value if meta.change_note else None,
        preamble=builder.blocks(protocol.preamble), sections=[builder.section(s) for s in protocol.sections],
        findings=findings, counts=counts,
        keywords=identity_keywords(pid, version, status, protocol.sha256),
        extra={"pictures": builder.pictures}, next_review=_date(meta.next_review, language),
    )


def calendar_repeats_table(calendar: cal.CycleCalendar) -> bool:
    """A calendar whose every drug is given on day 1 only: on paper it repeats the table's "dag 1"."""
    for part in calendar.parts:
        for row in part.rows:
            if row.own_interval is not None or any(part.days[i] != 1 for i, mark in enumerate(row.marks) if mark):
                return False
    return True


def unsplit_words(name: str) -> Markup:
    """A name that may wrap between its words but never inside one (narrow calendar columns)."""
    return Markup(" ").join(Markup('<span class="nowrap">{}</span>').format(word) for word in name.split())


def unsplit(name: str) -> Markup:
    """A drug name or dose that must not be broken across lines (escaped).

    Names of one or two words stay on one line; longer names ("gepegyleerd liposomaal
    doxorubicine") may wrap between their words, never inside one (no hyphenation).
    """
    words = name.split()
    if len(words) <= 2:
        return Markup('<span class="nowrap">{}</span>').format(name)
    return Markup(" ").join(Markup('<span class="nowrap">{}</span>').format(word) for word in words)


def watermark_word(label: str) -> str:
    """The status label as capital ASCII letters for the watermark (`CONCEPT`, `REVIEW`)."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().upper()
    return "".join(ch for ch in plain if "A" <= ch <= "Z") or "DRAFT"


def identity_keywords(pid: str, version: str, status: str, sha256: str) -> str:
    """The identity string stored in the HTML and PDF metadata."""
    return f"protocolc:id={pid};version={version};status={status};sha256={sha256}"


def _calendar_phases(line: m.DrugLine) -> list[m.Phase]:
    """The phases a cycle calendar shows: every phase when they step through the days of one cycle
    (aprepitant 125 mg day 1 then 80 mg days 2-3), else the last one (what repeats after a loading dose).
    """
    if not line.phases:
        return []
    days = [set(p.days.days) if p.days is not None else None for p in line.phases]
    stepped = len(line.phases) > 1 and all(d for d in days) and all(
        not (a & b) for i, a in enumerate(days) for b in days[i + 1:] if a is not None and b is not None)
    return list(line.phases) if stepped else [line.phases[-1]]


def _row_notes(row: m.Item) -> tuple[m.Item, ...]:
    """The notes and queries under a table row, an occurrence row's own included (shown below the table)."""
    return tuple(g for c in row.children
                 for g in (c.children if isinstance(c, m.Occurrence) else (c,)))
