"""Laboratory values and toxicity grades (compiler/data/labs.yaml): units, scales, resolution.

A lab variable (ANC, platelets, bilirubin, eGFR, neuropathy grade …) is a condition
variable whose threshold carries a unit. Each unit is a *scale* with its own domain:
bilirubin in × ULN and in µmol/L cannot be compared without the laboratory's upper
limit of normal, so the interval analysis treats each scale as its own variable
(`domain_key`). A condition without a unit uses the variable's default scale; a unit
that is not one of the variable's spellings is L004.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from compiler.records import frozen
from compiler.tables import Tables

_UNIT_FOLD = str.maketrans({"×": "x", "⁹": "9", "²": "2", "μ": "µ", ",": ".", " ": None, "\t": None})


def unit_key(text: str) -> str:
    """A unit spelling reduced for comparison: no spaces, × → x, ⁹ → 9, ^ dropped, case kept (G/L ≠ g/L)."""
    return text.translate(_UNIT_FOLD).replace("^", "")


@frozen(slots=True)
class Scale:
    """One unit of a lab variable, with the domain of a written threshold and the reporting step."""

    unit: str
    spellings: frozenset[str]
    low: Decimal
    high: Decimal
    resolution: Decimal | None
    default: bool


@frozen(slots=True)
class LabVariable:
    """A declared laboratory value or CTCAE grade."""

    name: str
    kind: str
    scales: tuple[Scale, ...]
    grade: bool
    labels: tuple[tuple[str, str], ...]

    def key(self, scale: Scale) -> str:
        """The analysis variable of a scale: the name, or `name (unit)` when there are several scales."""
        return self.name if len(self.scales) == 1 else f"{self.name} ({scale.unit})"

    @property
    def default_scale(self) -> Scale | None:
        """The scale used when a condition gives no unit (None: the unit is required)."""
        return next((s for s in self.scales if s.default), None)

    def label(self, language: str) -> str:
        """The variable's name in a language."""
        labels = dict(self.labels)
        return labels.get(language) or labels.get("en") or self.name

    def units_text(self) -> str:
        """The accepted units, for hints."""
        return ", ".join(s.unit for s in self.scales if s.unit != "grade") or "a grade 0–4"


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def _scale(spec: dict[str, Any]) -> Scale:
    unit = str(spec.get("unit") or "")
    spellings = {unit_key(unit)} | {unit_key(str(s)) for s in spec.get("spellings") or []}
    low, high = (spec.get("range") or [0, 10**6])[:2]
    resolution = spec.get("resolution")
    return Scale(unit, frozenset(spellings), _decimal(low), _decimal(high),
                 None if resolution is None else _decimal(resolution), bool(spec.get("default")))


_PARSED: dict[str, dict[str, LabVariable]] = {}


def lab_specs(tables: Tables) -> dict[str, dict[str, Any]]:
    """The raw labs.yaml variables."""
    found: dict[str, dict[str, Any]] = (tables.labs or {}).get("variables") or {}
    return found


def lab_variables(tables: Tables) -> dict[str, LabVariable]:
    """The declared lab variables (parsed once per data fingerprint)."""
    found = _PARSED.get(tables.fingerprint)
    if found is None:
        found = {}
        for name, spec in lab_specs(tables).items():
            scales = tuple(_scale(s) for s in spec.get("scales") or [])
            labels = tuple(sorted((str(k), str(v)) for k, v in (spec.get("label") or {}).items()))
            found[name] = LabVariable(name, str(spec.get("kind") or "number"), scales, bool(spec.get("grade")),
                                      labels)
        _PARSED[tables.fingerprint] = found
    return found


def find_scale(lab: LabVariable, unit: str | None, percent: bool) -> Scale | None:
    """The scale a written unit selects (the default scale without a unit); None when it does not fit."""
    if percent:
        unit = "%"
    if unit is None:
        return lab.default_scale
    key = unit_key(unit)
    return next((s for s in lab.scales if key in s.spellings), None)


def domain_key(tables: Tables, variable: str, unit: str | None, percent: bool) -> str | None:
    """The analysis variable for `variable` written with `unit` (None: not a lab, or the unit does not fit)."""
    lab = lab_variables(tables).get(variable)
    if lab is None:
        return None
    scale = find_scale(lab, unit, percent)
    return lab.key(scale) if scale is not None else None


def scale_of_key(tables: Tables, key: str) -> tuple[LabVariable, Scale] | None:
    """The lab variable and scale behind an analysis variable."""
    for lab in lab_variables(tables).values():
        for scale in lab.scales:
            if lab.key(scale) == key:
                return lab, scale
    return None
