"""A hospital's own dose rows: `formulary_overrides` in `book.yaml`.

    formulary_overrides:
      - drug: dexamethasone
        action: add                 # add a row, or `replace` row N (`row: N`, from `protocolc data audit`)
        reason: "Local antiemetic protocol (MFC 2026-10): 16 mg IV on day 1 without an NK1 antagonist"
        dose:
          route: IV
          unit: mg
          usual: [8, 16]
          max: null
          frequency: "once, day 1"
          use: antiemetic
          source: "Lokaal anti-emetisch protocol AZ Voorbeeld, versie 3"
          source_type: local
          section: "2.1"
          last_verified: 2026-10-01

Every override needs a reason and a row with a source and a date, like the packaged rows
(the agreed row schema). The shape is checked when the book configuration is read and
the drug and row number when the overrides are applied; every problem is a short
`ConfigError` message (exit 2), never a traceback. The data audit and the validation
report list each override with its reason.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import field, replace
from typing import Any

from compiler.records import frozen
from compiler.tables import Tables


class OverrideError(ValueError):
    """An override that cannot be used (the book configuration reports it)."""


ACTIONS = ("add", "replace")
UNITS = frozenset({"mg", "g", "mcg", "mg/m2", "mg/kg", "mcg/kg", "AUC", "units", "mL", "mmol", "MBq"})
ROUTES = frozenset({"po", "IV", "IM", "subcut", "intrathecal", "intravesical", "intrapleural", "intraperitoneal",
                    "intra-arterial"})
SOURCE_TYPES = frozenset({"smpc", "us-label", "guideline", "trial", "seed", "local"})
ROW_KEYS = frozenset({"route", "unit", "usual", "max", "max_daily", "frequency", "setting", "use", "source",
                      "source_type", "section", "source_url", "last_verified", "unverified", "note"})
REQUIRED = ("route", "unit", "usual", "frequency", "source", "last_verified")
OVERRIDE_KEYS = frozenset({"drug", "action", "row", "reason", "dose"})


@frozen
class FormularyOverride:
    """One hospital row: added to a drug, or replacing one of its rows."""

    drug: str
    action: str
    reason: str
    dose: Mapping[str, Any] = field(compare=False)
    row: int | None = None
    index_after: int = -1

    def to_json(self) -> dict[str, Any]:
        """The override as JSON (dates as ISO text)."""
        return {"drug": self.drug, "action": self.action, "row": self.row, "reason": self.reason,
                "dose": {k: (v.isoformat() if isinstance(v, datetime.date) else v) for k, v in self.dose.items()}}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_row(where: str, dose: Any) -> None:
    if not isinstance(dose, dict):
        raise OverrideError(f"{where}: `dose` must be a mapping (route, unit, usual, frequency, source, last_verified)")
    unknown = sorted(str(k) for k in dose if str(k) not in ROW_KEYS)
    if unknown:
        raise OverrideError(f"{where}: unknown dose key `{unknown[0]}` (known: {', '.join(sorted(ROW_KEYS))})")
    missing = [k for k in REQUIRED if dose.get(k) in (None, "")]
    if missing:
        raise OverrideError(f"{where}: the dose row needs `{missing[0]}` (every row is sourced and dated)")
    if dose["unit"] not in UNITS:
        raise OverrideError(f"{where}: unit `{dose['unit']}` is not one of {', '.join(sorted(UNITS))}")
    if dose["route"] not in ROUTES:
        raise OverrideError(f"{where}: route `{dose['route']}` is not one of {', '.join(sorted(ROUTES))}")
    usual = dose["usual"]
    if not (isinstance(usual, list) and len(usual) == 2 and all(_number(v) for v in usual) and usual[0] <= usual[1]):
        raise OverrideError(f"{where}: `usual` must be [low, high] numbers with low <= high")
    for key in ("max", "max_daily"):
        if dose.get(key) is not None and not _number(dose[key]):
            raise OverrideError(f"{where}: `{key}` must be a number or null")
    if dose.get("max") is not None and dose["max"] < usual[1]:
        raise OverrideError(f"{where}: `max` {dose['max']} is below the usual high {usual[1]}")
    if not isinstance(dose["last_verified"], datetime.date):
        raise OverrideError(f"{where}: `last_verified` must be a date (YYYY-MM-DD)")
    if dose.get("source_type") is not None and dose["source_type"] not in SOURCE_TYPES:
        raise OverrideError(f"{where}: source_type `{dose['source_type']}` is not one of {', '.join(sorted(SOURCE_TYPES))}")
    if "unverified" in dose and not isinstance(dose["unverified"], bool):
        raise OverrideError(f"{where}: `unverified` must be true or false")


def _parse_one(number: int, item: Any) -> FormularyOverride:
    where = f"formulary_overrides[{number}]"
    if not isinstance(item, dict):
        raise OverrideError(f"{where}: expected a mapping with drug, action, reason and dose")
    unknown = sorted(str(k) for k in item if str(k) not in OVERRIDE_KEYS)
    if unknown:
        raise OverrideError(f"{where}: unknown key `{unknown[0]}` (known: {', '.join(sorted(OVERRIDE_KEYS))})")
    drug, action, reason = item.get("drug"), item.get("action", "add"), item.get("reason")
    if not isinstance(drug, str) or not drug:
        raise OverrideError(f"{where}: `drug` must be a formulary drug id (e.g. dexamethasone)")
    if action not in ACTIONS:
        raise OverrideError(f"{where}: `action` must be add or replace")
    if not isinstance(reason, str) or not reason.strip():
        raise OverrideError(f"{where}: every override needs a `reason` (it is printed in the validation report)")
    row = item.get("row")
    if action == "replace" and (not isinstance(row, int) or isinstance(row, bool) or row < 0):
        raise OverrideError(f"{where}: `replace` needs `row: N` (the row number from `protocolc data audit`)")
    if action == "add" and row is not None:
        raise OverrideError(f"{where}: `row` is only for `replace`")
    _check_row(where, item.get("dose"))
    return FormularyOverride(drug, str(action), reason.strip(), dict(item["dose"]), row)


def parse_overrides(value: Any) -> tuple[FormularyOverride, ...]:
    """The overrides of `book.yaml`, their shape checked (OverrideError says what is wrong)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise OverrideError("formulary_overrides must be a list of overrides")
    return tuple(_parse_one(number, item) for number, item in enumerate(value))


def placed(tables: Tables, overrides: Sequence[FormularyOverride]) -> tuple[FormularyOverride, ...]:
    """The overrides with the row number each one has once applied; unknown drugs and rows are refused."""
    counts = {d: len(e.get("doses") or []) for d, e in tables.drugs.items()}
    out: list[FormularyOverride] = []
    for override in overrides:
        if override.drug not in tables.drugs:
            raise OverrideError(f"formulary_overrides: unknown drug `{override.drug}` (a formulary drug id)")
        if override.action == "replace":
            assert override.row is not None
            if override.row >= counts[override.drug]:
                raise OverrideError(f"formulary_overrides: {override.drug} has no row {override.row} "
                                    f"(rows 0-{counts[override.drug] - 1})")
            out.append(replace(override, index_after=override.row))
        else:
            out.append(replace(override, index_after=counts[override.drug]))
            counts[override.drug] += 1
    return tuple(out)


def apply_overrides(tables: Tables, overrides: Sequence[FormularyOverride]) -> Tables:
    """The tables with the hospital's rows added or replaced, under a new fingerprint."""
    if not overrides:
        return tables
    drugs = dict(tables.drugs)
    for override in placed(tables, overrides):
        entry = copy.deepcopy(dict(drugs[override.drug]))
        doses = list(entry.get("doses") or [])
        row = {**override.dose, "source_type": override.dose.get("source_type", "local"),
               "unverified": override.dose.get("unverified", False), "override_reason": override.reason}
        if override.action == "replace":
            doses[override.index_after] = row
        else:
            doses.append(row)
        entry["doses"] = doses
        drugs[override.drug] = entry
    digest = hashlib.sha256((tables.fingerprint + json.dumps([o.to_json() for o in overrides], sort_keys=True,
                                                                default=str)).encode()).hexdigest()[:16]
    return replace(tables, drugs=drugs, fingerprint=digest)


# The book's overrides for this process: set once by the command that read book.yaml
# (`check`, `build`), read by the pipeline. Worker processes get them as initargs.
_ACTIVE: dict[str, Any] = {"overrides": (), "tables": None}


def use_overrides(overrides: Sequence[FormularyOverride]) -> None:
    """Make the checks of this process use the book's overrides (an empty sequence: the packaged data)."""
    _ACTIVE["overrides"] = tuple(overrides)
    _ACTIVE["tables"] = None


def active_overrides() -> tuple[FormularyOverride, ...]:
    """The overrides in use."""
    return tuple(_ACTIVE["overrides"])


def active_tables() -> Tables:
    """The packaged tables with the book's overrides applied (the packaged tables when there are none)."""
    from compiler.tables import load

    base = load()
    overrides = active_overrides()
    if not overrides:
        return base
    cached = _ACTIVE["tables"]
    if cached is None or cached[0] != base.fingerprint:
        cached = (base.fingerprint, apply_overrides(base, overrides))
        _ACTIVE["tables"] = cached
    tables: Tables = cached[1]
    return tables


def active_fingerprint() -> str:
    """A part of every check cache key: empty without overrides, else the overridden tables' fingerprint."""
    return active_tables().fingerprint if active_overrides() else ""
