"""Decision blocks as inline SVG flowcharts, drawn from the checked model.

A `decision:` becomes a small left-to-right tree: the question on the left, one box per
branch (its condition as the box's header, in the document's language and locale),
the treatment options inside (drug and regimen names link to their rows on the sheet,
`§id` references to their section), nested decisions as further columns. Gaps and
overlaps that the threshold analysis found are drawn too: a dashed red "niet gedekt:
PD-L1 1–10 %" branch, and a warning line in overlapping branches. The analysis is an
input (`ChartMark`s per decision line), so the picture and the checker cannot disagree.

The same tree is also returned as a nested list (`AltEntry`) for screen readers.
Nothing here measures with a browser: widths come from the packaged font (`svg.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup

from compiler import model as m
from compiler.render import svg
from compiler.render import words as w
from compiler.tables import Tables

WIDTH = 640.0
QUESTION_WIDTH = 150.0
GAP = 30.0
VGAP = 10.0
PAD = 7.0
HEADER_SIZE = 10.5
BODY_SIZE = 10.0
DETAIL_SIZE = 9.0
LEADING = 1.3
ACCENT = "#0b4f71"
ACCENT_SOFT = "#e8f1f7"
MUTED = "#4a5560"
WARN = "#b3261e"
WARN_SOFT = "#fde8e8"
REF = re.compile(r"\s*(?:\(?\s*(?:zie|see|cfr\.?|cf\.?|vgl\.?)\s*)?§[A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]?\)?",
                 re.IGNORECASE)


def anchor(item: m.Item) -> str:
    """The element id of a drug or regimen row on the page (links from charts land there)."""
    kind = "regimen" if isinstance(item, m.RegimenLine) else "drug"
    return f"{kind}-{item.span.line}"


@dataclass(frozen=True)
class ChartMark:
    """A finding of the threshold analysis to draw on a chart.

    `gap`: a dashed branch "niet gedekt: …"; `overlap`: a warning line in the branches
    (by source line) that overlap.
    """

    kind: str
    text: str
    branch_lines: tuple[int, ...] = ()


@dataclass(frozen=True)
class ChartContext:
    """What the chart needs from the page builder (names, sections, analysis marks)."""

    language: str
    sections: Mapping[str, tuple[str, str, tuple[str, ...]]]  # id -> number, title, subsection ids
    drug_name: Callable[[m.DrugLine], str]
    drug_detail: Callable[[m.DrugLine], str]
    regimen_detail: Callable[[m.RegimenLine], str]
    marks: Mapping[int, Sequence[ChartMark]] = field(default_factory=dict)
    wording: Callable[[str], str] | None = None  # free text as the sheet prints it (tall-man names)


@dataclass
class Entry:
    """One line of content in a box, before wrapping; `style` picks size, weight and colour."""

    text: str
    style: str = "text"  # text | option | detail | xref | sub-xref | question | note | warn
    href: str | None = None


@dataclass
class Node:
    """A box of the chart and its subtree."""

    kind: str  # question | branch | gap
    header: str
    entries: list[Entry] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    warn: bool = False
    # layout
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0
    height: float = 0.0
    labels: list[svg.Label] = field(default_factory=list)
    header_height: float = 0.0
    exit_y: float = 0.0


@dataclass
class AltEntry:
    """The screen-reader list: a line of text (maybe a link) and nested entries."""

    text: str
    href: str | None = None
    children: list[AltEntry] = field(default_factory=list)


@dataclass
class Chart:
    """A rendered flowchart: the SVG, its accessible list and what it shows (for tests)."""

    id: str
    title: str
    svg: Markup
    alt: list[AltEntry]
    branch_labels: list[str]
    names: list[str]


# ---------------------------------------------------------------- model → tree


class _TreeBuilder:
    def __init__(self, context: ChartContext) -> None:
        self.context = context
        self.labels = w.LABELS[context.language]

    def words(self, text: str) -> str:
        return self.context.wording(text) if self.context.wording is not None else text

    def decision(self, item: m.Decision) -> Node:
        title = self.words(item.title.value) if item.title is not None else self.labels["decision"]
        root = Node("question", title)
        root.children = self.branches(item, root)
        return root

    def branches(self, decision: m.Decision, owner: Node) -> list[Node]:
        out: list[Node] = []
        by_line: dict[int, Node] = {}
        for child in decision.children:
            node = _statement(child)
            if isinstance(node, (m.When, m.Otherwise)):
                out.append(self.branch(node))
                by_line[child.span.line] = out[-1]
            else:
                self.content((child,), owner)
        for mark in self.context.marks.get(decision.span.line, ()):
            if mark.kind == "gap":
                out.append(Node("gap", f"{self.labels['not_covered']}: {mark.text}"))
                continue
            for line in mark.branch_lines:
                if line in by_line:
                    by_line[line].warn = True
                    by_line[line].entries.append(Entry(f"⚠ {self.labels['overlaps']}: {mark.text}", "warn"))
        return out

    def branch(self, item: m.When | m.Otherwise) -> Node:
        label = (w.condition(item.condition, self.context.language) if isinstance(item, m.When)
                 else self.labels["otherwise"])
        node = Node("branch", label)
        self.content(item.children, node)
        return node

    def content(self, items: Sequence[m.Item], node: Node) -> None:
        language = self.context.language
        for item in items:
            statement = _statement(item)
            extra = item.children if statement is not item else ()
            if isinstance(statement, m.DrugLine):
                node.entries.append(Entry(self.context.drug_name(statement), "option", f"#{anchor(statement)}"))
                detail = self.context.drug_detail(statement)
                if detail:
                    node.entries.append(Entry(detail, "detail"))
                self.content(statement.children + extra, node)
            elif isinstance(statement, m.RegimenLine):
                node.entries.append(Entry(self.words(statement.name.value), "option", f"#{anchor(statement)}"))
                detail = self.context.regimen_detail(statement)
                if detail:
                    node.entries.append(Entry(detail, "detail"))
                self.content(tuple(c for c in statement.children + extra if _drug(c) is None), node)
            elif isinstance(statement, m.Prose):
                self.prose(statement.text, statement.refs, node)
                self.content(statement.children + extra, node)
            elif isinstance(statement, m.Note):
                if statement.text is not None:
                    self.prose(f"{self.labels['note']}: {statement.text.value}", statement.refs, node, "note")
                self.content(statement.children + extra, node)
            elif isinstance(statement, m.Query):
                node.entries.append(Entry(f"⚠ {self.labels['open_question']}", "warn"))
            elif isinstance(statement, m.OnlyWhen):
                node.entries.append(Entry(f"{self.labels['only_when']} {w.condition(statement.condition, language)}",
                                          "note"))
            elif isinstance(statement, m.ExcludeWhen):
                node.entries.append(Entry(
                    f"{self.labels['exclude_when']} {w.condition(statement.condition, language)}", "note"))
            elif isinstance(statement, m.Decision):
                title = statement.title.value if statement.title is not None else self.labels["decision"]
                node.entries.append(Entry(f"{title}?" if not title.endswith("?") else title, "question"))
                node.children.extend(self.branches(statement, node))
            elif isinstance(statement, (m.When, m.Otherwise)):
                node.children.append(self.branch(statement))
            elif isinstance(statement, m.Fractionation):
                continue
            else:
                self.content(statement.children + extra, node)

    def prose(self, text: str, refs: Sequence[m.CrossRef], node: Node, style: str = "text") -> None:
        plain = self.words(w.squash(REF.sub("", text)).rstrip(" :;,"))
        if plain and plain not in (".", "("):
            node.entries.append(Entry(plain, style))
        for ref in refs:
            target = self.context.sections.get(ref.target)
            if target is None:
                continue
            number, title, subsections = target
            node.entries.append(Entry(f"→ {self.labels['see']} {number} {title}", "xref", f"#{ref.target}"))
            for sub in subsections:
                sub_number, sub_title, _ = self.context.sections[sub]
                node.entries.append(Entry(f"{sub_number} {sub_title}", "sub-xref", f"#{sub}"))


def _statement(item: m.Item) -> m.Item:
    if isinstance(item, m.Bullet) and item.content is not None:
        return item.content
    return item


def _drug(item: m.Item) -> m.DrugLine | None:
    node = _statement(item)
    return node if isinstance(node, m.DrugLine) else None


# ---------------------------------------------------------------- layout

STYLES: dict[str, tuple[float, bool, bool, str, float]] = {
    # style: size, bold, italic, colour, indent
    "text": (BODY_SIZE, False, False, "#1b1f23", 0.0),
    "option": (BODY_SIZE, True, False, ACCENT, 0.0),
    "detail": (DETAIL_SIZE, False, False, MUTED, 8.0),
    "xref": (BODY_SIZE, False, False, ACCENT, 0.0),
    "sub-xref": (DETAIL_SIZE, False, False, ACCENT, 12.0),
    "question": (BODY_SIZE, True, False, "#1b1f23", 0.0),
    "note": (DETAIL_SIZE, False, True, MUTED, 0.0),
    "warn": (DETAIL_SIZE, True, False, WARN, 0.0),
}


def _depth(node: Node) -> int:
    return 1 + max((_depth(c) for c in node.children), default=-1) if node.children else 0


def _measure(node: Node, width: float) -> None:
    """Wrap the node's text into labels relative to the node's top-left corner."""
    node.width = width
    inner = width - 2 * PAD
    labels: list[svg.Label] = []
    y = PAD
    header_size = HEADER_SIZE + (0.5 if node.kind == "question" else 0)
    colour = WARN if node.kind == "gap" else ACCENT
    for line in svg.wrap(node.header, inner, header_size, True):
        y += header_size * LEADING
        labels.append(svg.Label(PAD, y - header_size * (LEADING - 1) - 0.5, line, header_size, True,
                                fill=colour, css_class="chart-header"))
    node.header_height = y + PAD * 0.6
    node.exit_y = node.header_height / 2
    if node.entries:
        y = node.header_height + PAD * 0.6
    for entry in node.entries:
        size, bold, italic, fill, indent = STYLES[entry.style]
        if entry.style in ("option", "question") and labels and y > node.header_height + PAD:
            y += 2.5
        for line in svg.wrap(entry.text, inner - indent, size, bold):
            y += size * LEADING
            labels.append(svg.Label(PAD + indent, y - size * (LEADING - 1) - 0.5, line, size, bold, italic, fill,
                                    href=entry.href, css_class=f"chart-{entry.style}"))
        if entry.style == "question":
            node.exit_y = y - size * 0.4
    node.height = y + PAD
    node.labels = labels


def _place(node: Node, column: int, top: float, columns: list[float], widths: list[float]) -> float:
    """Place a subtree with its top at `top`; return the bottom of the subtree."""
    node.x = columns[column]
    _measure(node, widths[column])
    node.y = top
    bottom = top + node.height
    child_top = top
    for child in node.children:
        child_bottom = _place(child, column + 1, child_top, columns, widths)
        child_top = child_bottom + VGAP
    if node.children:
        bottom = max(bottom, child_top - VGAP)
    return bottom


def _columns(depth: int) -> tuple[list[float], list[float]]:
    if depth == 0:
        return [0.0], [WIDTH]
    branch = (WIDTH - QUESTION_WIDTH - depth * GAP) / depth
    columns = [0.0] + [QUESTION_WIDTH + GAP + k * (branch + GAP) for k in range(depth)]
    return columns, [QUESTION_WIDTH] + [branch] * depth


def _walk(node: Node) -> list[Node]:
    out = [node]
    for child in node.children:
        out.extend(_walk(child))
    return out


# ---------------------------------------------------------------- drawing


def _box(node: Node) -> Markup:
    x, y, width, height = node.x, node.y, node.width, node.height
    n = svg.number
    if node.kind == "question":
        return Markup('<rect x="{}" y="{}" width="{}" height="{}" rx="4" fill="{}" stroke="{}" '
                      'stroke-width="1.4"/>').format(n(x), n(y), n(width), n(height), ACCENT_SOFT, ACCENT)
    if node.kind == "gap":
        return Markup('<rect x="{}" y="{}" width="{}" height="{}" rx="3" fill="{}" stroke="{}" stroke-width="1.4" '
                      'stroke-dasharray="5 3" class="chart-gap"/>').format(n(x), n(y), n(width), n(height),
                                                                           WARN_SOFT, WARN)
    stroke = WARN if node.warn else ACCENT
    out = Markup('<rect x="{}" y="{}" width="{}" height="{}" rx="3" fill="#ffffff" stroke="{}" '
                 'stroke-width="1.1"/>').format(n(x), n(y), n(width), n(height), stroke)
    out += Markup('<path d="M{} {}h{}v{}h{}z" fill="{}"/>').format(
        n(x + 0.55), n(y + 0.55), n(width - 1.1), n(node.header_height - 0.55), n(-(width - 1.1)), ACCENT_SOFT)
    if node.entries:
        out += Markup('<path d="M{} {}h{}" stroke="{}" stroke-width="0.6"/>').format(
            n(x), n(y + node.header_height), n(width), stroke)
    return out


def _edges(node: Node) -> Markup:
    out = Markup("")
    if not node.children:
        return out
    n = svg.number
    start_x = node.x + node.width
    start_y = node.y + node.exit_y
    bus_x = start_x + GAP / 2
    targets = [(child, child.y + child.header_height / 2) for child in node.children]
    low = min([start_y] + [t for _, t in targets])
    high = max([start_y] + [t for _, t in targets])
    pieces = [Markup('<path d="M{} {}H{}M{} {}V{}" fill="none" stroke="{}" stroke-width="1.2"/>').format(
        n(start_x), n(start_y), n(bus_x), n(bus_x), n(low), n(high), ACCENT)]
    for child, target in targets:
        colour = WARN if child.kind == "gap" else ACCENT
        dash = ' stroke-dasharray="4 3"' if child.kind == "gap" else ""
        pieces.append(Markup('<path d="M{} {}H{}" fill="none" stroke="{}" stroke-width="1.2"{}/>').format(
            n(bus_x), n(target), n(child.x - 5), colour, Markup(dash)))
        pieces.append(Markup('<path d="M{} {}L{} {}L{} {}z" fill="{}"/>').format(
            n(child.x - 6), n(target - 3.5), n(child.x), n(target), n(child.x - 6), n(target + 3.5), colour))
    pieces.extend(_edges(child) for child in node.children)
    return out + Markup("").join(pieces)


def _alt(node: Node) -> AltEntry:
    entry = AltEntry(node.header)
    for line in node.entries:
        entry.children.append(AltEntry(line.text, line.href))
    entry.children.extend(_alt(child) for child in node.children)
    return entry


def render_chart(item: m.Decision, context: ChartContext) -> Chart:
    """The flowchart of one decision block."""
    labels = w.LABELS[context.language]
    root = _TreeBuilder(context).decision(item)
    columns, widths = _columns(_depth(root))
    bottom = _place(root, 0, 0.0, columns, widths)
    if root.children:
        # the question sits level with its branches' headers
        first = root.children[0].y + root.children[0].header_height / 2
        last = root.children[-1].y + root.children[-1].header_height / 2
        root.y = max(0.0, (first + last) / 2 - root.height / 2)
        root.exit_y = root.height / 2
        bottom = max(bottom, root.y + root.height)
    height = bottom + 2
    chart_id = f"flow-{item.span.line}"
    nodes = _walk(root)
    title = f"{labels['flowchart']}: {root.header}"
    branch_labels = [n.header for n in nodes if n.kind in ("branch", "gap")]
    description = f"{labels['decision']} {root.header}; {labels['branches']}: " + "; ".join(branch_labels)
    body = svg.svg_open(WIDTH + 1, height, chart_id, "flowchart-svg")
    body += Markup('<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>').format(
        chart_id, title, chart_id, description)
    pieces = [_edges(root)]
    for node in nodes:
        pieces.append(Markup('<g class="chart-node chart-{}">').format(node.kind) + _box(node))
        for label in node.labels:
            pieces.append(svg.Label(label.x + node.x, label.y + node.y, label.text, label.size, label.bold,
                                    label.italic, label.fill, label.anchor, label.href, label.css_class).svg())
        pieces.append(Markup("</g>"))
    pieces.append(Markup("</svg>"))
    body += Markup("").join(pieces)  # one join: adding piece by piece is quadratic in the picture
    names = [e.text for node in nodes for e in node.entries if e.style == "option"]
    return Chart(chart_id, title, body, [_alt(root)], branch_labels, names)


# ---------------------------------------------------------------- threshold analysis → marks


def coverage_marks(protocol: m.Protocol, tables: Tables, language: str) -> dict[int, list[ChartMark]]:
    """Gaps and overlaps of sibling branches (compiler.thresholds), per decision line, worded for the chart.

    The analysis is the checker's (the L rules report the same findings), so a chart
    marks exactly what the validation summary lists. Without the analysis module the
    charts are drawn unmarked.
    """
    try:
        from compiler import thresholds
    except ImportError:  # the analysis is optional for rendering
        return {}
    analysis = thresholds.analyse(protocol, tables)
    out: dict[int, list[ChartMark]] = {}
    for found in analysis.decisions:
        if found.decision is None or not found.resolved:
            continue
        marks = out.setdefault(found.decision.span.line, [])
        for gap in found.threshold_gaps:
            marks.append(ChartMark("gap", localise(gap.describe(), language)))
        name, value = _wording(tables, language)
        if not found.uncovered.is_empty():
            text = thresholds.describe_region(found.uncovered, analysis.domains, found.variables, name, value)
            marks.append(ChartMark("gap", localise(text, language)))
        for overlap in found.overlaps:
            first = overlap.first.item.span.line
            second = overlap.second.item.span.line
            text = thresholds.describe_region(overlap.region, analysis.domains, found.variables, name, value)
            marks.append(ChartMark("overlap", localise(text, language), (first, second)))
    return {line: marks for line, marks in out.items() if marks}


VALUES_NL = {"yes": "ja", "no": "nee", "positive": "positief", "negative": "negatief", "low": "laag",
             "ultralow": "ultralaag", "squamous": "plaveiselcel", "non-squamous": "niet-plaveiselcel",
             "adenocarcinoma": "adenocarcinoom", "small-cell": "kleincellig", "metastatic": "gemetastaseerd",
             "curative": "curatief", "palliative": "palliatief", "pre": "pre", "peri": "peri", "post": "post"}


def _wording(tables: Tables, language: str) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """Variable labels from conditions.yaml and value words in the document's language."""
    declared = tables.conditions.get("variables") or {}

    def name(variable: str) -> str:
        labels = (declared.get(variable) or {}).get("label") or {}
        return str(labels.get(language) or variable)

    def value(word: str) -> str:
        return VALUES_NL.get(word, word) if language == "nl" else word

    return name, value


def localise(text: str, language: str) -> str:
    """The analysis speaks English notation (`2.5`, `and`, `or`); a Dutch chart does not."""
    if language != "nl":
        return text
    text = re.sub(r"(?<=\d)\.(?=\d)", ",", text)
    return text.replace(" and ", " en ").replace(" or ", " of ").replace("any case", "elk geval")
