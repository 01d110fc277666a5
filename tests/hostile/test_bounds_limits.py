"""Bounded time and memory (issue 12, items 2, 3 and 7), each case in a limited subprocess.

Every case runs `protocolc` in a child process with an address-space limit (RLIMIT_AS)
and a timeout, so a regression fails the test instead of taking the machine down. The
shapes are large enough that the old quadratic code would blow the timeout many times
over (4,000 drug lines took over two minutes; these use twice that), yet a linear
implementation checks them in seconds.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile import HEADER

ROOT = Path(__file__).resolve().parent.parent.parent
MEMORY = 2_000_000_000  # bytes of address space per case
BIG = "9" * 5000

# line of the sheet → the code it must produce (the line is the last of a one-section sheet)
HOSTILE_LINES: dict[str, tuple[str, str | None]] = {
    "billion-days": ("drug letrozole 2,5 mg po days 1-999999999", "P020"),
    "5000-digit-day": (f"drug letrozole 2,5 mg po days 1-{BIG}", "P017"),
    "repeated-ranges": ("drug letrozole 2,5 mg po days" + " 1-366" * 20000, None),  # only bounded
    "billion-cycles": ("drug letrozole 2,5 mg po daily, 999999999 cycles", "P018"),
    "billion-weeks": ("drug letrozole 2,5 mg po every 1 day for 999999999 weeks", "P018"),
    "billion-years-max": ("drug letrozole 2,5 mg po every 1 day max 999999999 years", "P018"),
    "days-on-off": ("drug letrozole 2,5 mg po 999999999 days on 7 days off", "P018"),
    "q-notation": ("drug letrozole 2,5 mg po q999999999d", "P018"),
    "cycle-of-a": ("drug letrozole 2,5 mg po days 1-14 of a 999999999-day cycle for 999999999 years", "P018"),
    "5000-digit-dose": (f"drug letrozole {BIG} mg po daily", "P017"),
    "5000-digit-interval": (f"drug letrozole 2,5 mg po every {BIG} days", "P017"),
    "5000-digit-cycles": (f"drug letrozole 2,5 mg po {BIG} cycles", "P017"),
    "5000-digit-infusion": (f"drug paclitaxel 80 mg/m2 IV weekly, infusion {BIG} min", "P017"),
    "5000-digit-auc": (f"drug carboplatin AUC {BIG} IV every 3 weeks", "P017"),
    "5000-digit-syrup": (f"drug letrozole 2,5 mg po daily, syrup ({BIG} mg/{BIG} mL)", "P017"),
    "5000-digit-rt": (f"rt {BIG} x {BIG} Gy = {BIG} Gy", "P017"),
    "billion-fractions": ("rt 999999999 x 2 Gy = 1999999998 Gy", "P018"),
    "5000-digit-per-week": (f"rt 5 x 4 Gy, {BIG} x/week", "P017"),
    "5000-digit-threshold": (f"decision: x\n  when ANC >= {BIG}:\n    Tekst.", "P017"),
    "1000-nots": ("decision: x\n  when " + "not " * 1000 + "HER2+:\n    Tekst.", "P019"),
    "200000-nots": ("decision: x\n  when " + "not " * 200_000 + "HER2+:\n    Tekst.", "P019"),
    "5000-digit-regimen": (f"regimen EC75 {BIG} cycles", "P017"),
}


def limited() -> None:
    """In the child: cap the address space (runs between fork and exec)."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def protocolc(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compiler", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=limited, check=False)


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    for name, (line, _) in HOSTILE_LINES.items():
        (folder / f"{name}.protocol").write_text(HEADER + "# S {s}\n" + line + "\n", encoding="utf-8")
    version = HEADER.replace("version: 1.0", f"version: {BIG}.{BIG}")
    (folder / "5000-digit-version.protocol").write_text(version + "# S {s}\nTekst.\n", encoding="utf-8")
    return folder


def test_every_hostile_number_is_a_diagnostic(hostile_folder: Path) -> None:
    done = protocolc("check", "--format", "json", "--no-cache", "-j", "1", str(hostile_folder))
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr.lower()
    found: dict[str, set[str]] = {}
    for d in json.loads(done.stdout)["diagnostics"]:
        found.setdefault(Path(d["file"]).stem, set()).add(d["code"])
    for name, (_, code) in HOSTILE_LINES.items():
        assert code is None or code in found.get(name, set()), (name, found.get(name))
    assert "P017" in found["5000-digit-version"]


def test_hostile_numbers_render_in_bounded_memory(hostile_folder: Path, tmp_path: Path) -> None:
    # calendars, course timelines and fractionation tables expand what the sheet says
    done = protocolc("build", "--no-pdf", "--no-cache", "-j", "1", "-q", "-o", str(tmp_path / "out"),
                     str(hostile_folder))
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode in (0, 1)


def sheet(body: list[str]) -> str:
    return HEADER + "\n".join(body) + "\n"


DRUGS = ("drug letrozole 2,5 mg po daily", "drug paclitaxel 80 mg/m2 IV weekly", "drug tamoxifen 20 mg po daily",
         "drug carboplatin AUC 5 IV days 1", "drug anastrozole 1 mg po daily")

SHAPES: dict[str, str] = {
    # the shapes, at twice the size that took minutes with pairwise arms
    "8000-drug-lines": sheet(["# Drugs {drugs}", *(DRUGS[n % 5] for n in range(8000))]),
    "10000-allow-lines": sheet(["# Drugs {drugs}", *(x for n in range(5000) for x in (
        "drug letrozole 25 mg po daily", f'  allow D00{1 + n % 3} "local trial {n}"'))]),
    "3000-bare-lines-in-one-block": sheet(["# Drugs {drugs}", "Together:", *(f"  {DRUGS[n % 5]}" for n in range(3000))]),
    "1500-decisions": sheet(["# D {d}", *(x for n in range(1500) for x in (
        f"decision: choice {n}", "  when HER2+ and ER+:", "    drug trastuzumab 600 mg subcut every 3 weeks",
        "  otherwise:", "    drug tamoxifen 20 mg po daily"))]),
    "one-decision-3000-branches": sheet(["# D {d}", "decision: big", *(x for n in range(3000) for x in (
        f"  when ANC >= {n}:", "    drug tamoxifen 20 mg po daily")), "  otherwise:",
        *("    drug letrozole 2,5 mg po daily" for _ in range(200))]),
    "8000-sections": sheet([x for n in range(8000) for x in (f"{'#' * (1 + n % 3)} Section {n} {{s{n}}}",
                                                            f"See §s{max(0, n - 1)}.")]),
    "nested-blocks": sheet(["# N {n}", *(x for n in range(150) for x in (
        *("  " * d + f"Level {d}:" for d in range(30)), "  " * 30 + "- drug tamoxifen 20 mg po daily"))]),
}


@pytest.mark.parametrize("name", SHAPES)
def test_large_shapes_check_in_bounded_time_and_memory(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.protocol"
    path.write_text(SHAPES[name], encoding="utf-8")
    done = protocolc("check", "--format", "json", "--no-cache", "-j", "1", str(path), timeout=180)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    json.loads(done.stdout)
