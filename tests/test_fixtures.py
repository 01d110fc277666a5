"""One parametrised runner for every rule fixture: tests/fixtures/<CODE>/{fail,pass}_*.

Expectations are written inline, mypy-style: `// expect: CODE` on the offending line,
`// expect-line-N: CODE` for a finding on another line (e.g. line 1 of a binary file),
or in a sidecar `<name>.expect` file ("LINE CODE" per line) where the fixture cannot
hold text (an empty file, a directory). `// max-bytes: N` lowers the size limit.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from compiler.checks import load_rules
from compiler.diagnostics import REGISTRY
from compiler.pipeline import Compiled, book_diagnostics, compile_file, find_protocols
from tests.conftest import FIXTURES, TODAY

EXPECT = re.compile(r"//\s*expect(?:-line-(\d+))?:\s*([A-Z][0-9]{3}(?:\s*,\s*[A-Z][0-9]{3})*)")
MAX_BYTES = re.compile(r"//\s*max-bytes:\s*(\d+)")


def fixtures() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("[A-Z][0-9][0-9][0-9]/*") if p.name.startswith(("fail_", "pass_"))
                  and p.suffix != ".expect")


def expectations(path: Path) -> set[tuple[str, int, str]]:
    expected: set[tuple[str, int, str]] = set()
    sidecar = path.with_suffix(".expect") if path.suffix else path.parent / (path.name + ".expect")
    if sidecar.exists():
        for line in sidecar.read_text().split("\n"):
            if line.strip():
                number, code = line.split()
                expected.add((str(path), int(number), code))
    files = sorted(path.rglob("*.protocol")) if path.is_dir() else [path]
    for file in files:
        if not file.is_file():
            continue
        text = file.read_bytes().decode("utf-8", errors="replace")
        for number, line in enumerate(text.split("\n"), start=1):
            for match in EXPECT.finditer(line):
                target = int(match.group(1)) if match.group(1) else number
                for code in match.group(2).split(","):
                    expected.add((str(file), target, code.strip()))
    return expected


def compile_fixture(path: Path) -> list[tuple[str, int, str]]:
    if path.is_dir() and not path.name.endswith(".protocol"):
        results: list[Compiled] = [compile_file(p, TODAY) for p in find_protocols([path])]
        found = [d for r in results for d in r.diagnostics] + book_diagnostics(results)
    else:
        head = path.read_bytes()[:200].decode("utf-8", errors="replace") if path.is_file() else ""
        limit = MAX_BYTES.search(head)
        kwargs = {"max_bytes": int(limit.group(1))} if limit else {}
        found = list(compile_file(path, TODAY, **kwargs).diagnostics)
    return [(d.span.file, d.span.line, d.code) for d in found if d.acknowledged is None]


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture(path: Path) -> None:
    found = compile_fixture(path)
    expected = expectations(path)
    code = path.parent.name
    if path.name.startswith("fail_"):
        assert any(c == code for _, _, c in expected), "a fail fixture must expect its own code"
    else:
        assert not any(c == code for _, _, c in found), f"pass fixture reports {code}"
    assert sorted(set(found)) == sorted(expected)
    assert len(found) == len(set(found)), "a finding is reported twice"


def test_every_code_has_fixtures_and_docs() -> None:
    load_rules()
    for code, rule in REGISTRY.items():
        folder = FIXTURES / code
        names = [p.name for p in folder.iterdir()] if folder.exists() else []
        assert any(n.startswith("fail_") for n in names), f"{code} has no failing fixture"
        assert any(n.startswith("pass_") for n in names), f"{code} has no passing fixture"
        for heading in ("What it checks:", "Why it matters:", "Example:", "Use instead:", "Source:"):
            assert heading in rule.doc, f"{code} doc lacks '{heading}'"
        assert rule.summary and rule.summary == rule.summary.strip()


def test_fixture_folders_name_registered_codes() -> None:
    load_rules()
    for folder in FIXTURES.glob("[A-Z][0-9][0-9][0-9]"):
        assert folder.name in REGISTRY, f"fixtures for unregistered code {folder.name}"
