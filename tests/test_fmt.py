"""`protocolc fmt`: canonical layout, idempotent, and never a change of meaning.

Every shipped protocol and every fixture that decodes and parses is formatted; its model
(compiler.model.to_json without spans and without the as-written spelling of numbers,
units, routes and frequencies, whose read values are still compared) must not change,
its findings may only lose the notation warnings the formatter fixes, and formatting
twice gives the same text.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from compiler import model as m
from compiler.build import build
from compiler.fmt import FormatError, format_text
from compiler.model import to_json
from compiler.parse import parse
from compiler.pipeline import compile_text
from compiler.source import Span, decode, scan_indentation
from tests.conftest import FIXTURES, ROOT, TODAY

SHIPPED = sorted((ROOT / "protocols").rglob("*.protocol"))
ALL = [p for p in [*SHIPPED, *sorted(FIXTURES.rglob("*.protocol"))] if p.is_file()]
NO_SPAN = Span("", 0, 0, 0, 0)
# as-written fields: the formatter may respell them; the read value next to them is compared
WRITTEN = {("Number", "text"), ("Dose", "unit_text"), ("Route", "text"), ("Frequency", "text"),
           ("CycleDays", "text"), ("Protocol", "sha256"), ("Protocol", "path")}
# findings the formatter removes by respelling (all warnings)
FIXED_BY_FMT = {"N010", "N011", "N012", "N016", "N017", "N020"}

HEAD = ("id: fx\ntitle: T\nversion: 1.0\nstatus: draft\nlanguage: {lang}\nowner: O\nauthor: A\n"
        "next review: 2028-01-01\nscope: S\nreference: R\n\n# Sectie {{s}}\n")


def without_spans(value: Any) -> Any:
    """The model with every span (and every as-written spelling) blanked, for `to_json`."""
    if isinstance(value, Span):
        return NO_SPAN
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            if (type(value).__name__, f.name) in WRITTEN:
                changes[f.name] = ""
            else:
                changes[f.name] = without_spans(getattr(value, f.name))
        return dataclasses.replace(value, **changes)  # type: ignore[type-var]
    if isinstance(value, tuple):
        return tuple(without_spans(v) for v in value)
    return value


def model_of(path: str, text: str) -> tuple[Any, list[tuple[str, str]]]:
    source, problems = decode(path, text.encode("utf-8"))
    assert source is not None and not problems
    assert not scan_indentation(source)
    parsed = parse(source)
    assert parsed.tree is not None and not parsed.problems
    protocol, diagnostics = build(source, parsed.tree)
    return to_json(without_spans(protocol)), [(d.code, d.message) for d in diagnostics]


def fmt(text: str) -> str:
    return format_text("t.protocol", text.encode("utf-8")).text


def formattable(path: Path) -> str | None:
    raw = path.read_bytes()
    source, problems = decode(str(path), raw)
    if source is None or problems or scan_indentation(source):
        return None
    parsed = parse(source)
    if parsed.tree is None or parsed.problems:
        return None
    return source.text


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(ROOT)))
def test_formatting_keeps_the_model_and_is_idempotent(path: Path) -> None:
    text = formattable(path)
    if text is None:
        with pytest.raises(FormatError):
            format_text(str(path), path.read_bytes())
        return
    once = format_text(str(path), path.read_bytes()).text
    assert model_of(str(path), once) == model_of(str(path), text)
    assert fmt(once) == once
    assert once.endswith("\n") or once == ""
    assert all(line == line.rstrip() or line.strip() == "-" for line in once.split("\n"))
    assert "\n\n\n" not in once


@pytest.mark.parametrize("path", [p for p in ALL if p.parent.name.startswith("N") or p in SHIPPED
                                  or p.parent.name == "seeds"], ids=lambda p: str(p.relative_to(ROOT)))
def test_formatting_only_removes_the_warnings_it_fixes(path: Path) -> None:
    text = formattable(path)
    if text is None:
        pytest.skip("does not decode or parse")
    before = Counter(d.code for d in compile_text(str(path), text.encode(), TODAY).diagnostics)
    after = Counter(d.code for d in compile_text(str(path), fmt(text).encode(), TODAY).diagnostics)
    assert not after - before
    assert set((before - after).keys()) <= FIXED_BY_FMT


def test_shipped_protocols_are_formatted() -> None:
    for path in SHIPPED:
        assert not format_text(str(path), path.read_bytes()).changed, path


def test_layout() -> None:
    text = HEAD.format(lang="nl") + (
        "Tekst  met   spaties   // een  commentaar  \n"
        "Aromataseremmers:\n"
        "    * DRUG letrozole   (Femara)  2.5 mg  PO  Daily ,tablet\n"
        "    - drug paclitaxel 80 mg/m² i.v. days 1,8,15 , cycle 28 days, infusion 60 min\n"
        "\n\n\n"
        "    // over de volgende regel\n"
        "    - drug denosumab 120 mg SC every 4 weeks\n"
        "NOTA: zie §s\n"
        "rt 8 × 7.5 Gy = 60 Gy, 2 – 3 x / week\n"
        "WHEN PD-L1 TPS ≥ 50 % :\n"
        "    drug carboplatin AUC 5 IV every 3 to 4 weeks, infusion 30 min\n\n\n"
    )
    assert fmt(text) == HEAD.format(lang="nl") + (
        "Tekst  met   spaties  // een  commentaar\n"
        "Aromataseremmers:\n"
        "  - drug letrozole (Femara) 2,5 mg po daily, tablet\n"
        "  - drug paclitaxel 80 mg/m2 IV days 1, 8, 15, cycle 28 days, infusion 60 min\n"
        "\n"
        "  // over de volgende regel\n"
        "  - drug denosumab 120 mg subcut every 4 weeks\n"
        "note: zie §s\n"
        "rt 8 x 7,5 Gy = 60 Gy, 2-3 x/week\n"
        "when PD-L1 TPS >= 50%:\n"
        "  drug carboplatin AUC 5 IV every 3 to 4 weeks, infusion 30 min\n"
    )


def test_metadata_keys_get_their_english_spelling() -> None:
    text = "id: fx\ntitel:Titel  \nversie: 1.0\nvolgende  herziening: 2028-01-01\nbron: R // c\n"
    assert fmt(text) == "id: fx\ntitle: Titel\nversion: 1.0\nnext review: 2028-01-01\nreference: R  // c\n"


def test_english_documents_get_decimal_points() -> None:
    out = fmt(HEAD.format(lang="en") + "drug letrozole 2,5 mg po daily\n")
    assert out.endswith("drug letrozole 2.5 mg po daily\n")


@pytest.mark.parametrize("line", [
    "drug letrozole 2,5 mg po qd",            # N002: a person decides
    "drug anastrozole 1,0 mg po daily",       # N003
    "drug anastrozole ,5 mg po daily",        # N004
    "drug capecitabine 2.500 mg po twice daily",  # N018: 2,5 or 2500?
    "drug heparin 5000 U subcut daily",       # N001
    "drug fluorouracil 600 mg intrahepatic every 3 weeks",  # not the same words as intra-arterial
    "Dosis 2.5 mg, SC, qd en  twee   spaties.",  # prose is never touched
])
def test_what_the_formatter_leaves_alone(line: str) -> None:
    text = HEAD.format(lang="nl") + line + "\n"
    assert fmt(text) == text


def test_empty_bullet_keeps_its_space() -> None:
    text = HEAD.format(lang="nl") + "-   \n"
    out = fmt(text)
    assert out.endswith("\n- \n")
    assert fmt(out) == out


def test_syntax_error_is_refused() -> None:
    with pytest.raises(FormatError, match="missing unit"):
        fmt(HEAD.format(lang="nl") + "drug letrozole 2,5 po daily\n")
    with pytest.raises(FormatError, match="UTF-8"):
        format_text("t.protocol", b"id: x\n\xe9\n")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compiler", "fmt", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_cli_check_rewrite_and_refusal(tmp_path: Path) -> None:
    messy = tmp_path / "a.protocol"
    original = HEAD.format(lang="nl") + "drug letrozole  2.5 mg po daily   \n"
    messy.write_text(original, encoding="utf-8")
    broken = tmp_path / "b.protocol"
    broken.write_text(HEAD.format(lang="nl") + "drug letrozole 2,5 po daily\n", encoding="utf-8")

    result = run_cli("--check", str(messy))
    assert result.returncode == 1 and "would reformat" in result.stdout
    assert messy.read_text(encoding="utf-8") == original

    result = run_cli(str(tmp_path))
    assert result.returncode == 1  # b.protocol refused
    assert "not formatted" in result.stderr and "b.protocol" in result.stderr
    assert "Traceback" not in result.stderr
    assert messy.read_text(encoding="utf-8").endswith("drug letrozole 2,5 mg po daily\n")
    assert (tmp_path / "a.protocol~").read_text(encoding="utf-8") == original
    assert not (tmp_path / "b.protocol~").exists()

    assert run_cli("--check", str(messy)).returncode == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli(str(empty))
    assert result.returncode == 2 and "no .protocol files" in result.stderr


def test_model_equality_helper_sees_a_changed_dose() -> None:
    base = HEAD.format(lang="nl")
    assert model_of("t", base + "drug letrozole 2,5 mg po daily\n") == model_of("t", base + "drug letrozole 2.5 mg po daily\n")
    assert model_of("t", base + "drug letrozole 2,5 mg po daily\n") != model_of("t", base + "drug letrozole 25 mg po daily\n")
    assert isinstance(m.Number, type)


def test_cli_diff_prints_the_changes_and_writes_nothing(tmp_path: Path) -> None:
    messy = tmp_path / "a.protocol"
    original = HEAD.format(lang="nl") + "drug letrozole  2.5 mg po daily   \n"
    messy.write_text(original, encoding="utf-8")
    result = run_cli("--diff", str(messy))
    assert result.returncode == 1
    assert f"--- {messy}" in result.stdout and "-drug letrozole  2.5 mg po daily   " in result.stdout
    assert "+drug letrozole 2,5 mg po daily" in result.stdout
    assert messy.read_text(encoding="utf-8") == original and not (tmp_path / "a.protocol~").exists()
    run_cli(str(messy))
    assert run_cli("--diff", str(messy)).returncode == 0
