"""L: decision logic — conditions over declared variables."""

from __future__ import annotations

from collections.abc import Iterator

from compiler import model as m
from compiler.checks import Context
from compiler.conditions import find_flag, find_variable, known_words, variables
from compiler.diagnostics import Diagnostic, Severity, check
from compiler.suggest import closest

NUMERIC_KINDS = ("integer", "number", "percent")


def conditions(context: Context) -> Iterator[m.Condition]:
    """Every atomic condition (flags and comparisons) in the protocol."""
    for item in context.items:
        if isinstance(item, (m.When, m.OnlyWhen, m.ExcludeWhen)):
            stack: list[m.Condition] = [item.condition]
            while stack:
                node = stack.pop()
                if isinstance(node, (m.All, m.Any_)):
                    stack.extend(reversed(node.operands))
                elif isinstance(node, m.Not):
                    stack.append(node.operand)
                else:
                    yield node


@check("L004", "unknown-condition", Severity.ERROR, "unknown condition variable or value outside its domain")
def unknown_condition(context: Context) -> Iterator[Diagnostic]:
    """What it checks: every condition names a declared variable or flag (HER2+,
    premenopausal, PD-L1 TPS, line, PS, histology, EGFR…) and compares it with a value in
    its domain: percentages 0–100, PS 0–4, line ≥ 1, categorical values from the list.

    Why it matters: a condition the compiler cannot read is a decision nobody can check
    for gaps or overlaps; `PD-L1 ≥ 150%` or `PS ≤ 6` is a typo that changes who is
    treated.

    Example: `when PD-L1 TPS >= 150%:`

    Use instead: `when PD-L1 TPS >= 50%:`

    Source: compiler/data/conditions.yaml (variables and their domains, each sourced);
    ECOG performance status (Oken 1982).
    """
    declared = variables(context.tables)
    for atom in conditions(context):
        if isinstance(atom, m.Flag):
            if find_flag(atom.words, context.tables) is None:
                suggestion = closest(atom.words, known_words(context.tables))
                hint = f"did you mean `{suggestion}`?" if suggestion else "declared flags and variables: see docs/language.md"
                yield unknown_condition.at(atom.span, f"unknown condition `{atom.words}`", hint)
            continue
        if not isinstance(atom, m.Compare):
            continue
        variable = find_variable(atom.variable, context.tables)
        if variable is None:
            suggestion = closest(atom.variable, list(declared))
            hint = f"did you mean `{suggestion}`?" if suggestion else "see the condition variables in docs/language.md"
            yield unknown_condition.at(atom.variable_span, f"unknown condition variable `{atom.variable}`", hint)
            continue
        spec = declared[variable]
        kind = spec.get("kind")
        if kind in NUMERIC_KINDS:
            if atom.number is None:
                yield unknown_condition.at(atom.span, f"`{variable}` takes a number, not `{atom.word}`",
                                           f"compare with a number, e.g. `{variable} >= 1`")
                continue
            low, high = (spec.get("range") or [None, None])[:2]
            value = atom.number.value
            if (low is not None and value < low) or (high is not None and value > high):
                unit = "%" if kind == "percent" else ""
                yield unknown_condition.at(atom.number.span, f"{variable} {value}{unit} is outside {low}–{high}{unit}",
                                           "check the threshold")
        else:
            allowed = [str(v) for v in spec.get("values") or []]
            if atom.word is None or atom.word.lower() not in [a.lower() for a in allowed]:
                shown = atom.word if atom.word is not None else (atom.number.text if atom.number else "")
                yield unknown_condition.at(atom.span, f"`{shown}` is not a value of {variable}",
                                           "values: " + ", ".join(allowed))
            elif atom.op not in ("=", "!="):
                yield unknown_condition.at(atom.span, f"{variable} has no order; `{atom.op}` cannot compare it",
                                           "use `=` or `!=`")
