"""The documentation's examples are real: every `protocol` block in docs/language.md and the
README tour parse without syntax errors, and the complete example checks clean."""

from __future__ import annotations

import re

import pytest

from compiler.pipeline import compile_text
from tests.conftest import ROOT

BLOCK = re.compile(r"```protocol\n(.*?)```", re.DOTALL)
LANGUAGE = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
BLOCKS = BLOCK.findall(LANGUAGE)


def test_language_doc_has_examples() -> None:
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_language_doc_example_parses(index: int) -> None:
    text = BLOCKS[index]
    if not text.lstrip().startswith(("id:", "#")):
        text = "# Voorbeeld\n" + text
    result = compile_text(f"docs/language.md#example-{index}", text.encode())
    syntax = [f"{d.span.line}: {d.message}" for d in result.diagnostics if d.code.startswith("P")]
    assert not syntax


def test_complete_example_checks_without_errors() -> None:
    complete = max(BLOCKS, key=len)
    assert complete.lstrip().startswith("id:")
    result = compile_text("docs/language.md#complete", complete.encode())
    errors = [f"{d.span.line}:{d.code} {d.message}" for d in result.diagnostics if d.severity.value == "error"]
    assert not errors


def test_readme_tour_checks_clean() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = re.search(r"```\n(id: .*?)```", readme, re.DOTALL)
    assert tour is not None
    result = compile_text("README.md#tour", tour.group(1).encode())
    assert not result.diagnostics, [d.message for d in result.diagnostics]
