"""The clinical diff: what changed between two resolved protocols, in clinical terms.

Both models are reduced to *facts* that carry no spans and no source notation: a drug
line becomes its drug id and its dose, route and schedule as the sheet prints them in
the document's language; a fractionation becomes `5 × 4 Gy = 20 Gy`; prose becomes the
squashed text of each paragraph. Facts are compared per section (by section id) and per
branch (the conditions of the enclosing `when`s), so reformatting, reordering white
space, a `2.5` written as `2,5`, a name written in Dutch instead of English, and
comments are no change at all.

Every change is classed: **clinical** (drug, dose, unit, route, schedule, infusion,
form, conditions, branches, regimens, fractionations) or **editorial** (text, titles,
brand names, metadata, notes and queries).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from compiler import model as m
from compiler.render import words
from compiler.tables import Tables, normalise

CLINICAL, EDITORIAL = "clinical", "editorial"

TERMS: dict[str, dict[str, str]] = {
    "nl": {
        "added": "toegevoegd", "removed": "verwijderd", "branch": "tak", "otherwise": "anders",
        "rt": "radiotherapie", "text_changed": "tekst gewijzigd in", "title": "titel", "section": "sectie",
        "moved": "verplaatst", "clinical": "klinisch", "editorial": "redactioneel", "metadata": "Metadata",
        "dose": "dosis", "route": "toediening", "frequency": "interval", "days": "toedieningsdagen",
        "cycle_length": "cyclusduur", "on_off": "op/af-schema", "continuous": "continu", "cycles": "aantal cycli",
        "for": "duur", "until": "stopregel", "use": "gebruik", "time": "tijdstip",
        "infusion": "infuus", "max": "maximale duur", "form": "vorm",
        "brand": "merknaam", "conditions": "voorwaarden", "scheme": "fractionering", "technique": "techniek",
        "per_week": "frequentie", "tolerance": "tolerantie", "then": "daarna", "condition": "voorwaarde",
        "regimen": "schema", "none": "—", "yes": "ja", "no": "nee", "preamble": "Inleiding",
        "only_when": "enkel indien", "exclude_when": "niet indien", "preferably": "bij voorkeur met",
        "only": "enkel met", "not": "niet met", "in": "in", "no_changes": "geen wijzigingen",
        "meta_title": "Titel", "meta_language": "Taal", "meta_id": "Id",
    },
    "en": {
        "added": "added", "removed": "removed", "branch": "branch", "otherwise": "otherwise",
        "rt": "radiotherapy", "text_changed": "text changed in", "title": "title", "section": "section",
        "moved": "moved", "clinical": "clinical", "editorial": "editorial", "metadata": "Metadata",
        "dose": "dose", "route": "route", "frequency": "interval", "days": "days", "cycle_length": "cycle length",
        "on_off": "on/off pattern", "continuous": "continuous", "cycles": "number of cycles", "for": "duration",
        "until": "stop rule", "use": "use", "time": "time of day",
        "infusion": "infusion", "max": "maximum duration", "form": "form", "brand": "brand",
        "conditions": "conditions", "scheme": "fractionation", "technique": "technique", "per_week": "frequency",
        "tolerance": "tolerance", "then": "then", "condition": "condition", "regimen": "regimen", "none": "—",
        "yes": "yes", "no": "no", "preamble": "Preamble", "only_when": "only when", "exclude_when": "not when",
        "preferably": "preferably with", "only": "only with", "not": "not with", "in": "in",
        "no_changes": "no changes", "meta_title": "Title", "meta_language": "Language", "meta_id": "Id",
    },
}

# lang-b (issue 14): words for administration details, phases and radiotherapy courses
TERMS["nl"].update({"administration": "toediening (tijdstip, verdunning)", "as_needed": "zo nodig",
                    "phase": "fase", "laterality": "zijde"})
TERMS["en"].update({"administration": "administration (timing, diluent)", "as_needed": "as needed",
                    "phase": "phase", "laterality": "side"})

# metadata compared by the diff; version, status, approver, approval date and change note
# change with every release and are shown in the header instead
META_FIELDS = ("id", "title", "language", "owner", "author", "reviewer", "authored", "next_review", "scope",
               "references")


def term(language: str, key: str) -> str:
    """A word of the diff in the document language."""
    return TERMS.get(language, TERMS["en"]).get(key, key)


@dataclass(frozen=True)
class Change:
    """One change, in clinical terms."""

    section: str
    heading: str
    change_class: str
    kind: str
    subject: str
    aspect: str = ""
    before: str | None = None
    after: str | None = None
    text: str = ""

    def as_json(self) -> dict[str, Any]:
        """The JSON shape of `diff --format json`."""
        return {"section": self.section, "heading": self.heading, "class": self.change_class, "kind": self.kind,
                "subject": self.subject, "aspect": self.aspect, "before": self.before, "after": self.after,
                "text": self.text}


@dataclass(frozen=True)
class Fact:
    """A span-free, notation-free statement of the sheet, as the reader sees it."""

    kind: str
    branch: tuple[str, ...]
    key: str
    subject: str
    fields: tuple[tuple[str, str, str], ...] = ()  # (aspect, value, class)
    summary: str = ""
    context: str = ""

    @property
    def values(self) -> tuple[tuple[str, str, str], ...]:
        """What must be equal for two facts to be the same."""
        return self.fields


@dataclass
class SectionFacts:
    """The facts of one section (not of its subsections)."""

    id: str
    heading: str
    title: str
    facts: list[Fact] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


class _Collector:
    def __init__(self, tables: Tables, language: str) -> None:
        self.tables = tables
        self.language = language

    # values as printed, in the document language
    def condition(self, condition: m.Condition) -> str:
        return words.condition(condition, self.language)

    def condition_key(self, condition: m.Condition) -> str:
        return normalise(words.condition(condition, "en"))

    def constraint(self, item: m.Item) -> tuple[str, str] | None:
        """(key, display) of a constraint line."""
        if isinstance(item, (m.OnlyWhen, m.ExcludeWhen)):
            kind = "only_when" if isinstance(item, m.OnlyWhen) else "exclude_when"
            return f"{kind}:{self.condition_key(item.condition)}", f"{term(self.language, kind)} {self.condition(item.condition)}"
        if isinstance(item, m.WithConstraint):
            targets = [tid or normalise(t.value) for t, tid in
                       zip(item.targets, item.target_ids or (None,) * len(item.targets), strict=False)]
            shown = [self.target_name(t, tid) for t, tid in
                     zip(item.targets, item.target_ids or (None,) * len(item.targets), strict=False)]
            kind = normalise(item.kind)
            label = term(self.language, kind)
            return f"{kind}:{','.join(sorted(targets))}", f"{label} {words.joined(shown, self.language)}"
        return None

    def target_name(self, text: m.Text, target_id: str | None) -> str:
        if target_id and target_id in self.tables.drugs:
            return self.tables.drug_name(target_id, self.language)
        return text.value

    def drug_name(self, line: m.DrugLine) -> str:
        if line.drug_id:
            return self.tables.drug_name(line.drug_id, self.language)
        return line.name.value

    def drug_fact(self, line: m.DrugLine, branch: tuple[str, ...], context: str) -> Fact:
        language = self.language
        out: list[tuple[str, str, str]] = []
        for index, phase in enumerate(line.phases):
            prefix = "" if index == 0 else f"{term(language, 'then')} {index}: " if len(line.phases) > 2 else (
                f"{term(language, 'then')}: ")
            parts: list[tuple[str, str | None]] = [
                ("dose", words.dose(phase.dose, language) if phase.dose else None),
                ("route", words.route(phase.route.code, language) if phase.route else None),
                ("frequency", words.frequency(phase.frequency, language) if phase.frequency else None),
                ("days", words.cycle_days(phase.days.days, language) if phase.days else None),
                ("cycle_length", words.period(phase.cycle_length.value, phase.cycle_length.unit, language)
                 if phase.cycle_length else None),
                ("on_off", f"{phase.on_off[0]}/{phase.on_off[1]}" if phase.on_off else None),
                ("continuous", term(language, "yes") if phase.continuous else None),
                ("cycles", str(phase.cycles) if phase.cycles is not None else None),
                ("for", words.period(phase.for_duration.value, phase.for_duration.unit, language)
                 if phase.for_duration else None),
                ("until", words.until(phase.until.value, language) if phase.until else None),
                ("time", words.time_of_day(phase.time, language) if phase.time else None),
                ("use", words.use(phase.use, language) if phase.use else None),
            ]
            out.extend((prefix + term(language, k), v, CLINICAL) for k, v in parts if v is not None)
        if line.infusion is not None:
            shown = words.infusion(line.infusion, language).split(" ", 1)[1]
            out.append((term(language, "infusion"), shown, CLINICAL))
        if line.max_duration is not None:
            out.append((term(language, "max"), words.period(line.max_duration.value, line.max_duration.unit, language),
                        CLINICAL))
        administration = [text for text in (
            words.relative_timing(line.timing, words.timing_target(line.timing, self.tables, language), language)
            if line.timing else None,
            words.method(line.method, language) if line.method else None,
            words.diluent(line.diluent, language) if line.diluent else None) if text]
        if administration:
            out.append((term(language, "administration"), ", ".join(administration), CLINICAL))
        if line.as_needed is not None or line.daily_max is not None:
            shown_prn = words.as_needed(line.as_needed, line.daily_max, language) if line.as_needed is not None \
                else words.daily_max(line.daily_max, language)  # type: ignore[arg-type]
            out.append((term(language, "as_needed"), shown_prn, CLINICAL))
        if line.form is not None:
            out.append((term(language, "form"), words.form(line.form, language), CLINICAL))
        if line.brand is not None:
            out.append((term(language, "brand"), line.brand.value, EDITORIAL))
        constraints = sorted(c[1] for c in (self.constraint(i) for i in line.children) if c is not None)
        if constraints:
            out.append((term(language, "conditions"), "; ".join(constraints), CLINICAL))
        key = line.drug_id or normalise(line.name.value)
        summary = ", ".join(v for a, v, c in out if c == CLINICAL and not a.startswith(term(language, "conditions")))
        return Fact("drug", branch, key, self.drug_name(line), tuple(out), summary, context)

    def cycle_data(self, line: m.RegimenLine | m.PhaseLine) -> list[tuple[str, str, str]]:
        """The cycle data of a regimen or a phase in words: frequency, cycle, cycles, until, maximum."""
        language = self.language
        parts: list[tuple[str, str | None]] = [
            ("frequency", words.frequency(line.frequency, language) if line.frequency else None),
            ("cycle_length", words.period(line.cycle_length.value, line.cycle_length.unit, language)
             if line.cycle_length else None),
            ("cycles", str(line.cycles) if line.cycles is not None else None),
            ("until", words.until(line.until.value, language) if line.until else None),
            ("max", words.period(line.max_duration.value, line.max_duration.unit, language)
             if line.max_duration else None),
        ]
        return [(term(language, k), v, CLINICAL) for k, v in parts if v is not None]

    def regimen_fact(self, line: m.RegimenLine, branch: tuple[str, ...], context: str) -> Fact:
        language = self.language
        out = self.cycle_data(line)
        constraints = sorted(c[1] for c in (self.constraint(i) for i in line.children) if c is not None)
        if constraints:
            out.append((term(language, "conditions"), "; ".join(constraints), CLINICAL))
        key = line.regimen_id or normalise(line.name.value)
        subject = f"{term(language, 'regimen')} {line.name.value}"
        return Fact("regimen", branch, key, subject, tuple(out), ", ".join(v for _, v, _ in out), context)

    def phase_fact(self, line: m.PhaseLine, branch: tuple[str, ...], context: str) -> Fact:
        """lang-b: a regimen phase and its cycle data."""
        language = self.language
        out = self.cycle_data(line)
        subject = f"{term(language, 'phase')} {line.name.value}"
        return Fact("phase", branch, normalise(line.name.value), subject, tuple(out), ", ".join(v for _, v, _ in out),
                    context)

    def rt_fact(self, line: m.Fractionation, branch: tuple[str, ...], context: str) -> Fact:
        language = self.language

        def rng(low: m.Number | None, high: m.Number | None) -> str:
            if low is None:
                return "?"
            return words.number_range(low.value, high.value if high else None, language)

        scheme = f"{rng(line.fractions, line.fractions_max)} × {rng(line.dose_per_fraction, line.dose_per_fraction_max)} Gy"
        if line.parts:
            scheme = words.rt_course(line, language)  # lang-b: a course in parts (total included)
        elif line.total is not None:
            scheme += f" = {'≤ ' if line.up_to else ''}{words.number(line.total.value, language)} Gy"
        out = [(term(language, "scheme"), scheme, CLINICAL)]
        if line.technique is not None:
            out.append((term(language, "technique"), line.technique.value, CLINICAL))
        if line.per_week is not None:
            low, high = line.per_week
            out.append((term(language, "per_week"),
                        f"{rng(low, high)} {words.label(language, 'per_week')}", CLINICAL))
        if line.tolerance is not None:
            out.append((term(language, "tolerance"), words.tolerance(line.tolerance.value, language), CLINICAL))
        if line.laterality is not None:
            out.append((term(language, "laterality"), words.laterality(line.laterality, language), CLINICAL))
        site = line.site.value if line.site else ""
        subject = f"{term(language, 'rt')} {site}".strip()
        return Fact("rt", branch, normalise(site), subject, tuple(out), scheme, context)

    def section(self, section_id: str, heading: str, title: str, items: Sequence[m.Item]) -> SectionFacts:
        facts = SectionFacts(section_id, heading, title)
        self.walk(items, (), "", facts, owner=False)
        return facts

    def walk(self, items: Sequence[m.Item], branch: tuple[str, ...], context: str, out: SectionFacts,
             owner: bool) -> None:
        paragraph: list[str] = []

        def flush() -> None:
            if paragraph:
                out.texts.append(words.squash(" ".join(paragraph)))
                paragraph.clear()

        for item in items:
            node: m.Item | None = item.content if isinstance(item, m.Bullet) else item
            if isinstance(item, m.Bullet):
                flush()
            if isinstance(node, m.Prose):
                if isinstance(item, m.Bullet):
                    out.texts.append("• " + words.squash(node.text))
                else:
                    paragraph.append(node.text)
                self.walk(item.children, branch, context, out, owner=False)
                continue
            flush()
            if node is None:
                self.walk(item.children, branch, context, out, owner=False)
            elif isinstance(node, m.DrugLine):
                out.facts.append(self.drug_fact(node, branch, context))
                self.walk(node.children, branch, context, out, owner=True)
            elif isinstance(node, m.RegimenLine):
                fact = self.regimen_fact(node, branch, context)
                out.facts.append(fact)
                inner = (*branch, f"regimen:{fact.key}")
                self.walk(node.children, inner, _join(context, fact.subject), out, owner=True)
            elif isinstance(node, m.Fractionation):
                out.facts.append(self.rt_fact(node, branch, context))
                self.walk(node.children, branch, context, out, owner=True)
            elif isinstance(node, m.Decision):
                if node.title is not None:
                    out.texts.append(words.squash(node.title.value))
                self.walk(node.children, branch, context, out, owner=False)
            elif isinstance(node, (m.When, m.Otherwise)):
                if isinstance(node, m.When):
                    key = self.condition_key(node.condition)
                    shown = self.condition(node.condition)
                else:
                    key, shown = "otherwise", term(self.language, "otherwise")
                out.facts.append(Fact("branch", branch, key, f"{term(self.language, 'branch')} {shown}",
                                      summary=shown, context=context))
                self.walk(node.children, (*branch, key), _join(context, shown), out, owner=False)
            elif isinstance(node, (m.OnlyWhen, m.ExcludeWhen, m.WithConstraint)):
                found = self.constraint(node)
                if found is not None and not owner:
                    out.facts.append(Fact("constraint", branch, found[0], found[1], summary=found[1], context=context))
            elif isinstance(node, (m.Note, m.Query)):
                label = "NOTA" if isinstance(node, m.Note) else "query"
                out.texts.append(f"{label}: {words.squash(node.text.value) if node.text else ''}")
                self.walk(node.children, branch, context, out, owner=False)
            elif isinstance(node, m.Allow):
                reason = node.justification.value if node.justification else ""
                out.texts.append(f"allow {node.code.value} {words.squash(reason)}")
            elif isinstance(node, m.PhaseLine):  # lang-b: a phase is a fact; its drugs are in its branch
                fact = self.phase_fact(node, branch, context)
                out.facts.append(fact)
                self.walk(node.children, (*branch, f"phase:{fact.key}"), _join(context, fact.subject), out, owner=True)
            else:
                self.walk(node.children, branch, context, out, owner=False)
        flush()


def _join(context: str, part: str) -> str:
    return f"{context} › {part}" if context else part


def collect(protocol: m.Protocol, tables: Tables, language: str) -> list[SectionFacts]:
    """The facts of every section, depth first (the preamble first, id "")."""
    collector = _Collector(tables, language)
    out = [collector.section("", term(language, "preamble"), "", protocol.preamble)]
    for section in protocol.all_sections():
        heading = f"{section.number} {section.title}".strip()
        out.append(collector.section(section.id, heading, section.title, section.items))
    return out


def _metadata(protocol: m.Protocol, language: str) -> dict[str, str]:
    meta = protocol.meta
    values: dict[str, str] = {}
    for name in META_FIELDS:
        value: Any = getattr(meta, name)
        if value is None or value == ():
            continue
        if isinstance(value, m.Text):
            values[name] = words.squash(value.value)
        elif isinstance(value, tuple):
            values[name] = " | ".join(words.squash(v.value) for v in value)
        elif hasattr(value, "isoformat"):
            values[name] = value.isoformat()
        else:
            values[name] = str(value)
    return values


def _meta_label(language: str, name: str) -> str:
    if f"meta_{name}" in TERMS.get(language, TERMS["en"]):
        return term(language, f"meta_{name}")
    return words.LABELS[language].get(name, name.replace("_", " ")) if language in words.LABELS else name


# ---------------------------------------------------------------- comparison


def diff_protocols(old: m.Protocol, new: m.Protocol, tables: Tables) -> list[Change]:
    """Every change from `old` to `new`, grouped by section (new order), in `new`'s language."""
    language = words.language_of(new)
    changes: list[Change] = []
    before_meta, after_meta = _metadata(old, language), _metadata(new, language)
    for name in META_FIELDS:
        a, b = before_meta.get(name), after_meta.get(name)
        if a != b:
            label = _meta_label(language, name)
            changes.append(Change("", term(language, "metadata"), EDITORIAL, "metadata", label, "", a, b,
                                  f"{label}: {a or term(language, 'none')} → {b or term(language, 'none')}"))
    old_sections = {s.id: s for s in collect(old, tables, language)}
    new_list = collect(new, tables, language)
    new_ids = [s.id for s in new_list]
    old_order = [sid for sid in old_sections if sid in set(new_ids)]
    new_order = [sid for sid in new_ids if sid in old_sections]
    moved = _moved(old_order, new_order)
    for section in new_list:
        previous = old_sections.get(section.id)
        if previous is None:
            changes.append(_section_change(section, language, added=True))
            empty = SectionFacts(section.id, section.heading, section.title)
            changes.extend(_compare_section(empty, section, language))
            continue
        if section.id in moved:
            changes.append(Change(section.id, section.heading, EDITORIAL, "section", section.heading, "", None, None,
                                  f"{term(language, 'section')} {section.heading}: {term(language, 'moved')}"))
        changes.extend(_compare_section(previous, section, language))
    for sid, section in old_sections.items():
        if sid not in set(new_ids):
            changes.append(_section_change(section, language, added=False))
            changes.extend(_compare_section(section, SectionFacts(sid, section.heading, section.title), language))
    return changes


def _moved(old_order: list[str], new_order: list[str]) -> set[str]:
    """Sections that left their relative order (outside the longest common subsequence)."""
    matcher = difflib.SequenceMatcher(a=old_order, b=new_order, autojunk=False)
    kept = {sid for block in matcher.get_matching_blocks() for sid in new_order[block.b:block.b + block.size]}
    return {sid for sid in new_order if sid not in kept}


def _section_change(section: SectionFacts, language: str, added: bool) -> Change:
    word = term(language, "added" if added else "removed")
    return Change(section.id, section.heading, EDITORIAL, "section", section.heading, "",
                  None if added else section.heading, section.heading if added else None,
                  f"{term(language, 'section')} {section.heading}: {word}")


def _compare_section(old: SectionFacts, new: SectionFacts, language: str) -> list[Change]:
    heading = new.heading if new.heading else old.heading
    out: list[Change] = []
    if old.title != new.title and old.title and new.title:
        out.append(Change(new.id, heading, EDITORIAL, "title", term(language, "title"), "", old.title, new.title,
                          f"{term(language, 'title')}: {old.title} → {new.title}"))
    renames = _branch_renames(old.facts, new.facts)
    old_facts = [_renamed(f, renames) for f in old.facts]
    for kind in ("branch", "constraint", "regimen", "phase", "drug", "rt"):  # phase: lang-b
        a = [f for f in old_facts if f.kind == kind]
        b = [f for f in new.facts if f.kind == kind]
        out.extend(_compare_facts(a, b, kind, new.id, heading, language, renames))
    if old.texts != new.texts:
        removed, added = _text_delta(old.texts, new.texts)
        number = heading.split(" ")[0] if heading and heading[0].isdigit() else heading
        out.append(Change(new.id, heading, EDITORIAL, "text", number, "", removed or None, added or None,
                          f"{term(language, 'text_changed')} {number}"))
    return out


def _text_delta(old: list[str], new: list[str]) -> tuple[str, str]:
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    removed: list[str] = []
    added: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed.extend(old[i1:i2])
            added.extend(new[j1:j2])
    return "\n".join(removed), "\n".join(added)


def _branch_renames(old: list[Fact], new: list[Fact]) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Branches whose condition changed in place: old path → new path (paired in order per parent)."""
    renames: dict[tuple[str, ...], tuple[str, ...]] = {}
    old_b = [f for f in old if f.kind == "branch"]
    new_b = [f for f in new if f.kind == "branch"]
    parents = {f.branch for f in old_b} | {f.branch for f in new_b}
    for parent in sorted(parents):
        a = [f.key for f in old_b if f.branch == parent]
        b = [f.key for f in new_b if f.branch == parent]
        gone = [k for k in a if k not in b]
        came = [k for k in b if k not in a]
        for before, after in zip(gone, came, strict=False):
            renames[(*parent, before)] = (*parent, after)
    # nested paths follow their parent's rename
    return renames


def _renamed(fact: Fact, renames: dict[tuple[str, ...], tuple[str, ...]]) -> Fact:
    path = fact.branch
    for length in range(len(path), 0, -1):
        target = renames.get(path[:length])
        if target is not None:
            path = (*target, *path[length:])
            break
    if path == fact.branch:
        return fact
    return Fact(fact.kind, path, fact.key, fact.subject, fact.fields, fact.summary, fact.context)


def _compare_facts(old: list[Fact], new: list[Fact], kind: str, section: str, heading: str, language: str,
                   renames: dict[tuple[str, ...], tuple[str, ...]]) -> Iterator[Change]:
    if kind == "branch":
        yield from _compare_branches(old, new, section, heading, language, renames)
        return
    groups: dict[tuple[tuple[str, ...], str], tuple[list[Fact], list[Fact]]] = {}
    for fact in old:
        groups.setdefault((fact.branch, fact.key), ([], []))[0].append(fact)
    for fact in new:
        groups.setdefault((fact.branch, fact.key), ([], []))[1].append(fact)
    for a, b in groups.values():
        a = list(a)
        b = list(b)
        for fact in list(b):  # identical facts first: a duplicate drug line elsewhere is no change
            twin = next((f for f in a if f.values == fact.values), None)
            if twin is not None:
                a.remove(twin)
                b.remove(fact)
        for before, after in zip(a, b, strict=False):
            yield from _field_changes(before, after, section, heading, language)
        for fact in a[len(b):]:
            yield _whole(fact, section, heading, language, added=False)
        for fact in b[len(a):]:
            yield _whole(fact, section, heading, language, added=True)


def _compare_branches(old: list[Fact], new: list[Fact], section: str, heading: str, language: str,
                      renames: dict[tuple[str, ...], tuple[str, ...]]) -> Iterator[Change]:
    old_keys = {(f.branch, f.key): f for f in old}
    new_keys = {(f.branch, f.key): f for f in new}
    reverse = {v: k for k, v in renames.items()}
    for fact in new:
        path = (*fact.branch, fact.key)
        if (fact.branch, fact.key) in old_keys:
            continue
        if path in reverse:
            was = reverse[path]
            before = next((f for f in old if (*f.branch, f.key) == was), None)
            old_shown = before.summary if before else was[-1]
            subject = f"{term(language, 'branch')} {old_shown}"
            yield Change(section, heading, CLINICAL, "branch", _label(subject, fact.context), term(language, "condition"),
                         old_shown, fact.summary,
                         f"{_label(subject, fact.context)}: {term(language, 'condition')} {old_shown} → {fact.summary}")
        else:
            yield _whole(fact, section, heading, language, added=True)
    for fact in old:
        if (fact.branch, fact.key) in new_keys or (*fact.branch, fact.key) in renames:
            continue
        yield _whole(fact, section, heading, language, added=False)


def _label(subject: str, context: str) -> str:
    return f"{subject} [{context}]" if context else subject


def _whole(fact: Fact, section: str, heading: str, language: str, added: bool) -> Change:
    word = term(language, "added" if added else "removed")
    subject = _label(fact.subject, fact.context)
    detail = f" ({fact.summary})" if fact.summary and fact.kind not in ("branch", "constraint") else ""
    return Change(section, heading, CLINICAL, fact.kind, subject, "", None if added else fact.summary,
                  fact.summary if added else None, f"{subject}{detail}: {word}")


def _field_changes(old: Fact, new: Fact, section: str, heading: str, language: str) -> Iterator[Change]:
    before = {a: (v, c) for a, v, c in old.fields}
    after = {a: (v, c) for a, v, c in new.fields}
    aspects = [a for a, _, _ in new.fields] + [a for a, _, _ in old.fields if a not in after]
    subject = _label(new.subject, new.context)
    none = term(language, "none")
    for aspect in aspects:
        b, a = before.get(aspect), after.get(aspect)
        if (b[0] if b else None) == (a[0] if a else None):
            continue
        klass = (a or b or ("", CLINICAL))[1]
        old_v, new_v = (b[0] if b else None), (a[0] if a else None)
        yield Change(section, heading, klass, new.kind, subject, aspect, old_v, new_v,
                     f"{subject}: {aspect} {old_v or none} → {new_v or none}")


def is_clinical(changes: Sequence[Change]) -> bool:
    """True when any change is clinical."""
    return any(c.change_class == CLINICAL for c in changes)


def change_class(changes: Sequence[Change]) -> str:
    """`clinical`, `editorial`, or `none` for a list of changes."""
    if not changes:
        return "none"
    return CLINICAL if is_clinical(changes) else EDITORIAL
