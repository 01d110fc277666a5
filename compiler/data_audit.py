"""The data audit: every formulary dose row with its range, hard limit, source and age.

What a pharmacist reads before signing for the data a book is checked against: per drug,
each row's usual range, hard maximum (per administration and per day), use, source and
its type, section, the date it was last verified and how old that is. A row older than
the review interval (default 2 years, `data_review_years` in book.yaml) is flagged; a row
without a source is an error (the audit exits non-zero). A hospital's overrides from
`book.yaml` (`formulary_overrides`) are applied and listed with their reason.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from compiler.dosing import dec, plain
from compiler.overrides import FormularyOverride, apply_overrides, placed
from compiler.tables import Tables

DEFAULT_REVIEW_YEARS = 2.0


@dataclass(frozen=True)
class AuditRow:
    """One dose row as the audit shows it."""

    drug_id: str
    drug: str
    index: int
    route: str
    unit: str
    usual: str
    max: str
    max_daily: str
    frequency: str
    use: str
    source: str
    source_type: str
    section: str
    last_verified: str
    age_days: int | None
    stale: bool
    unverified: bool
    origin: str
    reason: str

    @property
    def problems(self) -> list[str]:
        """What is wrong with the row (a missing source is an error; the rest are flags)."""
        out = []
        if not self.source:
            out.append("no source")
        if not self.last_verified:
            out.append("no last_verified date")
        if self.stale:
            out.append("older than the review interval")
        if self.unverified:
            out.append("unverified")
        return out

    def to_json(self) -> dict[str, Any]:
        """The row as a JSON object."""
        return {"drug_id": self.drug_id, "drug": self.drug, "row": self.index, "route": self.route, "unit": self.unit,
                "usual": self.usual, "max": self.max, "max_daily": self.max_daily, "frequency": self.frequency,
                "use": self.use, "source": self.source, "source_type": self.source_type, "section": self.section,
                "last_verified": self.last_verified, "age_days": self.age_days, "stale": self.stale,
                "unverified": self.unverified, "origin": self.origin, "reason": self.reason,
                "problems": self.problems}


@dataclass(frozen=True)
class Audit:
    """The audit of the formulary (or of some drugs of it) on a day."""

    today: datetime.date
    review_years: float
    rows: tuple[AuditRow, ...]
    overrides: tuple[FormularyOverride, ...]

    @property
    def missing_source(self) -> tuple[AuditRow, ...]:
        """Rows without a source: the audit fails."""
        return tuple(r for r in self.rows if not r.source)

    def counts(self) -> dict[str, Any]:
        """Totals: drugs, rows, verified, stale, without source, rows per source type."""
        per_type: dict[str, int] = {}
        for row in self.rows:
            per_type[row.source_type or "unknown"] = per_type.get(row.source_type or "unknown", 0) + 1
        return {"drugs": len({r.drug_id for r in self.rows}), "rows": len(self.rows),
                "verified": sum(1 for r in self.rows if not r.unverified),
                "unverified": sum(1 for r in self.rows if r.unverified),
                "stale": sum(1 for r in self.rows if r.stale), "without_source": len(self.missing_source),
                "overrides": len(self.overrides), "source_types": dict(sorted(per_type.items()))}

    def to_json(self) -> dict[str, Any]:
        """The whole audit as JSON."""
        return {"today": self.today.isoformat(), "review_years": self.review_years, "counts": self.counts(),
                "rows": [r.to_json() for r in self.rows], "overrides": [o.to_json() for o in self.overrides]}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _amount(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list) and len(value) == 2:
        low, high = (plain(dec(v)) for v in value)
        return low if low == high else f"{low}-{high}"
    return plain(dec(value))


def _date(value: Any) -> datetime.date | None:
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        return None


def _row(drug_id: str, entry: Mapping[str, Any], index: int, row: Mapping[str, Any], today: datetime.date,
         review_years: float, origin: str, reason: str) -> AuditRow:
    verified = _date(row.get("last_verified"))
    age = (today - verified).days if verified is not None else None
    limit = Decimal(str(review_years)) * Decimal("365.25")
    names = entry.get("names") or {}
    return AuditRow(
        drug_id, _text(names.get("en") or drug_id), index, _text(row.get("route")), _text(row.get("unit")),
        _amount(row.get("usual")), _amount(row.get("max")), _amount(row.get("max_daily")) if "max_daily" in row else "",
        _text(row.get("frequency")), _text(row.get("use")), _text(row.get("source")), _text(row.get("source_type")),
        _text(row.get("section")), verified.isoformat() if verified else _text(row.get("last_verified")), age,
        age is not None and Decimal(age) > limit, bool(row.get("unverified", entry.get("unverified", True))),
        origin, reason)


def audit(tables: Tables, today: datetime.date, review_years: float = DEFAULT_REVIEW_YEARS,
          overrides: Sequence[FormularyOverride] = (), drug_ids: Iterable[str] | None = None) -> Audit:
    """Audit every dose row (of `drug_ids`, or of every drug), the book's overrides applied."""
    positioned = placed(tables, overrides)
    applied = apply_overrides(tables, positioned)
    wanted = set(drug_ids) if drug_ids is not None else None
    by_row = {(o.drug, o.index_after): o for o in positioned}
    rows: list[AuditRow] = []
    for drug_id in sorted(applied.drugs):
        if wanted is not None and drug_id not in wanted:
            continue
        entry = applied.drugs[drug_id]
        for index, row in enumerate(entry.get("doses") or []):
            override = by_row.get((drug_id, index))
            origin = f"book.yaml ({override.action})" if override is not None else "formulary.yaml"
            rows.append(_row(drug_id, entry, index, row, today, review_years, origin,
                             override.reason if override is not None else ""))
    return Audit(today, review_years, tuple(rows), positioned)


def human(result: Audit) -> str:
    """The audit as text: one block per drug, one line per row, flags in brackets."""
    lines: list[str] = []
    current = ""
    for row in result.rows:
        if row.drug_id != current:
            current = row.drug_id
            lines.append(f"{row.drug} ({row.drug_id})")
        limits = f"max {row.max}" + (f", max/day {row.max_daily}" if row.max_daily else "")
        use = f" for {row.use}" if row.use else ""
        age = f"{row.age_days} d" if row.age_days is not None else "age unknown"
        flags = f"  [{'; '.join(row.problems)}]" if row.problems else ""
        lines.append(f"  #{row.index} {row.usual} {row.unit} {row.route} {row.frequency}{use}; {limits}")
        lines.append(f"      {row.source_type or 'unknown'}: {row.source or '—'}, section {row.section or '—'}; "
                     f"verified {row.last_verified or '—'} ({age}); {row.origin}"
                     + (f": {row.reason}" if row.reason else "") + flags)
    counts = result.counts()
    lines.append("")
    lines.append(f"{counts['drugs']} drug(s), {counts['rows']} dose row(s): {counts['verified']} verified, "
                 f"{counts['unverified']} unverified, {counts['stale']} older than {plain(dec(result.review_years))} "
                 f"year(s), {counts['without_source']} without source, {counts['overrides']} override(s)")
    lines.append("rows per source type: " + ", ".join(f"{k} {v}" for k, v in counts["source_types"].items()))
    return "\n".join(lines) + "\n"
