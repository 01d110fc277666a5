"""X: text and references — placeholders, editorial notes, references, regimens, typos, queries."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from compiler import model as m
from compiler.checks import _FOLDS_TO_ASCII, Context, folded
from compiler.diagnostics import Diagnostic, Fix, Severity, check
from compiler.source import Span
from compiler.suggest import closest
from compiler.tables import normalise

QUOTED = re.compile(r'"[^"]*"|“[^”]*”|„[^”"]*[”"]|‘[^’]*’')
T = TypeVar("T")
BRACKETED = re.compile(r"\[([^\[\]\n]*)\]|<([a-zA-Z][^<>\n]{0,40})>")


def text_pieces(context: Context) -> Iterator[tuple[str, Span]]:
    """Every piece of visible text (metadata values, headings, prose, notes), with spans (listed once per check run)."""
    return iter(context.memo("text.pieces", lambda c: list(_text_pieces(c))))


def _text_pieces(context: Context) -> Iterator[tuple[str, Span]]:
    for meta in context.protocol.meta.fields:
        value = meta.value
        if meta.key == "change note":
            # a change note may quote what it corrected ("[Emmaüs versie]", "postieve")
            value = QUOTED.sub(lambda quoted: " " * len(quoted.group(0)), value)
        yield value, meta.value_span
    for section in context.protocol.all_sections():
        yield section.title, section.span
    for item in context.of_types((m.Prose, m.Note, m.Decision, m.DrugLine)):
        if isinstance(item, m.Prose):
            yield item.text, item.span
        elif isinstance(item, m.Note) and item.text is not None:
            yield item.text.value, item.text.span
        elif isinstance(item, m.Decision) and item.title is not None:
            yield item.title.value, item.title.span
        elif isinstance(item, (m.DrugLine,)):
            for phase in item.phases:
                if phase.until is not None:
                    yield phase.until.value, phase.until.span


def _joined(context: Context) -> str:
    """Every text piece, joined by newlines (once per check run).

    The patterns searched in the pieces only test boundaries a newline passes, so a match in one
    piece is also a match here: a pattern absent from this text is absent from every piece.
    """
    return context.memo("text.joined_pieces", lambda c: "\n".join(text for text, _ in text_pieces(c)))


def _bracketed(context: Context) -> bool:
    """Whether some text piece holds a bracketed text (X001 and X002 ask; searched once per check run)."""
    return context.memo("text.bracketed", _find_bracketed)


# Every text piece is a part of one line of the source (metadata values, titles and texts are the tokens
# as written; a change note's quotes become spaces), so what the source cannot hold no piece holds: the
# source is asked first (substring tests and a literal-led pattern, far cheaper than listing the pieces).
_ANGLE = re.compile(r"<[a-zA-Z]")  # how BRACKETED's `<naam>` begins


def _source_may_bracket(context: Context) -> bool:
    """Whether the source holds `[` or `<` before a letter: every match of BRACKETED begins so."""
    text = context.source.text
    return "[" in text or ("<" in text and _ANGLE.search(text) is not None)


def _source_may_hold(context: Context, words: list[str]) -> bool:
    """Whether the source may hold one of the lower-case words in any case (as re.IGNORECASE finds them)."""
    return context.memo("text.source_holds", lambda c: _may_hold(c.source.text, words))  # one word list per run


def _may_hold(text: str, words: list[str]) -> bool:
    if any(char in text for char in _FOLDS_TO_ASCII):
        return True  # a character that folds to an ASCII letter only under re's rules: not decided here
    # ASCII letters lowered in the UTF-8 bytes (far cheaper than str.lower of a text with accents): an ASCII
    # word occurs there exactly where it occurs in the text in any case
    lowered = text.encode("utf-8", "surrogatepass").lower()
    return any(word.encode("utf-8") in lowered for word in words)


def _find_bracketed(context: Context) -> bool:
    if not _source_may_bracket(context):
        return False
    joined = _joined(context)
    # every match opens with `[` or `<`: most sheets hold neither (a substring test, not a scan of the pattern)
    return ("[" in joined or "<" in joined) and BRACKETED.search(joined) is not None


def _sub_span(span: Span, text: str, start: int, end: int) -> Span:
    if span.line != span.end_line or "\n" in text:
        return span
    return Span(span.file, span.line, span.column + start, span.line, span.column + end)


def _placeholder_words(context: Context) -> tuple[list[str], list[str]]:
    rules = context.tables.text_rules.get("placeholders") or {}
    return [str(w).lower() for w in rules.get("bracket_words") or []], [str(t) for t in rules.get("tokens") or []]


_PREPARED: dict[str, tuple[object, Any]] = {}  # per rule list: (the data it was read from, what was read)


def _prepared(name: str, data: object, prepare: Callable[[], T]) -> T:
    """What `prepare` reads from a data list, once per data set (the tables' list itself is the key)."""
    known = _PREPARED.get(name)
    if known is None or known[0] is not data:
        known = _PREPARED[name] = (data, prepare())
    found: T = known[1]
    return found


def _placeholder_rules(context: Context) -> tuple[list[str], list[tuple[str, str]], re.Pattern[str] | None]:
    """The bracket words, the tokens (each with `_rarest` of its characters) and the tokens' pattern
    (once per data set).
    """
    rules = context.tables.text_rules.get("placeholders")

    def prepare() -> tuple[list[str], list[tuple[str, str]], re.Pattern[str] | None]:
        words, tokens = _placeholder_words(context)
        pattern = re.compile(r"(?<![A-Za-z])(" + "|".join(re.escape(t) for t in tokens) + r")(?![A-Za-z])") \
            if tokens else None
        return words, [(t, _rarest(t)) for t in tokens], pattern

    return _prepared("placeholders", rules, prepare)


# Characters from rare to common in the sheets' text (a guess: any order is correct, a good one is faster)
_BY_RARITY = {char: rank for rank, char in enumerate(
    "?!#$%&*@^_~|\\QJZXVKWYFBGHMPDUCLSNTOIRAE0123456789qjzxvkwyfbghmpudcl.,-snrtoia e")}


def _rarest(word: str) -> str:
    """The character of a word least likely in a text: asked first, one character is found many times faster
    than a word (a text without it cannot hold the word).
    """
    return min(word, key=lambda char: _BY_RARITY.get(char, -1)) if word else ""


def _holds_any(text: str, keyed: list[tuple[str, str]]) -> bool:
    """Whether the text holds one of the words, each given with one of its characters (`_rarest`)."""
    return any(char in text and word in text for word, char in keyed)


def _is_placeholder(inside: str, words: list[str]) -> bool:
    lowered = inside.lower().strip()
    return not lowered.strip(". …") or any(w in lowered for w in words)


@check("X001", "placeholder", Severity.ERROR, "unfilled placeholder in the text")
def placeholder(context: Context) -> Iterator[Diagnostic]:
    """What it checks: no placeholder is left anywhere, metadata and footer included:
    `[Emmaüs versie]`, `[...]`, `<naam>`, `TODO`, `TBD`, `XXX`.

    Why it matters: the seed's printed footer reads `Versie: [Emmaüs versie]`, so no
    reader can tell whether the copy in hand is current.

    Example: `version: [Emmaüs versie]`

    Use instead: `version: 2.0` — the footer is filled from the metadata.

    Source: seed 002 (Emmaüs procedure footer); ISO 9001:2015 §7.5.2.
    """
    words, tokens, token_pattern = _placeholder_rules(context)
    if not _bracketed(context) and (token_pattern is None or not _holds_any(context.source.text, tokens)
                                     or token_pattern.search(_joined(context)) is None):
        return
    for text, span in text_pieces(context):
        for match in BRACKETED.finditer(text):
            inside = match.group(1) if match.group(1) is not None else match.group(2)
            if match.group(2) is not None or _is_placeholder(inside, words):
                yield placeholder.at(_sub_span(span, text, match.start(), match.end()),
                                     f"unfilled placeholder `{match.group(0)}`",
                                     "replace it with the real text; version and date come from the metadata")
        if token_pattern is not None:
            for match in token_pattern.finditer(text):
                yield placeholder.at(_sub_span(span, text, match.start(), match.end()),
                                     f"unfinished text marker `{match.group(0)}`", "finish the text or remove the marker")


@check("X002", "editorial-note", Severity.ERROR, "editorial note left in the text")
def editorial_note(context: Context) -> Iterator[Diagnostic]:
    """What it checks: no editorial instruction or bracketed comment is left in the text
    (`[Laatste zin weg]`, `[delete this]`).

    Why it matters: an instruction meant for the editor, printed on a clinical sheet,
    means the text around it was never finished — and may say the opposite of what
    was intended.

    Example: `De behandeling blijft langer effectief. [Laatste zin weg]`

    Use instead: carry out the instruction; put remarks for reviewers in a `query:` line
    or a `// comment`.

    A `reference:` line is not searched for editorial notes: it cites a source as
    published, and published titles use brackets (`AC [DOXOrubicin and
    CYCLOPHOSPHamide] Q3W`). Placeholders in a reference are still X001.

    Source: seed 000 (kanker.nl page with `[Laatste zin weg]`).
    """
    if not _bracketed(context):
        return
    words, _, _ = _placeholder_rules(context)
    cited = {meta.value_span for meta in context.protocol.meta.fields if meta.key == "reference"}
    for text, span in text_pieces(context):
        if span in cited:
            continue
        for match in BRACKETED.finditer(text):
            inside = match.group(1)
            if inside is not None and not _is_placeholder(inside, words):
                yield editorial_note.at(_sub_span(span, text, match.start(), match.end()),
                                        f"editorial note left in the text: `{match.group(0)}`",
                                        "carry out the note and remove it; use `query:` for open questions")


@check("X003", "dangling-reference", Severity.ERROR, "cross-reference to a section that does not exist")
def dangling_reference(context: Context) -> Iterator[Diagnostic]:
    """What it checks: every `§id` names an existing section id.

    Why it matters: "cfr. categorie 7" where there is no category 7 sends the reader
    nowhere, at the moment they need the next line of treatment.

    Example: `Nadien: zie §categorie-7`

    Use instead: `Nadien: zie §her2-negatief` (rendered as a link and "zie 4.3").

    Source: seed 002 ("cfr. categorie 3").
    """
    if "§" not in context.source.text:
        return  # a reference is read only from a text holding `§` (the builder's test): most sheets hold none
    ids = [s.id for s in context.protocol.all_sections()]
    for item in context.of_types((m.Prose, m.Note)):
        refs = item.refs if isinstance(item, (m.Prose, m.Note)) else ()
        for ref in refs:
            if ref.target in ids:
                continue
            suggestion = closest(ref.target, ids)
            hint = f"did you mean §{suggestion}?" if suggestion else "section ids: " + ", ".join(ids[:12])
            fix = Fix(ref.span, "§" + suggestion, f"point to §{suggestion}", safe=False) if suggestion else None
            yield dangling_reference.at(ref.span, f"no section with id `{ref.target}`", hint, fix)


@check("X004", "unresolved-regimen", Severity.ERROR, "regimen named without doses that the library cannot resolve")
def unresolved_regimen(context: Context) -> Iterator[Diagnostic]:
    """What it checks: `regimen NAME` either names a regimen of the library (which supplies
    doses, schedule and source) or holds its own drug lines.

    Why it matters: "Taxol weekly" or "Carbo-Gemzar" on a sheet leaves dose and days to
    memory; the library makes every regimen explicit, sourced and checkable.

    Example: `regimen Carbo-Gemzar`

    Use instead: `regimen carboplatin-gemcitabine` (library), or an inline regimen with
    its drug lines indented below it.

    Source: seed 002; NCCN Chemotherapy Order Templates (regimens with doses and days).
    """
    names = context.tables.regimen_names
    for item in context.of_type(m.RegimenLine):
        if not isinstance(item, m.RegimenLine) or item.regimen_id is not None:
            continue
        if any(isinstance(c, m.DrugLine) or (isinstance(c, m.Bullet) and isinstance(c.content, m.DrugLine))
               for c in item.children):
            continue
        if any(isinstance(c.content if isinstance(c, m.Bullet) else c, m.PhaseLine) for c in item.children):
            continue  # lang-b: an inline regimen in phases lists its drug lines under them
        hit = context.tables.names.get(normalise(item.name.value))
        if hit is not None and hit.how == "abbreviation" and len(hit.drug_ids) > 1:
            yield unresolved_regimen.at(item.name.span, f"ambiguous regimen name `{item.name.value}`",
                                        "name the regimen by its drugs: " + " or ".join(x.replace("_", " ") for x in hit.drug_ids))
            continue
        suggestion = closest(normalise(item.name.value), names)
        hint = (f"did you mean `{names[suggestion]}`?" if suggestion
                else "use a regimen id from the library (`protocolc regimens`) or list its drug lines below it")
        yield unresolved_regimen.at(item.name.span, f"regimen `{item.name.value}` is not in the regimen library", hint)


@check("X005", "misspelling", Severity.WARNING, "known misspelling")
def misspelling(context: Context) -> Iterator[Diagnostic]:
    """What it checks: words from the list of known misspellings in Dutch oncology texts
    ("postieve", "bisfosfanaten", "zolendronaat").

    Why it matters: misspellings on a clinical sheet erode trust in it, and in drug names
    they defeat look-up and search.

    Example: `HER2-postieve tumor`

    Use instead: `HER2-positieve tumor`

    Source: seeds 000, 002, 004 (misspellings found in published texts).
    """
    entries = context.tables.text_rules.get("misspellings") or []
    anywhere, words, ascii_words = _prepared("misspellings", entries, lambda: _misspelling_words(entries))
    if anywhere is None:
        return
    if ascii_words and not _source_may_hold(context, words):
        return  # no line of the sheet holds any of the words in any case
    lowered = context.memo("text.folded_pieces", lambda c: folded(_joined(c)))
    if lowered is not None and ascii_words and not any(w in lowered for w in words):
        return  # no piece holds any of the words in any case
    if anywhere.search(_joined(context)) is None:
        return
    patterns = [(re.compile(r"(?<![A-Za-zÀ-ÿ])" + re.escape(str(e["wrong"])) + r"(?![A-Za-zÀ-ÿ])", re.IGNORECASE),
                 str(e["right"])) for e in entries]
    for text, span in text_pieces(context):
        if anywhere.search(text) is None:
            continue
        for pattern, right in patterns:
            for match in pattern.finditer(text):
                found = match.group(0)
                fixed = right.capitalize() if found[0].isupper() else right
                where = _sub_span(span, text, match.start(), match.end())
                yield misspelling.at(where, f"misspelling `{found}`", f"write `{fixed}`",
                                     Fix(where, fixed, f"write {fixed}", safe=True))


def _misspelling_words(entries: list[dict[str, Any]]) -> tuple[re.Pattern[str] | None, list[str], bool]:
    """One pattern of every misspelling (a search finds the texts where some occurs: most have none),
    the words in lower case, and whether all of them are ASCII.
    """
    # one search finds the texts where some misspelling occurs (most have none)
    anywhere = re.compile(r"(?<![A-Za-zÀ-ÿ])(?:" + "|".join(re.escape(str(e["wrong"])) + r"(?![A-Za-zÀ-ÿ])"
                                                        for e in entries) + ")", re.IGNORECASE) if entries else None
    words = [str(e["wrong"]).lower() for e in entries]
    return anywhere, words, all(w.isascii() for w in words)


@check("X006", "open-review-query", Severity.WARNING, "open review query")
def open_query(context: Context) -> Iterator[Diagnostic]:
    """What it checks: lists every `query:` line — a question the author recorded for the
    reviewer instead of guessing (a dose that cannot be right, a threshold whose scoring
    method is unstated).

    Why it matters: an open query means the sheet is not ready; release refuses while
    any remains, and the rendered sheet shows it highlighted.

    Example: `query: 100 mL siroop (500 mg/5 mL) per dag is 10 g — klopt dit?`

    Use instead: resolve the question with the prescriber, correct the line, and delete
    the query.

    Source: ISO 9001:2015 §7.5.2 (review and approval); protocolc review workflow.
    """
    for item in context.of_type(m.Query):
        if isinstance(item, m.Query):
            text = item.text.value if item.text is not None else "(empty)"
            yield open_query.at(item.span, f"open review query: {text}",
                                "resolve it with the reviewer, then remove the query line")
