"""A single-line mutation that makes a shipped protocol clinically wrong is an error at that line.

Each mutation finds its line by content (so reformatting the shipped sheets does not break
the test), applies one edit, and expects an unacknowledged error of the given code on the
mutated line (or, for a deleted companion statement, on the line it applied to).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from compiler.pipeline import compile_text
from tests.conftest import ROOT, TODAY

EMMAUS = ROOT / "protocols" / "borst" / "emmaus-gemetastaseerd-borstcarcinoom.protocol"
TARGETED = ROOT / "protocols" / "borst" / "doelgerichte-therapie-borstkanker.protocol"
NSCLC = ROOT / "protocols" / "longkanker" / "nsclc-immuuntherapie.protocol"


@dataclass(frozen=True)
class Mutation:
    name: str
    path: object
    find: str
    old: str
    new: str
    code: str
    at: str | None = None  # content of the line the error is expected on, when not the mutated one


MUTATIONS = [
    Mutation("dose x10", EMMAUS, "drug letrozole (Femara)", "2,5 mg", "25 mg", "D002"),
    Mutation("dose x10 tamoxifen", EMMAUS, "drug tamoxifen (Nolvadex)", "20 mg", "200 mg", "D002"),
    Mutation("route swap", EMMAUS, "drug fulvestrant (Faslodex)", " IM ", " po ", "F005"),
    Mutation("route swap IV to po", TARGETED, "drug pertuzumab (Perjeta)", " IV ", " po ", "F005"),
    Mutation("dropped companion", TARGETED, "only with trastuzumab", "only with trastuzumab", "", "C001",
             at="drug pertuzumab (Perjeta)"),
    Mutation("day outside the cycle", TARGETED, "drug palbociclib (Ibrance)", "days 1-21", "days 1-29", "S002"),
    Mutation("wrong fractionation total", EMMAUS, "rt 5 x 4 Gy = 20 Gy site bot", "= 20 Gy", "= 25 Gy", "R001"),
    Mutation("overlapping threshold", NSCLC, "when PD-L1 TPS < 50%:", "< 50%", "< 60%", "L001",
             at="when PD-L1 TPS"),
    Mutation("interval not allowed", NSCLC, "drug pembrolizumab", "every 3 weeks", "every 6 weeks", "S003"),
]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_mutation_is_an_error_at_its_line(mutation: Mutation) -> None:
    path = mutation.path
    lines = path.read_text(encoding="utf-8").split("\n")  # type: ignore[attr-defined]
    index = next(i for i, line in enumerate(lines) if mutation.find in line)
    assert mutation.old in lines[index]
    lines[index] = lines[index].replace(mutation.old, mutation.new)
    if not lines[index].strip():
        del lines[index]
    before = compile_text(str(path), path.read_bytes(), TODAY)  # type: ignore[attr-defined]
    assert not [d for d in before.diagnostics if d.severity.value == "error"]
    after = compile_text(str(path), "\n".join(lines).encode(), TODAY)
    errors = [(d.span.line, d.code) for d in after.diagnostics
              if d.severity.value == "error" and d.acknowledged is None]
    if mutation.at is None:
        expected_lines = {index + 1}
    else:
        expected_lines = {i + 1 for i, line in enumerate(lines) if mutation.at in line}
    assert any(code == mutation.code and line in expected_lines for line, code in errors), errors
