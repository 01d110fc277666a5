"""C007-C009: what the names on a sheet must agree with — an `only with` / `preferably with`
target that names no known drug or class (C007), a targeted drug under a condition that
excludes its target (C008), and a regimen whose drug lines contradict its name (C009).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from compiler import arms as a
from compiler import model as m
from compiler.checks import Context, arm_layout
from compiler.checks.combination_facts import admits, combination_data, drug_facts, option_name
from compiler.diagnostics import Diagnostic, Severity, check
from compiler.suggest import closest
from compiler.tables import Tables, normalise


@check("C007", "unknown-combination-target", Severity.ERROR, "`only with` / `preferably with` names an unknown drug or class")
def unknown_combination_target(context: Context) -> Iterator[Diagnostic]:
    """What it checks: every target of `only with` and `preferably with` is a drug of the
    formulary (generic, brand or alias) or a therapeutic class (`aromataseremmer`,
    `CDK4/6-remmers`, `HER-blokkade`, `chemotherapie`).

    Why it matters: a companion the compiler cannot read is a combination nobody checks
    (C001–C004), and usually a typo.

    Example: `only with aromatse inhibitor`

    Use instead: `only with aromatase inhibitor` (or `aromataseremmer`).

    Source: compiler/data/formulary.yaml (drug names, class names and aliases).
    """
    tables = context.tables
    candidates: list[str] = []  # every drug and class name: built only when a target is unknown
    for item in context.of_type(m.WithConstraint):
        if not isinstance(item, m.WithConstraint):
            continue
        ids = item.target_ids or tuple(None for _ in item.targets)
        for target, target_id in zip(item.targets, ids, strict=False):
            if target_id is not None:
                continue
            if not candidates:
                candidates = list(tables.class_names) + list(tables.names)
            suggestion = closest(normalise(target.value), candidates)
            hint = f"did you mean `{suggestion}`?" if suggestion else "name a formulary drug or class"
            yield unknown_combination_target.at(target.span, f"unknown drug or class `{target.value}`", hint)


@check("C008", "target-excluded", Severity.ERROR, "a targeted drug under a condition that excludes its target")
def target_excluded(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a targeted drug (combinations.yaml `targets`: HER2 antibodies and
    HER2 tyrosine-kinase inhibitors need HER2-positive disease; EGFR inhibitors an EGFR
    mutation; ALK inhibitors an ALK rearrangement) sits in an arm whose conditions admit
    patients with its target. An arm whose conditions are certainly false for every
    patient with the target — trastuzumab under `only when HER2-`, osimertinib under
    `when EGFR-` — is an error. An arm that does not mention the target is not reported
    here. Trastuzumab deruxtecan is not listed (licensed in HER2-low disease).

    Why it matters: the sheet then prescribes a drug to exactly the patients it cannot
    help, usually because a branch or a condition was copied into the wrong place.

    Example: `only when HER2-` above `drug trastuzumab 8 mg/kg IV then 6 mg/kg IV every 3 weeks`

    Use instead: `only when HER2+` (or move the drug to the HER2-positive branch).

    Source: the products' EU SmPCs section 4.1, cited per entry in combinations.yaml `targets`.
    """
    tables = context.tables
    seen: set[object] = set()
    known = drug_facts(tables).target_rules  # `_target_rules`, its memo read once
    for arm in arm_layout(context).arms():
        drug_id = arm.focus.drug_id
        if drug_id is None:
            continue
        rules = known.get(drug_id)
        if rules is None:
            rules = _target_rules(context, drug_id)
        if not rules or arm.focus.span in seen:
            continue
        for rule, scenario in rules:
            if admits(context, arm, scenario):
                continue
            seen.add(arm.focus.span)
            target = str(rule.get("target") or ", ".join(scenario))
            yield target_excluded.at(
                arm.focus.span, f"{option_name(tables, drug_id)} needs {target}-positive disease, but its conditions "
                                f"exclude {target}-positive patients",
                f"put it under a condition that requires {target}-positive disease ({rule.get('source')})")
            break


def _target_rules(context: Context, drug_id: str) -> list[tuple[Mapping[str, Any], dict[str, str]]]:
    """The `targets` rules of combinations.yaml that name a drug (or what it counts as), in data order,
    each with the scenario of a patient with the target; once per drug and data set.
    """
    facts = drug_facts(context.tables)
    found = facts.target_rules.get(drug_id)
    if found is None:
        ids = a.counts_as(drug_id, context.tables)
        found = facts.target_rules[drug_id] = [
            (rule, {str(k): str(v) for k, v in (rule.get("requires") or {}).items()})
            for rule in combination_data(context).get("targets") or []
            if isinstance(rule, dict) and ids & {str(x) for x in rule.get("drugs") or []}]
    return found


def _name_drugs(context: Context, name: str) -> frozenset[str]:
    """Drug ids named in a regimen name (`lapatinib-letrozole` → lapatinib, letrozole)."""
    known = drug_facts(context.tables).name_drugs  # the answer depends on the name and the data set only
    found = known.get(name)
    if found is None:
        from compiler.checks.notation import drug_names_in

        found = frozenset(d for _, _, ids in drug_names_in(name.replace("-", " ").replace("+", " "), context)
                          for d in ids)
        if len(name) <= 200:  # sheet words: bounded, and long ones never kept
            if len(known) >= 4096:
                known.clear()
            known[name] = found
    return found


def _library_drugs(tables: Tables, regimen_id: str | None) -> frozenset[str]:
    """The drugs of a library regimen (regimens.yaml), once per regimen and data set."""
    known = drug_facts(tables).library_drugs
    key = regimen_id or ""
    found = known.get(key)
    if found is None:
        entry = tables.regimens.get(key) or {}
        found = frozenset(str(d.get("drug")) for d in entry.get("drugs") or [] if isinstance(d, dict))
        if key in tables.regimens:  # ids of the data set only: bounded over a book
            known[key] = found
    return found


@check("C009", "regimen-contradicts-name", Severity.ERROR,
       "a regimen's drugs contradict its name or its library entry")
def regimen_contradicts_name(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the drug lines written under a regimen agree with what the regimen
    is. Under a library regimen (`regimen lapatinib-letrozole`), every drug line is a drug
    of the library entry (regimens.yaml); under any regimen, a drug named in the regimen's
    name (`regimen letrozole-palbociclib`) is given in it. Products of one substance count
    as each other (trastuzumab SC for trastuzumab).

    Why it matters: the name is what a reader scans, the drug lines are what is given; a
    regimen called lapatinib-letrozole that gives tamoxifen is either a wrong name or a
    wrong drug, and the library's companions silently fill in what the name promises.

    Example: `regimen lapatinib-letrozole` with `drug tamoxifen 20 mg po daily` under it.

    Use instead: `regimen lapatinib-letrozole` with `drug letrozole 2,5 mg po daily`, or a
    regimen named for what it gives.

    Source: ISMP Guidelines for Standard Order Sets (2010): regimen names match their
    components; regimens.yaml.
    """
    tables = context.tables
    lay = arm_layout(context)
    for index in lay.regimen_indices():
        regimen = lay.items[index]
        if not isinstance(regimen, m.RegimenLine):
            continue
        lines = lay.drug_lines_within(index)
        if not lines:
            continue  # nothing written under it to contradict anything
        given: set[str] = set()
        for line in lines:
            if line.drug_id:
                given |= a.counted(line.drug_id, tables)
        library = _library_drugs(tables, regimen.regimen_id)
        if library:
            for line in lines:
                if line.drug_id is None or a.counted(line.drug_id, tables) & library:
                    continue
                yield regimen_contradicts_name.at(
                    line.name.span, f"{option_name(tables, line.drug_id)} is not a drug of regimen {regimen.name.value} "
                                    f"({', '.join(option_name(tables, d) for d in sorted(library))})",
                    "give the regimen's own drugs, or name the regimen for what it gives")
        missing = sorted(d for d in _name_drugs(context, regimen.name.value)
                         if d in tables.drugs and not a.counted(d, tables) & given)
        if missing:
            yield regimen_contradicts_name.at(
                regimen.name.span, f"regimen {regimen.name.value} names {', '.join(option_name(tables, d) for d in missing)} "
                                   "but does not give it",
                "add the drug line, or name the regimen for what it gives")
