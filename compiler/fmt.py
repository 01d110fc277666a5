"""`protocolc fmt`: the canonical layout of a protocol sheet, never a change of meaning.

The formatter works on the source lines and the parser's tokens, not on the model, so
comments, prose and the author's choice of words survive. What it changes:

- indentation: two spaces per block level; trailing whitespace removed; at most one
  blank line in a row, none at the start or the end; one final newline;
- statements: one space between tokens (no space inside `400-800`, `50%`, `mg/5 mL`,
  `x/week`, `28-day cycle`; `, ` after a comma; `(Femara)`; `when …:`), keywords in
  lower case (`NOTA:` becomes `note:`), `×` → `x`, `≥ ≤ ≠` → `>= <= !=`, a dash range
  `400–800` → `400-800`, bullets `* • – −` → `-`;
- metadata keys in their canonical English spelling (`titel:` → `title:`);
- notation that the compiler reads one way only and no rule reports as an error:
  the decimal separator of the document's `language` (`2.5` → `2,5` in nl, N020),
  `mg/m²`/`mg/m^2` → `mg/m2`, `ml`/`cc` → `mL` (N011), `µg`/`ug` → `mcg` (N010), a
  period after a unit (N017), a number run into its unit (N016), route spellings
  (`SC`/`s.c.`/`SQ` → `subcut` (N012), `p.o.`/`oral`/`per os` → `po`, `i.v.` → `IV` …).

What it never changes: prose, titles, notes, queries, names, free texts (site, stop
rule), and the findings of error severity — `qd`/`qod` (N002), `U`/`IU` (N001), a
trailing zero (N003), a missing leading zero (N004) and a number that reads as a
thousands separator (N018, `2.500`): those need a person's eyes (`check --fix` applies
the safe ones on request). `intrahepatic` stays: the model files it under
intra-arterial, but the words do not mean the same. A file that does not decode or
parse is refused. Every result is re-parsed and its model compared with the
original's (`meaning`); a difference refuses the file instead of writing it.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lark import Token, Tree

from compiler import model as m
from compiler.build import KEY_BY_SPELLING, ROUTES, build
from compiler.parse import parse
from compiler.source import SourceFile, Span, decode, scan_indentation

INDENT = "  "

# Terminals written in lower case, whitespace inside collapsed to one space.
LOWER_TERMINALS = frozenset({
    "DRUG", "REGIMEN", "RT", "WHEN", "OTHERWISE", "DECISION", "ONLY_WHEN", "EXCLUDE_WHEN", "PREFERABLY_WITH",
    "ONLY_WITH", "NOT_WITH", "QUERY", "ALLOW", "THEN", "DAILY", "TWICE", "THREE_TIMES", "WEEKLY", "MONTHLY",
    "EVERY", "ONCE", "PERIOD", "DAYS", "CYCLE", "OF_A", "DAY_CYCLE", "N_CYCLES", "ON_OFF", "FOR", "UNTIL",
    "INFUSION", "FIRST", "AT_LEAST", "MINUTES", "MAX", "FORM", "SITE", "TECHNIQUE", "UP_TO", "PER_WEEK", "AND",
    "OR", "NOT", "USE", "TIME_OF_DAY",
    # lab criteria and dose modification (issue 14)
    "CRITERIA", "DOSE_MODIFICATION", "DOSE_LEVELS", "BY", "DOSE_LEVEL", "DELAY", "WITHHOLD", "DISCONTINUE", "FROM_DAY",
})
# lang-b (issue 14 item 2): administration-detail keywords, lower case too.
LOWER_TERMINALS = LOWER_TERMINALS | {"RELATION", "HOURS", "AS_NEEDED", "AS_NEEDED_FOR", "IF_REASON", "PRN_TIMES",
                                     "PER_DAY", "IN", "METHOD", "PHASE", "BOOST", "LATERALITY", "OVER"}
# As written: lab units (`×10⁹/L`, `x ULN`) and negative days (`-7`, `−7`).
VERBATIM_LAB = frozenset({"LAB_UNIT", "NEG_INT"})
# Free text: kept exactly as written (only trailing whitespace goes).
VERBATIM_TERMINALS = frozenset({
    "PROSE", "WORD", "STRING", "CWORD", "TARGET", "SITE_TEXT", "TOLERANCE_TEXT", "UNTIL_WHAT", "NOTE_TEXT",
    "DECISION_TEXT", "META_VALUE", "HEADING_TEXT", "CODE", "INT", "GY", "EQUALS", "PERCENT", "SLASH",
    "REASON_TEXT", "DILUENT", "VOLUME_TEXT", "TECH_WORD", "PLUS",
})
# Unit spellings rewritten; everything else (including U/IU, N001) is kept.
UNIT_SPELLINGS = {"mg/m²": "mg/m2", "mg/m^2": "mg/m2", "ml": "mL", "cc": "mL", "µg": "mcg", "μg": "mcg", "ug": "mcg"}
ERROR_UNITS = frozenset({"U", "IU"})
# Routes whose canonical code does not say the same as the words (kept as written).
KEPT_ROUTES = frozenset({"intrahepatic"})
# q-notation the rules report as errors (N002), kept exactly as written.
ERROR_FREQUENCIES = frozenset({"qd", "qod"})
COMPARISONS = {"≥": ">=", "≤": "<=", "≠": "!="}
THOUSANDS = re.compile(r"[0-9]{1,3}[.,][0-9]{3}")
TRAILING_ZERO = re.compile(r"[0-9]*[.,][0-9]*0")
GAP_PUNCTUATION = frozenset(",():")
NUMBER_TYPES = frozenset({"INT", "DECIMAL", "NAKED_DECIMAL"})
# Fields that record how a value was written; their read values are compared instead.
WRITTEN_FIELDS = frozenset({("Number", "text"), ("Dose", "unit_text"), ("Route", "text"), ("Frequency", "text"),
                            ("CycleDays", "text"), ("Protocol", "sha256"), ("Protocol", "path"),
                            ("RelativeTiming", "offset_text"), ("Diluent", "fluid_text")})


class FormatError(Exception):
    """A file the formatter refuses (it does not decode or parse, or formatting would change it)."""


@dataclass(frozen=True, slots=True)
class Formatted:
    """The outcome of formatting one text."""

    text: str
    changed: bool


# ---------------------------------------------------------------- meaning


def meaning(value: Any) -> Any:
    """`compiler.model.to_json` without spans and without the as-written spelling of values.

    Two protocols with the same `meaning` are the same protocol: every read value (dose,
    unit, route code, frequency, days, conditions, texts, structure) is compared.
    """
    if isinstance(value, Span):
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__.rstrip("_")
        out: dict[str, Any] = {"node": name}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is None or item == () or item is False or isinstance(item, Span):
                continue
            if (type(value).__name__, f.name) in WRITTEN_FIELDS:
                continue
            out[f.name] = meaning(item)
        return out
    if isinstance(value, (tuple, list)):
        return [meaning(v) for v in value]
    if isinstance(value, (Decimal, enum.Enum, datetime.date, m.Version)):
        return m.to_json(value)
    return value


def _model(source: SourceFile) -> tuple[m.Protocol, list[tuple[str, str]]]:
    problems = scan_indentation(source)
    if problems:
        first = problems[0]
        raise FormatError(f"{source.path}:{first.span.line}:{first.span.column}: {first.message} ({first.code})")
    parsed = parse(source)
    if parsed.tree is None or parsed.problems:
        first_problem = parsed.problems[0] if parsed.problems else None
        where = f"{first_problem.span.line}:{first_problem.span.column}: {first_problem.message}" if first_problem \
            else "nothing could be parsed"
        raise FormatError(f"{source.path}:{where} (fix the syntax error first; the file is left as it is)")
    protocol, diagnostics = build(source, parsed.tree)
    return protocol, [(d.code, d.message) for d in diagnostics]


# ---------------------------------------------------------------- tokens


def _decimal_mark(language: str | None) -> str | None:
    return {"nl": ",", "en": "."}.get(language or "")


def _number(text: str, mark: str | None) -> str:
    if mark is None or text[:1] in ",." or THOUSANDS.fullmatch(text) or TRAILING_ZERO.fullmatch(text):
        return text  # N004 / N018 / N003 are errors: left for a person (or `check --fix`)
    return text.replace("," if mark == "." else ".", mark)


def _unit(text: str) -> str:
    base = text[:-1] if text.endswith(".") else text
    if base in ERROR_UNITS:
        return text
    return UNIT_SPELLINGS.get(base, base)


def _route(text: str) -> str:
    key = " ".join(text.lower().split())
    if key in KEPT_ROUTES or key not in ROUTES:
        return text
    return ROUTES[key]


def _frequency_q(text: str) -> str:
    if text.lower().replace(".", "") in ERROR_FREQUENCIES:
        return text
    return text.lower()


def _lower(text: str) -> str:
    lowered = " ".join(text.lower().split())
    lowered = re.sub(r"\s*,\s*", ", ", lowered)  # `21 days on,7 days off`
    lowered = lowered.replace("×", "x")
    return re.sub(r"/\s+", "/", lowered)  # `/ week`


def _token_text(token: Token, mark: str | None) -> str:
    kind = token.type
    text = str(token).rstrip()
    if kind in VERBATIM_TERMINALS or kind in VERBATIM_LAB:
        return text
    if kind in ("DECIMAL", "NAKED_DECIMAL"):
        return _number(text, mark)
    if kind == "UNIT":
        return _unit(text)
    if kind == "ROUTE":
        return _route(text)
    if kind == "QNOTATION":
        return _frequency_q(text)
    if kind == "CONTINUOUS":
        return "continuous"
    if kind == "MONTHLY":
        return "monthly"
    if kind == "NOTE":
        return "note:"
    if kind == "AUC":
        return "AUC"
    if kind == "TIMES":
        return "x"
    if kind == "CMP":
        return COMPARISONS.get(text, text)
    if kind == "RANGE_SEP":
        return "to" if text.lower() == "to" else "-"
    if kind == "BULLET":
        return "-"
    if kind in LOWER_TERMINALS:
        return _lower(text)
    return text


def _tight(left: Token, left_text: str, right: Token, right_text: str) -> bool:
    """No space between these two adjacent tokens."""
    if right.type == "RANGE_SEP" and right_text != "to" and left.type in NUMBER_TYPES:
        return True
    if left.type == "RANGE_SEP" and left_text != "to" and right.type in NUMBER_TYPES:
        return True
    if right.type == "PERCENT" or "SLASH" in (left.type, right.type):
        return True
    if right.type == "PER_WEEK" and right_text.startswith("/"):
        return True
    return right.type == "DAY_CYCLE" and right_text.startswith("-")


def _gap(raw: str, tight: bool, at_start: bool) -> str:
    """The canonical text between two tokens (whitespace, commas, parentheses, colons)."""
    marks = [ch for ch in raw if not ch.isspace()]
    if not marks:
        return "" if tight or at_start else " "
    out = ""
    space = not at_start
    previous = ""
    for ch in marks:
        if ch == "," and previous == ",":
            continue
        if ch == "(":
            out += (" " if space and previous != "(" else "") + "("
            space = False
        else:
            out += ch
            space = True
        previous = ch
    return out + (" " if space else "")


def _statement(line: str, tokens: list[Token], starts: list[int], mark: str | None) -> str:
    """The canonical text of one line's tokens (indentation and trailing comment excluded)."""
    out = ""
    previous: Token | None = None
    previous_text = ""
    previous_end = starts[0]
    for token, start in zip(tokens, starts, strict=True):
        text = _token_text(token, mark)
        raw_gap = line[previous_end:start]
        if previous is None:
            out += _gap(raw_gap, True, True)
        elif previous.type == "META_KEY":
            out += " "
        elif set(raw_gap) - GAP_PUNCTUATION - {" ", "\t"}:
            out += raw_gap  # something the parser dropped that is not layout: keep it
        else:
            out += _gap(raw_gap, _tight(previous, previous_text, token, text), False)
        out += text
        previous, previous_text = token, text
        previous_end = start + len(str(token))
    tail = line[previous_end:]
    comment_at = _comment_start(tail)
    rest = tail if comment_at is None else tail[:comment_at]
    if rest.strip():
        out += _gap(rest, True, False).rstrip()
    return out


def _comment_start(tail: str) -> int | None:
    index = tail.find("//")
    return None if index < 0 else index


def _meta_key(token: Token) -> str:
    raw = str(token)[:-1].strip()
    key = KEY_BY_SPELLING.get(" ".join(raw.lower().split()))
    return (key if key is not None else raw) + ":"


# ---------------------------------------------------------------- lines


def format_source(source: SourceFile) -> Formatted:
    """Format decoded source text; raises FormatError when the file cannot be formatted safely."""
    before, before_diagnostics = _model(source)
    text = _layout(source, before)
    if text == source.text:
        return Formatted(text, False)
    after_source = SourceFile.from_text(source.path, text)
    try:
        after, after_diagnostics = _model(after_source)
    except FormatError as error:
        raise FormatError(f"{source.path}: formatting would not parse ({error}); the file is left as it is") \
            from error
    if meaning(after) != meaning(before) or after_diagnostics != before_diagnostics:
        raise FormatError(f"{source.path}: formatting would change the meaning; the file is left as it is "
                          "(please report this as a formatter bug)")
    return Formatted(text, True)


def format_text(path: str, raw: bytes) -> Formatted:
    """Format raw file bytes (decoded as the compiler does)."""
    source, problems = decode(path, raw)
    if source is None:
        first = problems[0]
        raise FormatError(f"{path}: {first.message} ({first.code})")
    return format_source(source)


def _layout(source: SourceFile, protocol: m.Protocol) -> str:
    parsed = parse(source)
    assert parsed.tree is not None
    by_line: dict[int, list[Token]] = {}
    pending: list[Tree[Token] | Token] = [parsed.tree]
    while pending:  # without recursion: a condition may nest a thousand `not`s deep (P019)
        node = pending.pop()
        if isinstance(node, Token):
            if node.line is not None:
                by_line.setdefault(node.line, []).append(node)
        else:
            pending.extend(node.children)
    mark = _decimal_mark(protocol.meta.language)
    lines = source.text.split("\n")
    out: list[str] = []
    stack: list[tuple[int, int]] = [(0, 0)]  # (written indentation, depth) of the open blocks
    for number, line in enumerate(lines, start=1):
        stripped = line.strip(" \t")
        if not stripped:
            if out and out[-1] != "":
                out.append("")
            continue
        indent = len(line) - len(line.lstrip(" "))
        tokens = sorted(by_line.get(number, []), key=lambda t: t.start_pos or 0)
        if not tokens:  # a comment line: as deep as the block it sits in
            depth = _comment_depth(stack, indent)
            out.append(INDENT * depth + line.strip())
            continue
        while indent < stack[-1][0]:
            stack.pop()
        if indent > stack[-1][0]:
            stack.append((indent, stack[-1][1] + 1))
        depth = stack[-1][1]
        line_start = source.line_starts[number - 1]
        starts = [(t.start_pos or 0) - line_start for t in tokens]
        body = _statement(line, tokens, starts, mark)
        if tokens[0].type == "META_KEY":
            body = _meta_key(tokens[0]) + body[len(str(tokens[0])):] if len(tokens) > 1 else _meta_key(tokens[0])
        if tokens[0].type == "BULLET" and len(tokens) == 1:
            body = "- "  # an empty bullet keeps its space: `-` alone would be prose
        last_end = starts[-1] + len(str(tokens[-1]))
        comment_at = _comment_start(line[last_end:])
        if comment_at is not None:
            body = body.rstrip() + "  " + line[last_end + comment_at:].rstrip()
        out.append(INDENT * depth + body)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n" if out else ""


def _comment_depth(stack: list[tuple[int, int]], indent: int) -> int:
    if indent > stack[-1][0]:
        return stack[-1][1] + 1
    depth = 0
    for written, level in stack:
        if written <= indent:
            depth = level
    return depth
