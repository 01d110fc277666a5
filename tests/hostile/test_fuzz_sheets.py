"""Grammar-based and mutation fuzzing of the compiler (issue 12).

Hypothesis builds sheets from fragments of the language (every statement form, with
ordinary, zero, huge and 5,000-digit numbers, deep `not` chains and nesting) and mutates
the shipped protocols (random bytes, invisible and bidirectional characters, CR and
form feeds, huge numbers, lines duplicated, dropped and re-indented). The invariant:
compiling never raises, every diagnostic is complete (a registered code, a severity, a
message, a span inside the file, a hint), the model serialises, and the formatter
either formats or refuses with FormatError.

CI runs a bounded number of examples (about 15 s). A longer run:

    PROTOCOLC_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest -q tests/hostile/test_fuzz_sheets.py

Every example also runs under an alarm of 60 s, so a hang fails the test rather than CI.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.diagnostics import REGISTRY, Severity
from compiler.fmt import FormatError, format_text
from compiler.model import to_json
from compiler.pipeline import Compiled, compile_text
from tests.conftest import TODAY
from tests.hostile import HEADER

ROOT = Path(__file__).resolve().parent.parent.parent
SHIPPED = tuple(p.read_bytes() for p in sorted((ROOT / "protocols").rglob("*.protocol")))
EXAMPLES = int(os.environ.get("PROTOCOLC_FUZZ_EXAMPLES", "40"))

NUMBERS = st.one_of(
    st.integers(0, 40).map(str),
    st.sampled_from(["0", "2,5", "2.5", ".5", "1000000", "999999999", "2,5.0", "1,2,3", "00000000000001"]),
    st.integers(1, 5000).map(lambda n: "9" * n),
    st.integers(13, 400).map(lambda n: "1," + "0" * n),
)
WORDS = st.sampled_from(["letrozole", "paclitaxel", "carboplatin", "trastuzumab", "HER2+", "PD-L1", "ANC", "line",
                         "EC75", "x", "Femara", "onbekend", "ER+", "CrCl", "premenopausal", "SRT"])
INVISIBLE = st.sampled_from(["\u200b", "\u200e", "\u202e", "\u2066", "\ufeff", "\u00a0", "\u00ad", "\t", "\r", "\x0b",
                             "\x0c", "\u2028", "\u2029", "\x85", "\x1b[31m", "\u0301", "😀", "\\", '"', "//", "§", "{"])


@st.composite
def statement(draw: st.DrawFn) -> str:
    n = [draw(NUMBERS) for _ in range(6)]
    word = draw(WORDS)
    forms = [
        f"drug {word} {n[0]} mg po daily",
        f"drug {word} {n[0]} mg/m2 IV days {n[1]}-{n[2]}, {n[3]} cycles, every {n[4]} days",
        f"drug {word} ({word}) {n[0]} mg/kg IV then {n[1]} mg/kg IV every {n[2]} weeks for {n[3]} years, "
        f"infusion first {n[4]} min then {n[5]} min",
        f"drug {word} AUC {n[0]} IV q{n[1]}d max {n[2]} months",
        f"drug {word} {n[0]}-{n[1]} mg po {n[2]} days on {n[3]} days off, cycle {n[4]} days",
        f"drug {word} {n[0]} mg po daily, syrup ({n[1]} mg/{n[2]} mL)",
        f"drug {word} {n[0]} mg po days {', '.join(n)} of a {n[3]}-day cycle until progression",
        f"regimen {word} {n[0]} cycles, cycle {n[1]} weeks",
        f"rt {n[0]} x {n[1]} Gy = {n[2]} Gy site {word}, technique SRT, {n[3]} x/week",
        f"rt up to {n[0]} Gy",
        f"when {word} >= {n[0]}%:",
        "when " + "not " * draw(st.integers(0, 1200)) + f"{word}:",
        f"when {'(' * draw(st.integers(0, 40))}{word}{')' * draw(st.integers(0, 40))}:",
        f"when {' and '.join([word] * draw(st.integers(1, 60)))}:",
        "otherwise:",
        f"decision: {word}",
        f"only when {word} or not {word}",
        f"exclude when {word} = {n[0]}",
        f"preferably with {word} or {word}",
        f"note: {word} §{word}",
        f'query: "{word}"',
        f'allow {draw(st.sampled_from(["D001", "S002", "P017", "X999", "C001"]))} "{word}"',
        f"- drug {word} {n[0]} mg po daily",
        f"{word} prose with §{word} and {n[0]}",
        f"{'#' * draw(st.integers(1, 12))} {n[0]} {word} {{{word.lower()}}}",
        f"version: {n[0]}.{n[1]}",
        f"next review: {n[0]}-{n[1]}-{n[2]}",
    ]
    return draw(st.sampled_from(forms))


@st.composite
def generated_sheet(draw: st.DrawFn) -> bytes:
    lines = ["# Sectie {sectie}"]
    depth = 0
    for _ in range(draw(st.integers(1, 30))):
        depth = max(0, min(40, depth + draw(st.integers(-3, 2))))
        lines.append("  " * depth + draw(statement()))
    return (HEADER + "\n".join(lines) + "\n").encode("utf-8", errors="surrogatepass")


@st.composite
def mutated_sheet(draw: st.DrawFn) -> bytes:
    lines = draw(st.sampled_from(SHIPPED)).decode("utf-8").split("\n")
    for _ in range(draw(st.integers(1, 8))):
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        action = draw(st.integers(0, 7))
        position = draw(st.integers(0, len(line)))
        if action == 0:
            lines[index] = line[:position] + draw(INVISIBLE) + line[position:]
        elif action == 1:
            lines[index] = line[:position] + draw(NUMBERS) + line[position:]
        elif action == 2:
            lines.insert(index, line)
        elif action == 3 and len(lines) > 1:
            del lines[index]
        elif action == 4:
            lines[index] = " " * draw(st.integers(0, 90)) + line.lstrip(" ")
        elif action == 5:
            lines.insert(index, "  " * draw(st.integers(0, 5)) + draw(statement()))
        elif action == 6:
            lines[index] = line[:position]
        else:
            lines[index] = line * draw(st.integers(2, 50))
    raw = "\n".join(lines).encode("utf-8")
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(raw)))
        raw = raw[:cut] + draw(st.binary(max_size=8)) + raw[cut:]
    return raw


@contextmanager
def alarm(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging CI) when one example runs longer than `seconds`."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"one example ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def assert_complete(result: Compiled, raw: bytes) -> None:
    """Every diagnostic carries a registered code, severity, message, an in-file span and a hint."""
    lines = raw.count(b"\n") + raw.count(b"\r") + 2
    for d in result.diagnostics:
        assert d.code in REGISTRY, d
        assert isinstance(d.severity, Severity)
        assert d.message.strip() and d.hint.strip(), d
        assert 1 <= d.span.line <= lines and d.span.column >= 1, d
        assert (d.span.end_line, d.span.end_column) >= (d.span.line, d.span.column) or d.span.end_line >= d.span.line, d
        json.dumps(d.to_json())


def run(raw: bytes) -> None:
    with alarm(60):
        result = compile_text("fuzz.protocol", raw, TODAY)
        assert_complete(result, raw)
        if result.protocol is not None:
            json.dumps(to_json(result.protocol))
        try:
            format_text("fuzz.protocol", raw)
        except FormatError:
            pass


FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 100,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(generated_sheet())
def test_generated_sheets_compile_cleanly(raw: bytes) -> None:
    run(raw)


@FUZZ
@given(mutated_sheet())
def test_mutated_shipped_sheets_compile_cleanly(raw: bytes) -> None:
    run(raw)


# Crashes the fuzzer found, kept as regressions (the minimal form of each).
FOUND = {
    # scan_indentation recovers from a bad dedent by treating it as a block; once the
    # parser blanks that line, the lines after it dedent to no block: Lark's DedentError
    "dedent-after-blanked-line": "Label:\n    b\n  c\n  d\n",
}


def test_crashes_found_by_fuzzing_stay_fixed() -> None:
    for body in FOUND.values():
        raw = (HEADER + "# S {s}\n" + body).encode()
        run(raw)
        assert any(d.code == "P001" for d in compile_text("fuzz.protocol", raw, TODAY).diagnostics)
