"""The validation report: what a quality officer reads and signs for a version.

For every protocol: its identity (id, version, status, source hash), every finding,
every acknowledgement with its justification, the open review queries, the values the
checks computed (BED/EQD2 per fractionation, Calvert caps), the versions of the
compiler and of every data table used, and the data audit of the dose rows the protocols
rest on (range, hard limit, source, section, age; the book's `formulary_overrides` with
their reasons).
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2

from compiler import __version__
from compiler import model as m
from compiler.bookconfig import BookConfig
from compiler.data_audit import Audit, audit
from compiler.diagnostics import Diagnostic
from compiler.pipeline import Compiled, summarize
from compiler.tables import DATA_DIR, DATA_FILES, Tables, load

SITE = Path(__file__).resolve().parent / "site"
LAST_REVIEWED = re.compile(r"^last_reviewed:\s*(\S+)", re.MULTILINE)


@dataclass(frozen=True)
class DataFileVersion:
    """One packaged data table as used for the check."""

    name: str
    last_reviewed: str
    sha256: str


def data_versions() -> list[DataFileVersion]:
    """The data tables, their review dates and content hashes."""
    out: list[DataFileVersion] = []
    for name in DATA_FILES:
        path = DATA_DIR / name
        if not path.exists():
            continue
        raw = path.read_bytes()
        match = LAST_REVIEWED.search(raw.decode("utf-8", errors="replace"))
        out.append(DataFileVersion(name, match.group(1) if match else "—", hashlib.sha256(raw).hexdigest()[:16]))
    return out


def computed_values(protocol: m.Protocol, tables: Tables) -> list[dict[str, str]]:
    """Values the checks computed, with where they come from."""
    from compiler.dosing import calvert_cap, calvert_parameters
    from compiler.radiobiology import fractionation_values

    rows: list[dict[str, str]] = []
    for values in fractionation_values(protocol, tables):
        note = " — LQ-model onbetrouwbaar bij deze dosis per fractie" if values.lq_unreliable else ""
        rows.append({"line": str(values.item.span.line), "what": "radiotherapie", "value": values.summary() + note})
    parameters = calvert_parameters(tables)
    if parameters is not None:
        for item in protocol.all_items():
            for auc in _carboplatin_aucs(item, tables):
                cap = calvert_cap(auc, parameters)
                rows.append({"line": str(item.span.line), "what": "carboplatine (Calvert)",
                             "value": f"AUC {auc}: maximaal {cap} mg (GFR begrensd op {parameters.gfr_cap} mL/min)"})
    for row in rows:
        row["value"] = NL_DECIMAL.sub(r"\1,\2", row["value"])  # the report is in Dutch: 16,3 Gy
    return rows


NL_DECIMAL = re.compile(r"([0-9])\.([0-9])")


def _carboplatin_aucs(item: m.Item, tables: Tables) -> list[Decimal]:
    """AUC doses of carboplatin written on a drug line or supplied by a library regimen."""
    out: list[Decimal] = []
    if isinstance(item, m.DrugLine) and item.drug_id == "carboplatin":
        out.extend(Decimal(p.dose.amount.value) for p in item.phases if p.dose is not None and p.dose.unit == "AUC")
    elif isinstance(item, m.RegimenLine) and item.regimen_id is not None:
        for drug in (tables.regimens.get(item.regimen_id) or {}).get("drugs") or []:
            if drug.get("drug") == "carboplatin" and str(drug.get("unit", "")).upper() == "AUC":
                dose = drug.get("dose")
                values = dose if isinstance(dose, list) else [dose]
                out.extend(Decimal(str(v)) for v in values if v is not None)
    return out


def _entry(result: Compiled, extra: Sequence[Diagnostic], tables: Tables) -> dict[str, Any]:
    diagnostics = sorted([*result.diagnostics, *(d for d in extra if d.span.file == result.path)],
                         key=Diagnostic.sort_key)
    open_findings = [d for d in diagnostics if d.acknowledged is None]
    protocol = result.protocol
    queries = [(i.span.line, i.text.value if i.text else "") for i in (protocol.all_items() if protocol else [])
               if isinstance(i, m.Query)]
    return {
        "path": result.path,
        "summary": summarize(result),
        "counts": {level: sum(1 for d in open_findings if d.severity.value == level)
                   for level in ("error", "warning", "info")},
        "findings": open_findings,
        "acknowledged": [d for d in diagnostics if d.acknowledged is not None],
        "queries": queries,
        "computed": computed_values(protocol, tables) if protocol is not None else [],
    }


def _used_drugs(results: Sequence[Compiled], tables: Tables) -> set[str]:
    """The drugs the protocols give: their drug lines and their library regimens' drugs."""
    used: set[str] = set()
    for result in results:
        for item in result.protocol.all_items() if result.protocol is not None else []:
            if isinstance(item, m.DrugLine) and item.drug_id is not None:
                used.add(item.drug_id)
            elif isinstance(item, m.RegimenLine) and item.regimen_id is not None:
                entry = tables.regimens.get(item.regimen_id) or {}
                drugs = [*(entry.get("drugs") or []), *(d for p in entry.get("phases") or [] for d in p.get("drugs") or [])]
                used.update(str(d.get("drug")) for d in drugs if d.get("drug"))
    return used


def data_audit(results: Sequence[Compiled], tables: Tables, today: datetime.date,
               config: BookConfig | None = None) -> Audit:
    """The data audit of the dose rows the reported protocols rest on, the book's overrides applied."""
    config = config or BookConfig()
    used = _used_drugs(results, tables) | {o.drug for o in config.formulary_overrides}
    return audit(tables, today, config.data_review_years, config.formulary_overrides, sorted(used))


def render_report(results: Sequence[Compiled], extra: Sequence[Diagnostic], today: datetime.date | None = None,
                  config: BookConfig | None = None, language: str | None = None) -> str:
    """The validation report of one or more protocols as a self-contained HTML page.

    Its language is `language`, or the sheets' own when they share one (Dutch otherwise):
    framing words from compiler.i18n, messages translated where the catalogue knows them,
    numbers in the language's notation; codes are never translated. It includes the data
    audit of the dose rows the protocols rest on, with the book's overrides.
    """
    from compiler import i18n

    tables = load()
    day = today or datetime.date.today()
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(SITE), autoescape=True)
    entries = [_entry(result, extra, tables) for result in results]
    if language is None:
        found = {str(e["summary"].get("language") or "nl") for e in entries}
        language = found.pop() if len(found) == 1 else "nl"
    language = language if language in i18n.LANGUAGES else "nl"

    def t(key: str, **values: object) -> str:
        return i18n.word(key, language, **values)

    return environment.get_template("validation.html.j2").render(
        entries=entries, version=__version__, data=data_versions(), fingerprint=tables.fingerprint,
        today=day.isoformat(), audit=data_audit(results, tables, day, config), language=language, t=t,
        message=lambda text: i18n.message(text, language))
