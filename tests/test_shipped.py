"""The shipped procedure book: it checks clean, and its stages match the golden files.

Goldens are updated only on purpose: `python -m pytest tests/test_shipped.py --update-goldens`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from compiler.model import to_json
from compiler.parse import parse
from compiler.pipeline import compile_file, find_protocols
from tests.conftest import FIXTURES, ROOT, TODAY
from tests.goldens_io import check_golden

SHIPPED = find_protocols([ROOT / "protocols"])
GOLDENS = ROOT / "tests" / "goldens"


def test_three_seed_protocols_are_shipped() -> None:
    ids = {compile_file(p, TODAY).protocol.meta.id.value for p in SHIPPED}  # type: ignore[union-attr]
    assert {"emmaus-gemetastaseerd-borstcarcinoom", "doelgerichte-therapie-borstkanker",
            "nsclc-immuuntherapie"} <= ids


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_protocol_has_no_errors(path: Path) -> None:
    result = compile_file(path, TODAY)
    errors = [f"{d.span.line}:{d.code} {d.message}" for d in result.diagnostics
              if d.severity.value == "error" and d.acknowledged is None]
    assert not errors


def _golden(name: str, text: str, update: bool) -> None:
    check_golden(GOLDENS / name, text, update)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_stage_goldens(path: Path, update_goldens: bool) -> None:
    result = compile_file(path, TODAY)
    assert result.source is not None and result.protocol is not None
    tree = parse(result.source).tree
    assert tree is not None
    _golden(f"{path.stem}.tree.txt", tree.pretty(), update_goldens)
    model = json.dumps(to_json(result.protocol), indent=1, ensure_ascii=False, sort_keys=False) + "\n"
    _golden(f"{path.stem}.model.json", model, update_goldens)
    diagnostics = "".join(f"{d.span.line}:{d.span.column} {d.severity.value}[{d.code}] {d.message}\n"
                          for d in result.diagnostics)
    _golden(f"{path.stem}.diagnostics.txt", diagnostics, update_goldens)


VERBATIM = FIXTURES / "seeds" / "emmaus_as_published.protocol"


def test_verbatim_emmaus_yields_exactly_its_findings() -> None:
    expected_file = VERBATIM.with_suffix(".expected")
    expected = sorted(tuple(line.split()[:2]) for line in expected_file.read_text().splitlines()
                      if line.strip() and not line.startswith("#"))
    result = compile_file(VERBATIM, TODAY)
    found = sorted((str(d.span.line), d.code) for d in result.diagnostics)
    assert found == expected


def test_verbatim_emmaus_catches_the_seed_slips() -> None:
    result = compile_file(VERBATIM, TODAY)
    codes = {d.code for d in result.diagnostics}
    messages = " ".join(d.message for d in result.diagnostics)
    assert "X001" in codes and "[Emmaüs versie]" in messages  # the footer placeholder
    assert "F001" in codes and re.search(r"zolendronaat", messages, re.IGNORECASE)  # misspelled drug
    assert "F003" in codes  # MTX, TDM1, Adria, Pembro
    for jargon in ("MTX", "TDM1", "Adria", "Pembro"):
        assert re.search(rf"`{jargon}`", messages, re.IGNORECASE), jargon
