"""Pictures on the sheet: decision flowcharts, cycle calendars, course timelines, RT tables.

Goldens of every generated SVG live in tests/goldens/svg/<protocol>/<id>.svg and are
rewritten only with `--update-goldens`. PDFs are rendered once per module (each takes
seconds); everything else works on the HTML and the view.
"""

from __future__ import annotations

import io
import itertools
import re
import shutil
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from compiler import model as m
from compiler.pipeline import Compiled, compile_file, compile_text
from compiler.render import calendar as cal
from compiler.render import flowchart, svg
from compiler.render import words as w
from compiler.render.html import render_protocol
from compiler.render.view import Block, DecisionBlock, DecisionTable, DrugTable, ProtocolView, RegimenBlock, build_view
from compiler.tables import load
from tests.conftest import ROOT, TODAY

SHIPPED = sorted((ROOT / "protocols").rglob("*.protocol"))
GOLDENS = ROOT / "tests" / "goldens" / "svg"
EMMAUS = ROOT / "protocols" / "borst" / "emmaus-gemetastaseerd-borstcarcinoom.protocol"
NSCLC = ROOT / "protocols" / "longkanker" / "nsclc-immuuntherapie.protocol"
TARGETED = ROOT / "protocols" / "borst" / "doelgerichte-therapie-borstkanker.protocol"
HEADER = """id: pictures-test
title: Testprotocol beelden
version: 1.0
status: draft
language: nl
owner: Dienst
author: A
approver: B
authored: 2026-01-10
next review: 2028-01-10
scope: test
reference: test
change note: test

"""

STRESS = """# Stress {s}
decision: <script>alert(1)</script> & een heel lange vraag die over meerdere regels moet lopen in het vak
  when PD-L1 TPS >= 50% and line = 1:
    Tekst met <b>markup</b> & ampersand, en een hele lange zin die zeker meerdere keren moet afbreken om te passen.
    - regimen carboplatin-paclitaxel-bevacizumab-atezolizumab
    decision: histologie
      when squamous:
        - regimen carboplatin-paclitaxel-pembrolizumab
      when non-squamous:
        decision: lijn
          when line = 1:
            drug paclitaxel (Taxol) 80 mg/m2 IV weekly, infusion 60 min
          otherwise:
            Zie §s.
  when PD-L1 TPS < 1%:
    drug letrozole 2,5 mg po daily
"""


SVG_BLOCK = re.compile(r'<svg class=.*?</svg>', re.DOTALL)


def compiled(path: Path) -> Compiled:
    return compile_file(path, TODAY)


def view_of(result: Compiled) -> ProtocolView:
    assert result.protocol is not None
    return build_view(result.protocol, result.diagnostics, load())


def pictures(view: ProtocolView) -> list[tuple[str, str, str]]:
    return [(kind, pid, svg.standalone(str(body)) if body else "") for kind, pid, body in view.extra["pictures"]]


def svg_texts(body: str) -> str:
    """All label text of an SVG, joined, with words split at a line-end hyphen joined again."""
    root = svg.parse(body)
    texts = ["".join(e.itertext()) for e in root.iter(f"{{{svg.SVG_NS}}}text")]
    return normalise(" ".join(texts))


def normalise(text: str) -> str:
    return re.sub(r"(?<=[-/])\s+", "", " ".join(text.split()))


def walk_blocks(blocks: list[Block]) -> Iterator[Block]:
    for block in blocks:
        yield block
        for name in ("children", "extras"):
            yield from walk_blocks(getattr(block, name, []) or [])
        if isinstance(block, DrugTable):
            for row in block.rows:
                yield from walk_blocks(row.extras)
        for entry in getattr(block, "entries", []) or []:
            yield from walk_blocks(entry.children)
        if isinstance(block, RegimenBlock):
            for _, table in block.tables:
                yield table


def all_blocks(view: ProtocolView) -> Iterator[Block]:
    yield from walk_blocks(view.preamble)

    def sections(items: list[Any]) -> Iterator[Block]:
        for section in items:
            yield from walk_blocks(section.blocks)
            yield from sections(section.subsections)

    yield from sections(view.sections)


def decisions(protocol: m.Protocol) -> list[tuple[m.Decision, m.Decision]]:
    """Every decision with the outermost decision it lies in (itself when it is not nested)."""
    out: list[tuple[m.Decision, m.Decision]] = []

    def walk(items: tuple[m.Item, ...], outer: m.Decision | None) -> None:
        for item in items:
            node = statement(item)
            if isinstance(node, m.Decision):
                out.append((node, outer or node))
            walk(node.children + (item.children if node is not item else ()),
                 outer or (node if isinstance(node, m.Decision) else None))

    walk(protocol.preamble, None)
    for section in protocol.all_sections():
        walk(section.items, None)
    return out


def statement(item: m.Item) -> m.Item:
    return item.content if isinstance(item, m.Bullet) and item.content is not None else item


# ---------------------------------------------------------------- goldens


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_svg_goldens(path: Path, update_goldens: bool) -> None:
    folder = GOLDENS / path.stem
    made = {f"{pid}.svg": body + "\n" for kind, pid, body in pictures(view_of(compiled(path))) if body}
    if not made and "regimes" in path.parts:
        # a regimen sheet of RT lines, or of drugs without a cycle, draws no calendar or timeline
        pytest.skip("a regimen sheet without pictures")
    assert made, "a shipped protocol without pictures"
    if update_goldens or not folder.exists():
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for name, body in made.items():
            (folder / name).write_text(body, encoding="utf-8")
        if not update_goldens:
            pytest.fail(f"goldens for {path.stem} were missing and have been written; review and commit them")
    stored = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.svg")}
    assert sorted(stored) == sorted(made), "pictures added or removed (--update-goldens if intended)"
    changed = [name for name in made if made[name] != stored[name]]
    assert not changed, f"{changed} differ from their goldens (--update-goldens if intended)"


# ---------------------------------------------------------------- structure: the picture shows the model


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_decision_is_a_chart_with_every_branch_and_option(path: Path) -> None:
    result = compiled(path)
    assert result.protocol is not None
    language = w.language_of(result.protocol)
    html = render_protocol(result, load())
    tables = load()
    for decision, outer in decisions(result.protocol):
        chart_id = f"flow-{outer.span.line}"
        match = re.search(rf'<figure class="picture flowchart" id="{chart_id}">.*?</figure>', html, re.DOTALL)
        assert match, f"no chart for the decision on line {decision.span.line}"
        if outer is not decision:
            assert f'id="flow-{decision.span.line}"' not in html  # drawn once, in the outer chart
        body = SVG_BLOCK.search(match.group(0))
        assert body is not None
        shown = svg_texts(body.group(0))
        if decision.title is not None:
            assert normalise(decision.title.value).lower() in shown.lower()
        for branch in decision.children:
            if isinstance(branch, m.When):
                assert normalise(w.condition(branch.condition, language)) in shown
            elif isinstance(branch, m.Otherwise):
                assert w.LABELS[language]["otherwise"] in shown
            else:
                continue
            for item in branch.children:
                node = statement(item)
                if isinstance(node, m.RegimenLine):
                    assert normalise(node.name.value).lower() in shown.lower(), node.name.value
                    assert f'href="#regimen-{node.span.line}"' in body.group(0)
                    assert f'id="regimen-{node.span.line}"' in html
                    entry = tables.regimens.get(node.regimen_id or "")
                    for drug in (entry or {}).get("drugs") or []:
                        name = tables.drug_name(str(drug["drug"]), language)
                        assert name.lower() in shown.lower(), name
                elif isinstance(node, m.DrugLine):
                    assert f'href="#drug-{node.span.line}"' in body.group(0)
                    assert f'id="drug-{node.span.line}"' in html


def test_threshold_gap_is_drawn_dashed_on_the_pd_l1_chart() -> None:
    html = render_protocol(compiled(EMMAUS), load())
    chart = re.search(r'<figure class="picture flowchart" id="flow-114">.*?</figure>', html, re.DOTALL)
    assert chart is not None
    assert "niet gedekt: PD-L1 1–10 %" in chart.group(0)
    assert 'class="chart-gap"' in chart.group(0) and "stroke-dasharray" in chart.group(0)
    # the accessible list says the same
    assert "<li>niet gedekt: PD-L1 1–10 %</li>" in chart.group(0)


def test_marks_come_from_the_threshold_analysis() -> None:
    result = compiled(EMMAUS)
    assert result.protocol is not None
    marks = flowchart.coverage_marks(result.protocol, load(), "nl")
    assert [(mk.kind, mk.text) for mk in marks[114]] == [("gap", "PD-L1 1–10 %")]
    assert 31 not in marks  # otherwise covers the rest


def test_cross_references_are_links_with_section_numbers() -> None:
    html = render_protocol(compiled(EMMAUS), load())
    chart = re.search(r'<figure class="picture flowchart" id="flow-31">.*?</figure>', html, re.DOTALL)
    assert chart is not None
    body = chart.group(0)
    assert '<a href="#hormonale-therapie"><text' in body and "→ zie 2 Hormonale therapie" in body
    assert '<a href="#chemotherapie"><text' in body
    # chemotherapy by subtype: the subsections of the target are shown and linked
    for sub, title in (("triple-negatief", "4.1 Triple negatief"), ("her2-positief", "4.2 HER2 positief"),
                       ("receptor-positief-her2-negatief", "4.3 Receptor positief – HER2 negatief")):
        assert f'<a href="#{sub}">' in body and title in body


def expected_marks(cycle: int, days: list[int] | None, continuous: bool) -> list[bool]:
    span = cycle * (max(1, -(-28 // cycle)) if cycle < 21 else 1)
    if continuous:
        return [True] * span
    return [days is not None and ((d - 1) % cycle) + 1 in days for d in range(1, span + 1)]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_cyclic_library_regimen_has_a_calendar_with_its_days(path: Path) -> None:
    result = compiled(path)
    tables = load()
    view = view_of(result)
    assert result.protocol is not None
    lines = {i.span.line: i for i in result.protocol.all_items() if isinstance(i, m.RegimenLine)}
    seen = 0
    for block in all_blocks(view):
        if not isinstance(block, RegimenBlock) or not block.resolved:
            continue
        line = lines[int(block.anchor.split("-")[1])]
        entry = tables.regimens[line.regimen_id or ""]
        written = any(isinstance(statement(c), m.DrugLine) for c in line.children)
        assert block.calendar is not None, line.name.value
        seen += 1
        if written:
            continue
        calendar = block.calendar
        rows = [[r for part in calendar.parts for r in part.rows if r.name == name] for name in
                dict.fromkeys(r.name for r in calendar.parts[0].rows)]
        assert len(rows) == len(entry["drugs"])
        for drug, row_parts in zip(entry["drugs"], rows, strict=True):
            marks = [mark for r in row_parts for mark in r.marks]
            days = cal.expand_days(drug["days"]) if drug.get("days") else None
            continuous = days is None and drug.get("frequency") in ("daily", "twice daily")
            if days is None and not continuous:
                assert row_parts[0].own_interval, drug["drug"]
                continue
            assert marks == expected_marks(int(entry["cycle_days"]), days, continuous), drug["drug"]
        columns = [d for part in calendar.parts for d in part.days]
        assert columns == list(range(1, len(columns) + 1))
    if not seen and "regimes" in path.parts:
        pytest.skip("a regimen sheet writes its own drug lines (no library regimen)")
    assert seen


def test_emmaus_calendars_cover_every_weekly_and_three_weekly_regimen() -> None:
    result = compiled(EMMAUS)
    html = render_protocol(result, load())
    tables = load()
    assert result.protocol is not None
    for line in (i for i in result.protocol.all_items() if isinstance(i, m.RegimenLine)):
        entry = tables.regimens.get(line.regimen_id or "")
        if entry is not None and int(entry.get("cycle_days") or 0) in (7, 21):
            assert re.search(f'<figure class="picture calendar[^"]*" id="cal-{line.span.line}">', html), \
                line.name.value
    # marks are text with an accessible label; days are header cells
    assert '<span role="img" aria-label="Dag 8: toediening">●</span>' in html
    assert '<th scope="col" class="day week-start"><span class="visually-hidden">Dag </span>1</th>' in html


def test_inline_cyclic_drug_lines_and_21_on_7_off() -> None:
    body = """# Schema {{s}}
- drug palbociclib (Ibrance) 125 mg po daily, days 1-21, cycle 28 days until progression
- drug abemaciclib (Verzenios) 150 mg po twice daily continuous until progression
"""
    result = compile_text("x.protocol", (HEADER + body.format()).encode())
    view = view_of(result)
    tables = [b for b in all_blocks(view) if isinstance(b, DrugTable) and b.calendars]
    assert len(tables) == 1
    calendar = tables[0].calendars[0]
    assert calendar.cycle_days == 28
    assert calendar.parts[0].rows[0].marks == [True] * 21 + [False] * 7
    assert "cyclus 28 dagen" in calendar.footer


def test_loading_and_maximum_durations_are_course_timelines() -> None:
    view = view_of(compiled(TARGETED))
    timelines = {pid: body for kind, pid, body in pictures(view) if kind == "timeline"}
    shown = " ".join(svg_texts(b) for b in timelines.values())
    assert "8 mg/kg IV" in shown and "daarna 6 mg/kg IV elke 3 weken" in shown  # trastuzumab loading → maintenance
    assert "840 mg IV" in shown and "daarna 420 mg IV elke 3 weken" in shown  # pertuzumab
    assert "stop na 52 weken" in shown  # 1 year of trastuzumab
    nsclc = " ".join(svg_texts(b) for kind, _, b in pictures(view_of(compiled(NSCLC))) if kind == "timeline")
    assert "max. 2 jaar" in nsclc and "max. 12 maanden" in nsclc and "weken (0 = start)" in nsclc
    emmaus = " ".join(svg_texts(b) for kind, _, b in pictures(view_of(compiled(EMMAUS))) if kind == "timeline")
    assert "500 mg IM dag 1, 15, 29" in emmaus and "→ tot progressie" in emmaus  # fulvestrant


def test_fulvestrant_course_doses() -> None:
    result = compiled(EMMAUS)
    assert result.protocol is not None
    line = next(i for i in result.protocol.all_items() if isinstance(i, m.DrugLine) and i.name.value == "fulvestrant")
    lane = cal.drug_lane(line, "fulvestrant", None, lambda p: "", 26 * 7, "nl")
    assert lane.phases[0].doses == [1, 15, 29]
    assert lane.phases[1].doses[:3] == [57, 85, 113]
    assert lane.open_end


def test_radiobiology() -> None:
    assert cal.bed(Decimal(5), Decimal(4), Decimal(10)) == Decimal(28)
    assert cal.eqd2(Decimal(5), Decimal(4), Decimal(10)) == Decimal("23.3")
    assert cal.bed(Decimal(5), Decimal(4), Decimal(3)) == Decimal("46.7")
    assert cal.eqd2(Decimal(5), Decimal(4), Decimal(3)) == Decimal(28)
    assert cal.eqd2(Decimal(8), Decimal("7.5"), Decimal(10)) == Decimal("87.5")


def test_rt_table_groups_by_indication_with_bed_and_eqd2() -> None:
    html = render_protocol(compiled(EMMAUS), load())
    table = re.search(r'<figure class="picture rt-overview" id="rt-radiotherapie">.*?</figure>', html, re.DOTALL)
    assert table is not None
    text = table.group(0)
    # the first BED/EQD2 pair is at the α/β R003 uses for the row's site (its own column), the second at 3 Gy
    assert "α/β van de plaats" in text and "α/β = 3 Gy" in text
    assert '<th scope="rowgroup" colspan="8">pijnlijke BOTlocalisaties' in text
    assert ('<tr><th scope="row">5 × 4 Gy</th><td>20 Gy</td><td>bot</td><td class="val">10</td><td class="val">28</td>'
            '<td class="val">23,3</td><td class="val">46,7</td><td class="val">28</td></tr>') in text
    assert "4 × 12 Gy *" in text and "LQ-model onbetrouwbaar boven 8 Gy per fractie" in text


# ---------------------------------------------------------------- no overlapping labels


def all_svgs() -> Iterator[tuple[str, str, str]]:
    for path in SHIPPED:
        for kind, pid, body in pictures(view_of(compiled(path))):
            if body:
                yield f"{path.stem}/{pid}", kind, body
    for kind, pid, body in pictures(view_of(compile_text("x.protocol", (HEADER + STRESS).encode()))):
        if body:
            yield f"stress/{pid}", kind, body


SVG_CASES = list(all_svgs())


@pytest.mark.parametrize(("name", "kind", "body"), SVG_CASES, ids=[case[0] for case in SVG_CASES])
def test_no_two_labels_overlap(name: str, kind: str, body: str) -> None:
    boxes = svg.text_boxes(body)
    assert boxes
    for (text_a, a), (text_b, b) in itertools.combinations(boxes, 2):
        assert not a.intersects(b), f"{name}: {text_a!r} overlaps {text_b!r}"
    root = svg.parse(body)
    _, _, width, height = (float(v) for v in root.get("viewBox", "").split())
    frame = svg.Box(0, 0, width, height)
    for text, box in boxes:
        assert frame.contains(box), f"{name}: {text!r} leaves the picture"
    if kind == "flowchart":
        frames = svg.rect_boxes(body)
        for text, box in boxes:
            assert any(f.contains(box) for f in frames), f"{name}: {text!r} leaves its box"
        for a, b in itertools.combinations(frames, 2):
            assert not a.intersects(b) or a.contains(b) or b.contains(a), f"{name}: boxes overlap"


# ---------------------------------------------------------------- escaping


def test_svg_text_is_escaped() -> None:
    result = compile_text("x.protocol", (HEADER + STRESS).encode())
    html = render_protocol(result, load())
    charts = [b for k, _, b in pictures(view_of(result)) if k == "flowchart"]
    assert charts
    for body in charts:
        svg.parse(body)  # well-formed XML
        assert "<script" not in body and "<b>" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "&amp;" in body
        assert svg_texts(body).startswith("<script>alert(1)</script> & een heel lange vraag")
    assert "<b>markup</b> & ampersand" in svg_texts(charts[0])
    assert "<script" not in html


# ---------------------------------------------------------------- the printed pages

pypdf = pytest.importorskip("pypdf")


def pdf_text(pdf: bytes) -> str:
    if shutil.which("pdftotext"):
        out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
        return out.stdout.decode("utf-8")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


@pytest.fixture(scope="module")
def printed(shipped_pdfs: dict[str, bytes]) -> dict[str, str]:
    return {path.stem: normalise(pdf_text(shipped_pdfs[path.stem])) for path in (EMMAUS, NSCLC)}


def chart_words(path: Path, line: int) -> tuple[list[str], list[str]]:
    view = view_of(compiled(path))
    for block in all_blocks(view):
        if isinstance(block, (DecisionBlock, DecisionTable)) and block.chart is not None \
                and block.chart.id == f"flow-{line}":
            return block.chart.branch_labels, block.chart.names
    raise AssertionError(f"no chart flow-{line}")


@pytest.mark.parametrize(("path", "line"), [(EMMAUS, 31), (EMMAUS, 114), (NSCLC, 72)], ids=["hormonal-or-chemo",
                                                                                           "pd-l1", "nsclc-pd-l1"])
def test_pdf_shows_every_branch_label_and_name_of_the_chart(printed: dict[str, str], path: Path, line: int) -> None:
    text = printed[path.stem]
    labels, names = chart_words(path, line)
    assert labels and (names or line == 31)
    for word in labels + names:
        assert normalise(word) in text, word


def test_pdf_must_shows(printed: dict[str, str]) -> None:
    emmaus, nsclc = printed[EMMAUS.stem], printed[NSCLC.stem]
    assert "niet gedekt: PD-L1 1–10 %" in emmaus
    for heading in ("4.1 Triple negatief", "4.2 HER2 positief", "4.3 Receptor positief – HER2 negatief"):
        assert heading in emmaus
    # calendars whose drugs are given on more than day 1 are printed; day-1-only ones repeat the table's "dag 1"
    for name in ("PACLItaxel-bevacizumab", "PACLItaxel-pembrolizumab", "PACLItaxel weekly", "vinorelbine IV",
                 "eriBULin", "CARBOplatin-gemcitabine", "DOXOrubicin low-dose weekly"):
        assert f"Cycluskalender: {name}" in emmaus, name
    for name in ("EC75", "DOCEtaxel q3w"):
        assert f"Cycluskalender: {name}" not in emmaus, name
    assert "Fractioneringsschema's" in emmaus and "EQD2" in emmaus
    assert "PD-L1 TPS ≥ 50 %" in nsclc and "PD-L1 TPS < 50 %" in nsclc
    assert "max. 2 jaar" in nsclc
    # each piece of information once on paper: the decision's text, not its chart as well
    assert emmaus.count("PD-L1 > 10 %") == 1


def test_overlapping_branches_are_marked_in_both_boxes() -> None:
    body = """# Test {t}
decision: PD-L1
  when PD-L1 TPS >= 50%:
    drug paclitaxel 80 mg/m2 IV weekly
  when PD-L1 TPS >= 40%:
    drug letrozole 2,5 mg po daily
"""
    result = compile_text("x.protocol", (HEADER + body).encode())
    chart = next(b for k, _, b in pictures(view_of(result)) if k == "flowchart")
    shown = svg_texts(chart)
    assert shown.count("⚠ overlapt bij: PD-L1 TPS ≥ 50 %") == 2
    assert "niet gedekt: PD-L1 TPS < 40 %" in shown
    assert chart.count('stroke="#b3261e" stroke-width="1.1"') == 2  # both branch frames in the warning colour
