"""L: decision logic — conditions over declared variables."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from compiler import model as m
from compiler.checks import Context
from compiler.conditions import find_flag, find_variable, known_words, variables
from compiler.diagnostics import Diagnostic, Related, Severity, check
from compiler.labs import LabVariable, find_scale, lab_variables
from compiler.source import Span
from compiler.suggest import closest
from compiler.tables import Tables
from compiler.thresholds import (
    Analysis,
    DecisionAnalysis,
    Domain,
    Region,
    Translator,
    analyse,
    analyse_restrictions,
    describe_region,
    number_text,
    statement,
)

NUMERIC_KINDS = ("integer", "number", "percent")


def conditions(context: Context) -> Iterator[m.Condition]:
    """Every atomic condition (flags and comparisons) in the protocol."""
    return iter(context.memo("logic.atoms", _atoms))


_CONDITIONED = (m.When, m.OnlyWhen, m.ExcludeWhen, m.Criterion, m.DoseBand)


def _atoms(context: Context) -> list[m.Condition]:
    found: list[m.Condition] = []
    for item in context.of_types(_CONDITIONED):
        if isinstance(item, (m.When, m.OnlyWhen, m.ExcludeWhen, m.Criterion, m.DoseBand)):
            found.extend(m.condition_atoms(item.condition))
    return found


@check("L004", "unknown-condition", Severity.ERROR, "unknown condition variable or value outside its domain")
def unknown_condition(context: Context) -> Iterator[Diagnostic]:
    """What it checks: every condition names a declared variable or flag (HER2+,
    premenopausal, PD-L1 TPS, line, PS, histology, EGFR…) and compares it with a value in
    its domain: percentages 0–100, PS 0–4, line ≥ 1, categorical values from the list.

    Why it matters: a condition the compiler cannot read is a decision nobody can check
    for gaps or overlaps; `PD-L1 ≥ 150%` or `PS ≤ 6` is a typo that changes who is
    treated.

    Laboratory values and CTCAE grades (compiler/data/labs.yaml) carry a unit: the unit
    must be one of the variable's spellings (`ANC >= 1.5 x10^9/L`, also `×10⁹/L`,
    `10^9/L`, `G/L`; `bilirubin <= 1.5 x ULN` or `… µmol/L`; `CrCl >= 45` in mL/min;
    `eGFR >= 30` in mL/min/1.73 m²; `LVEF >= 50%`), a variable measured on several scales
    (bilirubin, ALT, AST, haemoglobin) needs the unit, and the value must lie in the
    scale's domain (a CTCAE grade is 0–4). Case matters where two names differ only in
    case: `eGFR` is kidney function, `EGFR` the mutation; `egfr` is neither.

    Why it matters: a condition the compiler cannot read is a decision nobody can check
    for gaps or overlaps; `PD-L1 ≥ 150%` or `PS ≤ 6` is a typo that changes who is
    treated. `eGFR < 30` read as the EGFR mutation, or `bilirubin <= 1.5` without saying
    whether it is × ULN or µmol/L, is a criterion nobody can apply.

    Example: `when PD-L1 TPS >= 150%:`; `ANC >= 1.5 mg`; `bilirubin <= 1.5`

    Use instead: `when PD-L1 TPS >= 50%:`; `ANC >= 1.5 x10^9/L`; `bilirubin <= 1.5 x ULN`

    Source: compiler/data/conditions.yaml and compiler/data/labs.yaml (variables, units
    and domains, each sourced); ECOG performance status (Oken 1982); CTCAE v5.0 (grades).
    """
    fingerprint = context.tables.fingerprint
    for atom in conditions(context):
        if isinstance(atom, m.Flag):
            key: tuple[object, ...] = (fingerprint, atom.words)
        elif isinstance(atom, m.Compare):
            number = atom.number
            key = (fingerprint, atom.variable, atom.op, None if number is None else (number.text, str(number.value)),
                   atom.percent, atom.word, None if atom.unit is None else atom.unit.value)
        else:
            continue
        found = _VERDICTS.get(key)
        if found is None:
            found = tuple(_verdicts(atom, context.tables))
            if len(_VERDICTS) >= _VERDICTS_SIZE:
                _VERDICTS.clear()
            _VERDICTS[key] = found
        for where, message, hint in found:
            yield unknown_condition.at(_where(atom, where), message, hint)


_VERDICTS_SIZE = 4096
# L004's findings for a flag or comparison by what it says (not where), as (span, message, hint),
# with the span named: the same `ANC >= 1.5 x10^9/L` or `HER2+` recurs in every sheet.
_VERDICTS: dict[tuple[object, ...], tuple[tuple[str, str, str], ...]] = {}


def _where(atom: m.Flag | m.Compare, where: str) -> Span:
    """The span a finding names: the atom, or its variable, unit or number."""
    if isinstance(atom, m.Compare):
        if where == "variable":
            return atom.variable_span
        if where == "unit" and atom.unit is not None:
            return atom.unit.span
        if where == "number" and atom.number is not None:
            return atom.number.span
    return atom.span


def _verdicts(atom: m.Flag | m.Compare, tables: Tables) -> Iterator[tuple[str, str, str]]:
    """L004's findings for one atom, each as (span: atom | variable | unit | number, message, hint)."""
    if isinstance(atom, m.Flag):
        if find_flag(atom.words, tables) is None:
            suggestion = closest(atom.words, known_words(tables))
            hint = f"did you mean `{suggestion}`?" if suggestion else "declared flags and variables: see docs/language.md"
            yield "atom", f"unknown condition `{atom.words}`", hint
        return
    declared = variables(tables)
    variable = find_variable(atom.variable, tables)
    if variable is None:
        suggestion = closest(atom.variable, list(declared))
        hint = f"did you mean `{suggestion}`?" if suggestion else "see the condition variables in docs/language.md"
        same = [name for name in declared if name.lower() == atom.variable.lower()]
        if len(same) > 1:
            hint = "case matters here: " + " or ".join(f"`{name}` ({_label(declared[name])})" for name in same)
        yield "variable", f"unknown condition variable `{atom.variable}`", hint
        return
    labs = lab_variables(tables)
    if variable in labs:
        yield from _lab_condition(atom, labs[variable])
        return
    if atom.unit is not None:
        yield "unit", f"{variable} takes no unit (`{atom.unit.value}`)", \
            f"write `{atom.variable} {atom.op} {atom.number.text if atom.number else ''}`"
        return
    spec = declared[variable]
    kind = spec.get("kind")
    if kind in NUMERIC_KINDS:
        if atom.number is None:
            yield "atom", f"`{variable}` takes a number, not `{atom.word}`", f"compare with a number, e.g. `{variable} >= 1`"
            return
        low, high = (spec.get("range") or [None, None])[:2]
        value = atom.number.value
        if (low is not None and value < low) or (high is not None and value > high):
            unit = "%" if kind == "percent" else ""
            yield "number", f"{variable} {value}{unit} is outside {low}–{high}{unit}", "check the threshold"
    else:
        allowed = [str(v) for v in spec.get("values") or []]
        if atom.word is None or atom.word.lower() not in [a.lower() for a in allowed]:
            shown = atom.word if atom.word is not None else (atom.number.text if atom.number else "")
            yield "atom", f"`{shown}` is not a value of {variable}", "values: " + ", ".join(allowed)
        elif atom.op not in ("=", "!="):
            yield "atom", f"{variable} has no order; `{atom.op}` cannot compare it", "use `=` or `!=`"


def _label(spec: Mapping[str, object]) -> str:
    labels = spec.get("label")
    return str(labels.get("en", "")) if isinstance(labels, dict) else ""


def _lab_condition(atom: m.Compare, lab: LabVariable) -> Iterator[tuple[str, str, str]]:
    """L004 for a laboratory value or CTCAE grade: a number, a unit of the variable, a value in its scale."""
    if atom.number is None:
        yield "atom", f"`{lab.name}` takes a number, not `{atom.word}`", f"compare with a number, e.g. `{lab.name} >= 1`"
        return
    scale = find_scale(lab, atom.unit.value if atom.unit else None, atom.percent)
    if scale is None:
        where = "unit" if atom.unit is not None else "atom"
        if atom.unit is None and not atom.percent:
            yield where, f"{lab.name} needs a unit: {lab.units_text()}", \
                f"write e.g. `{lab.name} {atom.op} {atom.number.text} {lab.scales[0].unit}`"
        else:
            written = atom.unit.value if atom.unit is not None else "%"
            yield where, f"unit `{written}` does not fit {lab.name}", f"{lab.name} is measured in {lab.units_text()}"
        return
    value = atom.number.value
    if not scale.low <= value <= scale.high:
        unit = "" if scale.unit == "grade" else f" {scale.unit}"
        what = "grade" if lab.grade else "value"
        yield "number", f"{lab.name} {what} {value}{unit} is outside " \
            f"{number_text(scale.low)}–{number_text(scale.high)}{unit}", \
            "check the threshold" + (" (CTCAE grades 0–4)" if lab.grade else "")


# ---------------------------------------------------------------- L001-L003, L005, L006


def translator(context: Context) -> Translator:
    """The conditions-to-regions translator of this check run (its memos shared by the L rules)."""
    return context.memo("logic.translator", lambda c: Translator(c.tables))


def _analysis(context: Context) -> Analysis:
    """The protocol's decision analysis (computed once per check run, shared by L001-L003 and L006)."""
    return context.memo("logic.analysis", _analyse)


def _analyse(context: Context) -> Analysis:
    branches: tuple[type[m.Item], ...] = (m.When, m.Otherwise, m.Decision)
    if not any(context.of_type(kind) for kind in branches):
        found = analyse_restrictions(context.of_type(m.OnlyWhen), context.of_type(m.ExcludeWhen), translator(context))
        if found is not None:
            return found
    return analyse(context.protocol, context.tables, translator(context), context.of_types(_CONDITIONED))


def _text(context: Context, span: Span) -> str:
    """The source text of a one-line span."""
    line = context.source.line_text(span.line)
    end = span.end_column - 1 if span.end_line == span.line else len(line)
    return line[span.column - 1:end].strip()


def _head(context: Context, item: m.Item) -> str:
    """The first line of an item, for messages (`when PD-L1 >= 1%:`)."""
    return _text(context, item.span).lstrip("-*•–− ").rstrip(":")


def _words(analysis: DecisionAnalysis, region: Region, domains: Mapping[str, Domain]) -> str:
    text = describe_region(region, domains, analysis.variables)
    return text if "any case" not in text.split("; ") else describe_region(region, domains)


@check("L001", "threshold-overlap-or-gap", Severity.ERROR,
       "sibling biomarker thresholds overlap (error) or leave a gap (warning)")
def threshold_overlap_or_gap(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the numeric thresholds of sibling branches — the `when` lines of one
    `decision:`, or consecutive `when` lines in one block — neither overlap nor leave a gap.
    Two branches that compare the same numeric variable (PD-L1 TPS, CPS, IC, CrCl, line,
    PS…) and are both true for some value are an error: the sheet gives two treatments for
    one patient and there is no precedence between branches. Without an `otherwise:`,
    values of such a variable that no branch reaches are a gap (warning); the message names
    the uncovered interval, e.g. "not covered: PD-L1 1–10 %". Bounds are exact
    (`< 1%` and `>= 1%` meet without overlap), integers are treated as integers
    (`line <= 2` and `line >= 3` leave no gap), and only the enclosing context is counted
    (under `only when line = 1`, line 2 is not a gap). TPS, CPS, IC and PD-L1 without a
    score are different variables and are never compared (see L006). Overlaps between
    branches that share no threshold (`when HR+` / `when HER2+`) are reported by L002.

    Why it matters: a patient whose value falls in the overlap gets two treatments; one in
    the gap gets none. Seed 002 has exactly this shape: PD-L1 < 1% and PD-L1 > 10% —
    what about 5%?

    Example: `when PD-L1 TPS >= 1%:` then `when PD-L1 TPS >= 50%:` (both true at 60%);
    `when PD-L1 < 1%:` then `when PD-L1 > 10%:` (nothing for 1–10%)

    Use instead: `when PD-L1 TPS >= 50%:` / `when PD-L1 TPS >= 1% and PD-L1 TPS < 50%:` /
    `when PD-L1 TPS < 1%:` (or an `otherwise:`)

    Source: RULES.md L001; seed 002 (PD-L1 < 1% / > 10%); seed 004 (PD-L1 ≥ 50% / < 50%);
    variable domains from compiler/data/conditions.yaml.
    """
    found = _analysis(context)
    for analysis in found.decisions:
        for overlap in analysis.overlaps:
            if not overlap.thresholds:
                continue
            shown = describe_region(overlap.region, found.domains, analysis.variables)
            yield threshold_overlap_or_gap.at(
                overlap.second.item.span,
                f"overlaps the branch on line {overlap.first.item.span.line}: both apply at {shown}",
                "make the thresholds exclusive (e.g. `>= 50%` and `>= 1% and < 50%`), or nest the narrower branch",
                related=(Related(overlap.first.item.span, "the other branch"),))
        for gap in analysis.threshold_gaps:
            yield threshold_overlap_or_gap.at(
                analysis.anchor.span, f"thresholds leave a gap: not covered: {gap.describe()}",
                "add a branch for these values, or an `otherwise:`", severity=Severity.WARNING)


@check("L002", "decision-coverage", Severity.WARNING, "decision does not cover every case, or its branches overlap")
def decision_coverage(context: Context) -> Iterator[Diagnostic]:
    """What it checks: for each decision (the `when` children of a `decision:`, or a run of
    consecutive `when` lines, plus `otherwise:`), the combinations of the declared condition
    variables its branches use (subtype × menopause × line × histology × biomarker…) that no
    branch covers, within the decision's context (enclosing `when` branches and `only when` /
    `exclude when` lines). An `otherwise:` covers everything. Numeric threshold gaps are
    L001's; this rule reports what remains, e.g. `when adjuvant and residual-disease` /
    `when metastatic` leaves "setting = neoadjuvant; residual disease = no and setting =
    adjuvant". Broad values include narrow ones (HER2-negative includes HER2-low;
    non-squamous includes adenocarcinoma), and values marked `coverage_optional` in
    conditions.yaml (small-cell, curative, palliative) count only when the protocol names
    them. It also reports two sibling branches that both apply to some case without sharing
    a numeric threshold (`when HR+` / `when HER2+`: HR+ HER2+ patients match both).
    Decisions that compare different PD-L1 scores are left to L006.

    Why it matters: the sheet must say what to do for every patient it addresses; a missing
    combination is a patient without a plan, an overlap a patient with two.

    Example: `decision: setting` / `when adjuvant:` / `when metastatic:` (neoadjuvant?)

    Use instead: add `when neoadjuvant:` or `otherwise:` with what to do.

    Source: RULES.md L002; condition vocabulary compiler/data/conditions.yaml.
    """
    found = _analysis(context)
    for analysis in found.decisions:
        if not analysis.resolved or analysis.mixed_scores:
            continue
        if not analysis.uncovered.is_empty():
            yield decision_coverage.at(
                analysis.anchor.span, f"decision does not cover: {_words(analysis, analysis.uncovered, found.domains)}",
                "add a branch for these cases, or an `otherwise:` saying what to do")
        for overlap in analysis.overlaps:
            if overlap.thresholds:
                continue
            yield decision_coverage.at(
                overlap.second.item.span,
                f"overlaps the branch on line {overlap.first.item.span.line}: both apply when "
                f"{_words(analysis, overlap.region, found.domains)}",
                "make the branches exclusive (e.g. `when HR+ and HER2-`), or say which takes precedence",
                related=(Related(overlap.first.item.span, "the other branch"),))


@check("L003", "unreachable-branch", Severity.ERROR, "contradictory condition or unreachable branch")
def unreachable_branch(context: Context) -> Iterator[Diagnostic]:
    """What it checks: every `when` and `only when` condition can be true: not
    self-contradictory (`HR+ and HR-`, `PD-L1 TPS > 50% and PD-L1 TPS < 10%`,
    `line > 10` on a 1–10 domain), and not excluded by its context (a `when PS >= 2:`
    under `only when PS <= 1`, or two `only when` lines that exclude each other). An
    `otherwise:` that no case can reach because the branches above it already cover
    everything is reported as a warning (dead text, not a danger). Conditions with an
    unknown variable or an out-of-domain value are L004's and are not analysed here.

    Why it matters: a branch that can never be taken is a treatment nobody will receive —
    almost always a typo in a threshold or a flipped sign.

    Example: `when HR+ and HR-:`; `when PD-L1 TPS > 50% and PD-L1 TPS < 10%:`

    Use instead: `when HR+ and HER2-:`; `when PD-L1 TPS >= 10% and PD-L1 TPS <= 50%:`

    Source: RULES.md L003; domains from compiler/data/conditions.yaml.
    """
    found = _analysis(context)
    seen: set[int] = set()
    for contradiction in found.contradictions:
        if id(contradiction.item) in seen:
            continue
        seen.add(id(contradiction.item))
        if contradiction.alone:
            yield unreachable_branch.at(contradiction.item.span,
                                        f"condition can never be true: `{_text(context, contradiction.condition.span)}`",
                                        "check the values and the signs of the comparison")
        else:
            yield unreachable_branch.at(contradiction.item.span,
                                        f"`{_text(context, contradiction.condition.span)}` can never be true here: "
                                        "it contradicts the enclosing conditions",
                                        "check this condition against the enclosing `when` and `only when` lines")
    for analysis in found.decisions:
        if analysis.otherwise_unreachable:
            branch = next(b for b in analysis.branches if b.is_otherwise)
            yield unreachable_branch.at(branch.item.span, "`otherwise` is never taken: the branches above cover every case",
                                        "remove the `otherwise:` or check the thresholds above it",
                                        severity=Severity.WARNING)


SYSTEMIC_CLASSES = ("chemotherapy", "immunotherapy")
_SYSTEMIC = frozenset(SYSTEMIC_CLASSES)


def _systemic(item: m.Item, context: Context) -> bool:
    """A drug or regimen line with a chemotherapy or immunotherapy drug."""
    node = statement(item)
    drug_ids: list[str] = []
    if isinstance(node, m.DrugLine) and node.drug_id is not None:
        drug_ids.append(node.drug_id)
    elif isinstance(node, m.RegimenLine) and node.regimen_id is not None:
        entry = context.tables.regimens.get(node.regimen_id) or {}
        drug_ids.extend(str(d.get("drug")) for d in entry.get("drugs") or [])
    return any(not _SYSTEMIC.isdisjoint(context.tables.drug_classes(d)) for d in drug_ids)


def _descendants(items: tuple[m.Item, ...]) -> list[m.Item]:
    """The items and everything below them, depth first (a stack: nested generators cost a step per level)."""
    found: list[m.Item] = []
    stack = list(reversed(items))
    while stack:
        item = stack.pop()
        found.append(item)
        if item.children:
            stack.extend(reversed(item.children))
    return found


@check("L005", "no-performance-status", Severity.INFO, "eligibility for chemotherapy or immunotherapy without a PS criterion")
def no_performance_status(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a protocol that states eligibility (`only when …`) for a block holding
    chemotherapy or immunotherapy (a drug or library regimen whose drug belongs to those
    classes in the formulary) also states a performance-status criterion (`PS <= 1`,
    `ECOG <= 2`) somewhere. Exact trigger: the protocol has no condition on PS anywhere
    (any `when`, `only when` or `exclude when`); then each `only when` line whose block
    contains such a drug or regimen gets one info. Protocols without eligibility lines, and
    blocks with only endocrine, targeted or supportive drugs, are not reported. A PS value
    outside 0–4 is L004's domain check.

    Why it matters: performance status is the first eligibility criterion for systemic
    treatment (seed 004: immunotherapy for PS 0–1; for PS 2 chemotherapy or best
    supportive care); an eligibility statement that leaves it out invites treatment of
    patients who will not benefit.

    Example: `only when line = 1` above a paclitaxel regimen, and no PS anywhere

    Use instead: `only when line = 1 and PS <= 1`

    Source: RULES.md L005; seed 004 (Richtlijn NSCLC: performance score 0–1); ECOG
    performance status (Oken 1982).
    """
    eligibility = context.of_type(m.OnlyWhen)
    if not eligibility:
        return  # no eligibility line (the index holds bullets' content too): nothing to report
    for kind in (m.When, m.OnlyWhen, m.ExcludeWhen):
        for node in context.of_type(kind):
            assert isinstance(node, (m.When, m.OnlyWhen, m.ExcludeWhen))
            for atom in m.condition_atoms(node.condition):
                if isinstance(atom, m.Compare) and find_variable(atom.variable, context.tables) == "PS":
                    return
    wanted = {id(node) for node in eligibility}
    # the items that are eligibility lines or bullets holding one: a block holding none is passed over
    # in one test (most blocks), where looking at each of its items cost a step per item of the sheet
    holders = wanted | {id(bullet) for bullet in context.of_type(m.Bullet) if id(bullet.content) in wanted}
    reported: set[int] = set()  # items inside a reported scope: one info per outermost eligibility line
    for parent, block in _blocks(context.protocol, context.items):
        if holders.isdisjoint(map(id, block)):
            continue
        for item in block:
            node = item.content if isinstance(item, m.Bullet) and item.content is not None else item
            if id(node) not in wanted or id(item) in reported:
                continue
            assert isinstance(node, m.OnlyWhen)
            scope = _descendants(block) if parent is None else [parent, *_descendants(block)]
            if any(_systemic(x, context) for x in scope):
                reported.update(id(x) for x in scope)
                yield no_performance_status.at(node.span, "eligibility for chemotherapy or immunotherapy without a "
                                               "performance-status criterion",
                                               "add the PS criterion, e.g. `and PS <= 1`")


def _blocks(protocol: m.Protocol, items: list[m.Item]) -> Iterator[tuple[m.Item | None, tuple[m.Item, ...]]]:
    """Every block with the item that owns it (None for a section's or the preamble's own items);
    `items` is `protocol.all_items()`.
    """
    yield None, protocol.preamble
    for section in protocol.all_sections():
        yield None, section.items
    yield from [(item, item.children) for item in items if item.children]


@check("L006", "score-not-stated", Severity.WARNING, "biomarker threshold without its scoring method, or scores mixed")
def score_not_stated(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a biomarker threshold names its scoring method — PD-L1 as TPS (% of
    tumour cells), CPS (a number, not a percentage, capped at 100) or IC (% of tumour area),
    with the assay where it matters — and sibling branches of one decision compare the same
    score. Triggers: a comparison on a variable declared with `score: null` (`PD-L1 < 1%`);
    a CPS threshold written with `%`; a decision whose `when` lines compare different
    scores of one biomarker (`PD-L1 TPS >= 50%` next to `PD-L1 CPS >= 10`, or next to
    `PD-L1 >= 1%` without a score) — they are different variables and their thresholds
    cannot be checked against each other (L001 treats them separately).

    Why it matters: TPS, CPS and IC give different numbers for the same tumour; a cut-off
    means nothing without its score. Seed 002 mixes a 1% cut-off with "> 10%" for
    pembrolizumab, where KEYNOTE-355 used CPS ≥ 10.

    Example: `when PD-L1 < 1%:` / `when PD-L1 > 10%:`

    Use instead: `when PD-L1 CPS < 10:` / `when PD-L1 CPS >= 10:` (the score of the trial
    and the label)

    Source: RULES.md L006; PD-L1 IHC 22C3 pharmDx interpretation manuals (TPS for NSCLC,
    CPS for TNBC); VENTANA SP142 guide (IC); KEYNOTE-355 (Cortes et al., Lancet 2020).
    """
    declared = variables(context.tables)
    for atom in conditions(context):
        if not isinstance(atom, m.Compare):
            continue
        variable = find_variable(atom.variable, context.tables)
        if variable is None:
            continue
        spec = declared[variable]
        if "score" in spec and spec.get("score") is None:
            yield score_not_stated.at(atom.span, f"{variable} threshold without its scoring method",
                                      f"write the score: {variable} TPS (%), {variable} CPS (a number) or "
                                      f"{variable} IC (%), with the assay")
        elif spec.get("score") == "CPS" and atom.percent:
            yield score_not_stated.at(atom.span, f"{variable} is a number, not a percentage",
                                      f"write `{variable} {atom.op} {atom.number.text if atom.number else ''}` without %")
    for analysis in _analysis(context).decisions:
        for marker, names in analysis.mixed_scores:
            first = next(b for b in analysis.branches if not b.is_otherwise and set(names) & b.variables)
            other = next(b for b in analysis.branches
                         if not b.is_otherwise and (b.variables & set(names)) - (first.variables & set(names)))
            yield score_not_stated.at(other.item.span,
                                      f"sibling branches compare different {marker} scores ({', '.join(names)}): "
                                      "not comparable",
                                      "use one score for every branch of the decision",
                                      related=(Related(first.item.span, "the other score"),))
