"""The arm index (compiler.arms) gives the same partners as the pairwise rule, in linear time.

`Layout.together(a, b)` states the arm rule for one pair; the index computes every
member's partners at once from the tree (issue 12: the pairwise queries made 4,000 drug
lines take minutes). Random sheets of bullets, labels, decisions, branches, regimens and
regimen phases check that both agree.
"""

from __future__ import annotations

import random

from compiler import arms as a
from compiler.pipeline import compile_text
from compiler.tables import load
from tests.conftest import TODAY
from tests.hostile import HEADER

DRUGS = ("letrozole 2,5 mg po daily", "anastrozole 1 mg po daily", "goserelin 3,6 mg subcut every 4 weeks",
         "palbociclib 125 mg po daily", "tamoxifen 20 mg po daily")
REGIMENS = ("EC75", '"x"', "paclitaxel-bevacizumab")


def random_block(rng: random.Random, depth: int, lines: list[str]) -> None:
    indent = "  " * depth
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(("drug", "bullet", "label", "decision", "regimen", "prose", "when"))
        if kind == "drug":
            lines.append(f"{indent}drug {rng.choice(DRUGS)}")
        elif kind == "bullet":
            lines.append(f"{indent}- drug {rng.choice(DRUGS)}")
        elif kind == "prose":
            lines.append(f"{indent}Tekst.")
        elif depth < 4 and kind == "label":
            lines.append(f"{indent}Label:")
            random_block(rng, depth + 1, lines)
        elif depth < 4 and kind == "regimen":
            lines.append(f"{indent}regimen {rng.choice(REGIMENS)}")
            if rng.random() < 0.3:  # phases follow each other: their drugs are not together
                for number in range(rng.randint(2, 3)):
                    lead = "followed by phase" if number else "phase"
                    lines.append(f"{indent}  {lead} p{number}: cycle 21 days, 4 cycles")
                    random_block(rng, depth + 2, lines)
            elif rng.random() < 0.6:
                random_block(rng, depth + 1, lines)
        elif depth < 4 and kind in ("decision", "when"):
            lines.append(f"{indent}decision: keuze")
            lines.append(f"{indent}  when HER2+:")
            random_block(rng, depth + 2, lines)
            lines.append(f"{indent}  otherwise:")
            random_block(rng, depth + 2, lines)


def test_index_agrees_with_the_pairwise_rule() -> None:
    rng = random.Random(12)
    compared = 0
    for _ in range(150):
        lines = ["# Sectie"]
        random_block(rng, 0, lines)
        result = compile_text("arms.protocol", (HEADER + "\n".join(lines) + "\n").encode(), TODAY)
        assert result.protocol is not None
        lay = a.layout(result.protocol, load(), result.source)
        for member in lay.members:
            expected = tuple(o for o in lay.members if o is not member and lay.together(member.node, o.node))
            assert lay.arm(member).partners == expected[:a.MAX_ARM]
            compared += 1
        expected_pairs = [(x, y) for i, x in enumerate(lay.members) for y in lay.members[i + 1:]
                          if lay.together(x.node, y.node)]
        assert list(lay.pairs()) == expected_pairs
    assert compared > 500


def test_a_block_of_too_many_drugs_is_reported_and_bounded() -> None:
    body = "# Sectie\nSamen:\n" + "".join(f"  drug {DRUGS[n % len(DRUGS)]}\n" for n in range(300))
    result = compile_text("arms.protocol", (HEADER + body).encode(), TODAY)
    assert result.protocol is not None
    lay = a.layout(result.protocol, load(), result.source)
    assert all(len(lay.arm(mb).partners) == a.MAX_ARM for mb in lay.members)
    assert sum(1 for _ in lay.pairs()) <= len(lay.members) * a.MAX_ARM
    assert any(d.code == "P018" for d in result.diagnostics)


def test_acknowledgement_index_agrees_with_a_scan_of_every_region() -> None:
    from compiler.checks.acknowledgements import RegionIndex, allowances
    from compiler.source import Span

    rng = random.Random(7)
    for _ in range(60):
        lines = ["# Sectie", 'allow X001 "kop"']
        random_block(rng, 0, lines)
        sheet: list[str] = []
        for line in lines:
            sheet.append(line)
            if rng.random() < 0.4 and not line.startswith("#"):
                indent = len(line) - len(line.lstrip()) + 2
                sheet.append(" " * indent + f'allow {rng.choice(("D001", "S001", "C001"))} "reden"')
        result = compile_text("ack.protocol", (HEADER + "\n".join(sheet) + "\n").encode(), TODAY)
        assert result.protocol is not None
        regions = allowances(result.protocol)
        index = RegionIndex(regions)
        for line in range(1, len(sheet) + 20):
            for column in (1, 3, 7):
                span = Span("ack.protocol", line, column, line, column + 2)
                for code in ("D001", "S001", "C001", "X001"):
                    expected = next((i for i, (allow, region) in enumerate(regions)
                                     if allow.code.value == code and allow.justification is not None
                                     and region.contains(span)), None)
                    assert index.first(code, span) == expected
