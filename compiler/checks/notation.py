"""N: notation — error-prone abbreviations and number formats (TJC "Do Not Use" list = error,
ISMP error-prone designations = warning).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator

from compiler import model as m
from compiler.checks import Context, folded
from compiler.diagnostics import Diagnostic, Fix, Severity, check
from compiler.lazyre import LazyPattern, lazy
from compiler.source import Span
from compiler.tables import Tables, normalise

TJC = "The Joint Commission, Official \"Do Not Use\" List (2004, reaffirmed)"
THOUSANDS = re.compile(r"[1-9][0-9]{0,2}[.,][0-9]{3}")
# compiled once: `re.fullmatch(pattern, …)` looked its pattern up in re's cache for every number
_TRAILING_ZERO = re.compile(r"([0-9]*)[.,]([0-9]*?)0+").fullmatch
_THOUSANDS_SHAPE = re.compile(r"[0-9]{1,3}[.,][0-9]{3}").fullmatch
ISMP = "ISMP List of Error-Prone Abbreviations, Symbols, and Dose Designations (2021)"


def numbers(context: Context) -> Iterator[m.Number]:
    """Every number written in a structured statement (listed once per check run)."""
    return iter(context.memo("notation.numbers", _numbers))


def _separated(context: Context) -> list[m.Number]:
    """The numbers written with a `.` or `,` (or with no text at all): the only ones N003, N004, N018 and
    N020 can report (listed once per check run; most numbers are whole).
    """
    return context.memo("notation.separated", lambda c: [n for n in numbers(c)
                                                          if not n.text or "." in n.text or "," in n.text])


def _numbers(context: Context) -> list[m.Number]:
    found: list[m.Number] = []
    add = found.append
    for item in context.of_types((m.DrugLine, m.Fractionation, m.When, m.OnlyWhen, m.ExcludeWhen)):
        if isinstance(item, m.DrugLine):
            for phase in item.phases:
                dose = phase.dose
                if dose is not None:
                    add(dose.amount)
                    if dose.amount_max is not None:
                        add(dose.amount_max)
            if item.form is not None and item.form.concentration is not None:
                add(item.form.concentration[0])
                add(item.form.concentration[2])
        elif isinstance(item, m.Fractionation):
            for number in (item.fractions, item.fractions_max, item.dose_per_fraction, item.dose_per_fraction_max,
                           item.total):
                if number is not None:
                    add(number)
        elif isinstance(item, (m.When, m.OnlyWhen, m.ExcludeWhen)):
            for atom in m.condition_atoms(item.condition):
                if isinstance(atom, m.Compare) and atom.number is not None:
                    add(atom.number)
    return found


def doses(context: Context) -> Iterator[m.Dose]:
    """Every dose of every drug line (listed once per check run)."""
    return iter(context.memo("notation.doses", lambda c: list(_doses(c))))


def _doses(context: Context) -> Iterator[m.Dose]:
    for item in context.of_type(m.DrugLine):
        if isinstance(item, m.DrugLine):
            for phase in item.phases:
                if phase.dose is not None:
                    yield phase.dose


def _unit_texts(context: Context) -> frozenset[str]:
    """The units of the doses as written (`mg`, `U.`), once per check run: N001, N010, N011 and N017 ask
    first whether one they report is written at all (most sheets write none), where each looked at every dose.
    """
    return context.memo("notation.unit_texts", lambda c: frozenset([dose.unit_text for dose in doses(c)]))


def _writes_unit(context: Context, units: tuple[str, ...]) -> bool:
    """Whether some dose is written in one of the units, with or without periods after it."""
    return any(text.rstrip(".") in units for text in _unit_texts(context))


def routes(context: Context) -> Iterator[m.Route]:
    """Every route of every drug line."""
    for item in context.of_type(m.DrugLine):
        if isinstance(item, m.DrugLine):
            for phase in item.phases:
                if phase.route is not None:
                    yield phase.route


def unit_span(dose: m.Dose) -> Span:
    """The span of the unit of a dose (the end of the dose span)."""
    span = dose.span
    return Span(span.file, span.end_line, _unit_column(dose), span.end_line, span.end_column)


def _unit_column(dose: m.Dose) -> int:
    """The column where `unit_span` begins."""
    span = dose.span
    return max(span.column, span.end_column - len(dose.unit_text))


def _decimal_mark(context: Context) -> str:
    return "," if context.language == "nl" else "."


@check("N001", "u-or-iu-for-units", Severity.ERROR, "`U` or `IU` written for units")
def u_or_iu(context: Context) -> Iterator[Diagnostic]:
    """What it checks: doses in units are written with the word `units`, not `U` or `IU`.

    Why it matters: `U` is misread as 0 or 4 (10U → 100), `IU` as IV or 10; both are on
    the Joint Commission "Do Not Use" list.

    Example: `drug heparin 5000 U subcut`

    Use instead: `drug heparin 5000 units subcut`

    Source: The Joint Commission "Do Not Use" list; ISMP error-prone abbreviations (2021).
    """
    if not _writes_unit(context, ("U", "IU")):
        return
    for dose in doses(context):
        if dose.unit_text.rstrip(".") in ("U", "IU"):
            where = unit_span(dose)
            yield u_or_iu.at(where, f"`{dose.unit_text}` for units", "write `units`",
                             Fix(where, "units", "write units", safe=True))


@check("N002", "qd-qod", Severity.ERROR, "`qd`/`qod` frequency abbreviations")
def qd_qod(context: Context) -> Iterator[Diagnostic]:
    """What it checks: frequencies are written out; `qd`, `q.d.`, `qod`, `q.o.d.` are not used.

    Why it matters: q.d. (daily) and q.o.d. (every other day) are mistaken for each other
    and for q.i.d. (four times a day) — a fourfold overdose.

    Example: `drug letrozole 2,5 mg po qd`

    Use instead: `drug letrozole 2,5 mg po daily`

    Source: The Joint Commission "Do Not Use" list.
    """
    for item in context.of_type(m.DrugLine):
        if not isinstance(item, m.DrugLine):
            continue
        for phase in item.phases:
            frequency = phase.frequency
            if frequency is None:
                continue
            text = frequency.text.lower().replace(".", "")
            if text in ("qd", "qod"):
                replacement = "daily" if text == "qd" else "every 2 days"
                yield qd_qod.at(frequency.span, f"`{frequency.text}` is a do-not-use abbreviation",
                                f"write `{replacement}`", Fix(frequency.span, replacement, f"write {replacement}", safe=True))


@check("N003", "trailing-zero", Severity.ERROR, "trailing zero after a decimal separator")
def trailing_zero(context: Context) -> Iterator[Diagnostic]:
    """What it checks: no number ends in a zero after the decimal separator (`5.0 mg`, `2,50`).

    Why it matters: the separator is lost on a fax or a crease, and 5.0 mg becomes 50 mg.

    Example: `drug anastrozole 1,0 mg po daily`

    Use instead: `drug anastrozole 1 mg po daily`

    Source: The Joint Commission "Do Not Use" list (trailing zero).
    """
    for number in _separated(context):
        if "." not in number.text and "," not in number.text:
            continue  # no separator: nothing after one (most numbers)
        match = _TRAILING_ZERO(number.text)
        if match and not THOUSANDS.fullmatch(number.text):  # `2,500` is N018's ambiguity, not a trailing zero
            whole, fraction = match.group(1) or "0", match.group(2)
            fixed = whole + (_decimal_mark(context) + fraction if fraction else "")
            yield trailing_zero.at(number.span, f"trailing zero in `{number.text}`", f"write `{fixed}`",
                                   Fix(number.span, fixed, f"write {fixed}", safe=True))


@check("N004", "naked-decimal", Severity.ERROR, "decimal without a leading zero")
def naked_decimal(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a number below 1 has a leading zero (`0,5`, not `,5`).

    Why it matters: `.5 mg` is read as 5 mg when the point is missed — a tenfold overdose.

    Example: `drug anastrozole ,5 mg po daily`

    Use instead: `drug anastrozole 0,5 mg po daily`

    Source: The Joint Commission "Do Not Use" list (lack of leading zero).
    """
    for number in _separated(context):
        if number.text[:1] in ",.":
            fixed = "0" + number.text
            yield naked_decimal.at(number.span, f"no leading zero in `{number.text}`", f"write `{fixed}`",
                                   Fix(number.span, fixed, f"write {fixed}", safe=True))


@check("N010", "microgram-symbol", Severity.WARNING, "`µg` written for micrograms")
def microgram_symbol(context: Context) -> Iterator[Diagnostic]:
    """What it checks: micrograms are written `mcg`, not `µg`/`μg`/`ug`.

    Why it matters: a handwritten or badly printed µ reads as m: a thousandfold overdose.

    Example: `drug fentanyl 25 µg IV`

    Use instead: `drug fentanyl 25 mcg IV`

    Source: ISMP error-prone abbreviations (2021).
    """
    if not _writes_unit(context, ("µg", "μg", "ug")):
        return
    for dose in doses(context):
        if dose.unit_text.rstrip(".") in ("µg", "μg", "ug"):
            where = unit_span(dose)
            yield microgram_symbol.at(where, f"`{dose.unit_text}` for micrograms", "write `mcg`",
                                      Fix(where, "mcg", "write mcg", safe=True))


@check("N011", "cc-for-ml", Severity.WARNING, "`cc` written for millilitres")
def cc_for_ml(context: Context) -> Iterator[Diagnostic]:
    """What it checks: volumes are written `mL`, not `cc`.

    Why it matters: `cc` is misread as `u` (units) or as two zeros.

    Example: `drug medroxyprogesterone acetate 10 cc po daily`

    Use instead: `drug medroxyprogesterone acetate 10 mL po daily`

    Source: ISMP error-prone abbreviations (2021).
    """
    if not _writes_unit(context, ("cc",)):
        return
    for dose in doses(context):
        if dose.unit_text.rstrip(".") == "cc":
            where = unit_span(dose)
            yield cc_for_ml.at(where, "`cc` for millilitres", "write `mL`", Fix(where, "mL", "write mL", safe=True))


@check("N012", "sc-route", Severity.WARNING, "`SC`/`SQ`/`sub q` written for subcutaneous")
def sc_route(context: Context) -> Iterator[Diagnostic]:
    """What it checks: the subcutaneous route is written `subcut`.

    Why it matters: `SC` is read as SL (sublingual), `SQ` as "5 every", `sub q` as "every".

    Example: `drug denosumab 120 mg SC every 4 weeks`

    Use instead: `drug denosumab 120 mg subcut every 4 weeks`

    Source: ISMP error-prone abbreviations (2021).
    """
    for route in routes(context):
        if route.code == "subcut" and route.text.lower().replace(" ", "") not in ("subcut",):
            yield sc_route.at(route.span, f"`{route.text}` for subcutaneous", "write `subcut`",
                              Fix(route.span, "subcut", "write subcut", safe=True))


@check("N016", "number-run-into-unit", Severity.WARNING, "number written against its unit")
def number_run_into_unit(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a space separates a dose from its unit (`10 mg`, not `10mg`).

    Why it matters: run together, the `m` can be read as a zero or a one (10mg → 100 mg).

    Example: `drug tamoxifen 20mg po daily`

    Use instead: `drug tamoxifen 20 mg po daily`

    Source: ISMP error-prone dose designations (2021).
    """
    for dose in doses(context):
        last = dose.amount_max or dose.amount
        # (where the unit begins, without making its span: asked of every dose, true of few)
        if dose.unit != "AUC" and last.span.end_line == dose.span.end_line and last.span.end_column == _unit_column(dose):
            unit = unit_span(dose)
            joined = Span(unit.file, last.span.line, last.span.column, unit.end_line, unit.end_column)
            fixed = f"{last.text} {dose.unit_text}"
            yield number_run_into_unit.at(joined, f"`{last.text}{dose.unit_text}`: number run into its unit",
                                          f"write `{fixed}`", Fix(joined, fixed, f"write {fixed}", safe=True))


@check("N017", "period-after-unit", Severity.WARNING, "period after a unit")
def period_after_unit(context: Context) -> Iterator[Diagnostic]:
    """What it checks: units carry no period (`mg`, not `mg.`).

    Why it matters: the period is read as the digit 1 (`mg.` → `mg1`) or as a decimal point.

    Example: `drug tamoxifen 20 mg. po daily`

    Use instead: `drug tamoxifen 20 mg po daily`

    Source: ISMP error-prone dose designations (2021).
    """
    if not any(text.endswith(".") for text in _unit_texts(context)):
        return
    for dose in doses(context):
        if dose.unit_text.endswith("."):
            where = unit_span(dose)
            yield period_after_unit.at(where, f"period after the unit `{dose.unit_text}`",
                                       f"write `{dose.unit_text[:-1]}`",
                                       Fix(where, dose.unit_text[:-1], "remove the period", safe=True))


@check("N018", "ambiguous-thousands", Severity.ERROR, "number that reads as a thousands separator")
def ambiguous_thousands(context: Context) -> Iterator[Diagnostic]:
    """What it checks: no number has exactly three digits after its separator where that
    separator is the other locale's thousands mark: `2,500` or `2.500`.

    Why it matters: `2,500 mg` is 2.5 mg in a Dutch document and 2500 mg in an English
    one — a thousandfold ambiguity. Doses never carry thousands separators.

    Example: `drug capecitabine 2,500 mg po twice daily`

    Use instead: `drug capecitabine 2500 mg po twice daily` (or `2,5 mg` if that is meant)

    Source: ISMP error-prone dose designations (2021): avoid commas in large numbers; RULES.md N018.
    """
    for number in _separated(context):
        if THOUSANDS.fullmatch(number.text):
            yield ambiguous_thousands.at(number.span, f"`{number.text}` can be read as a decimal or as thousands",
                                         "write the number without a separator (2500) or with one decimal part (2,5)")


@check("N020", "mixed-decimal-separators", Severity.WARNING, "decimal comma and decimal point mixed in one document")
def mixed_decimal_separators(context: Context) -> Iterator[Diagnostic]:
    """What it checks: one document uses one decimal separator. Both `2,5` and `2.5` are
    read, but a document that mixes them is flagged (the rendered sheet always uses the
    document's locale: nl `2,5`, en `2.5`).

    Why it matters: a reader who sees both styles cannot tell which one a number like
    `1,250` follows.

    Example: `drug letrozole 2,5 mg po daily` and `rt 8 x 7.5 Gy` in one file (seed 002)

    Use instead: `rt 8 x 7,5 Gy` in a Dutch document.

    Source: RULES.md N020; seed 002 (`2,5 mg` and `8x7.5 Gy`).
    """
    expected = _decimal_mark(context)
    for number in _separated(context):
        mark = number.decimal_separator
        if mark is not None and mark != expected and _THOUSANDS_SHAPE(number.text) is None:
            fixed = number.text.replace(mark, expected)
            yield mixed_decimal_separators.at(
                number.span, f"`{number.text}` uses `{mark}` in a document whose decimal mark is `{expected}`",
                f"write `{fixed}`", Fix(number.span, fixed, f"write {fixed}", safe=True))


# ---------------------------------------------------------------- N030 dose in prose

DOSE_IN_TEXT = re.compile(
    r"(?<![\w.,])(?P<amount>[0-9]+(?:[.,][0-9]+)?(?:\s*(?:-|–|tot|to)\s*[0-9]+(?:[.,][0-9]+)?)?)\s*"
    r"(?P<unit>(?i:mg/m²|mg/m2|mg/m\^2|mg/kg|mcg/kg|µg/kg|μg/kg|mg|mcg|µg|μg|ug|grams?|ml|cc|units?|eenheden|mmol)"
    r"|g|IU|IE|E|U)(?![A-Za-z0-9²µμ]|\s*/\s*(?:min|l|L|dl|dL|h|uur|hour)\b)"
    r"|\bAUC\s*=?\s*(?P<auc>[0-9]+(?:[.,][0-9]+)?)", re.UNICODE)
"""A dose quantity in free text: a number with a mass, volume or unit (not a rate such as mL/min), or AUC N."""

# What every match of DOSE_IN_TEXT holds, unless it holds `AUC` (tested apart, as a plain substring): its
# amount's last digit, spaces and a whole unit not run into a letter or digit (DOSE_IN_TEXT's units and
# look-ahead without the rate test). Cheap to search (one character class first), and few prose lines
# hold one: DOSE_IN_TEXT (a look-behind tried at every position) runs on those only.
_DOSE_NEEDED_PATTERN = re.compile(
    r"[0-9]\s*(?:(?i:mg/m²|mg/m2|mg/m\^2|mg/kg|mcg/kg|µg/kg|μg/kg|mg|mcg|µg|μg|ug|grams?|ml|cc|units?|eenheden|mmol)"
    r"|g|IU|IE|E|U)(?![A-Za-z0-9²µμ])")
_DOSE_NEEDED = _DOSE_NEEDED_PATTERN.search
_DOSE_NEEDED_AT = _DOSE_NEEDED_PATTERN.match
# What every match of _DOSE_NEEDED holds: a digit, spaces and the first letter of a unit in any of the
# cases its pattern accepts (µ also folds to Greek mu, capital or small). Most digits in prose (days,
# dates, lab values) fail this at their next character; the full pattern tries its twenty units there.
_UNIT_AFTER_DIGIT_PATTERN = re.compile(r"[0-9]\s*[mMuUgGcCeEIµμΜ]")
_UNIT_AFTER_DIGIT = _UNIT_AFTER_DIGIT_PATTERN.search


def _unit_starts(text: str) -> list[int]:
    """Where `_UNIT_AFTER_DIGIT` matches in a text (its digits), found in one scan.

    Every match of `_DOSE_NEEDED` or `_SLASH_OR_PLUS_HINT` starts at one of these: it starts with a
    digit, spaces and the first letter of a unit, and the matches found here cannot hold that digit
    unless they start at it (after their digit come only spaces and a letter). So such a pattern,
    tried only at these positions (`match`), finds what its search over the whole text finds, and
    the slow scan (a character class first) is made once for both rules.
    """
    return [hit.start() for hit in _UNIT_AFTER_DIGIT_PATTERN.finditer(text)]


def _holds_dose_unit(text: str, starts: list[int] | None = None) -> bool:
    """`_DOSE_NEEDED(text) is not None`, trying the pattern only where `_unit_starts` are."""
    for start in _unit_starts(text) if starts is None else starts:
        if _DOSE_NEEDED_AT(text, start) is not None:
            return True
    return False
_TEXT_WORD = re.compile(r"[^\s()\[\]{},;:!?\"“”‘’/|=<>≥≤]+")
_COMMENT = lazy(r"[ \t]+//.*$")


def _uncommented(text: str) -> str:
    """The line without its `// comment` (most lines have none: no regex for them)."""
    return _COMMENT.sub("", text) if "//" in text else text


_FREE_TEXT = (m.Prose, m.Note, m.Decision)
_KIND_NAMES: dict[type[m.Item], str] = {kind: kind.__name__.lower() for kind in _FREE_TEXT}


def free_text_lines(context: Context) -> Iterator[tuple[int, str]]:
    """(line, kind) of every line of free text: prose, bullets with prose, notes, decisions, headings,
    and the printed metadata lines (title, scope, change note); listed once per check run.

    Queries are not free text here: they already block approval (X006, V010).
    """
    return iter([(line, kind) for line, kind, _ in _free_texts(context)])


def _free_texts(context: Context) -> list[tuple[int, str, str]]:
    """(line, kind, text without comment) of every free-text line (once per check run)."""
    return context.memo("notation.free_texts", _find_free_texts)


def _find_free_texts(context: Context) -> list[tuple[int, str, str]]:
    text, starts = context.source.text, context.source.line_starts
    last = len(starts)
    found: list[tuple[int, str, str]] = []
    for line, kind in _free_text_lines(context):
        # `_uncommented(_line_text(…))` written out: a step per free-text line of every sheet
        raw = text[starts[line - 1]:starts[line] - 1] if 0 < line < last else _line_text(text, starts, line)
        found.append((line, kind, _COMMENT.sub("", raw) if "//" in raw else raw))
    return found


def _line_text(text: str, starts: tuple[int, ...], line: int) -> str:
    """Line `line` (1-based) of the source, as splitting the text at its newlines gives it ("" outside the text).

    Sliced from the source's line index: the checks read a few lines of a sheet, and splitting
    the whole text made a string of every line.
    """
    if 0 < line < len(starts):
        return text[starts[line - 1]:starts[line] - 1]
    return text[starts[line - 1]:] if line == len(starts) and line > 0 else ""


def _free_texts_joined(context: Context) -> str:
    """The free-text lines of `_free_texts`, joined by newlines (once per check run)."""
    return context.memo("notation.free_texts_joined", lambda c: "\n".join([raw for _, _, raw in _free_texts(c)]))


def _free_unit_starts(context: Context) -> list[int]:
    """`_unit_starts` of the joined free-text lines (once per check run: N030 and N015 ask)."""
    return context.memo("notation.free_unit_starts", lambda c: _unit_starts(_free_texts_joined(c)))


def _free_text_lines(context: Context) -> list[tuple[int, str]]:
    seen: set[int] = set()
    found: list[tuple[int, str]] = []
    meta = context.protocol.meta
    for text in (meta.title, meta.scope, meta.change_note):  # printed on the sheet too
        if text is not None and text.span.line not in seen:
            seen.add(text.span.line)
            found.append((text.span.line, "metadata"))
    names = _KIND_NAMES
    for item in context.of_types(_FREE_TEXT):
        line = item.span.line
        if line not in seen:
            seen.add(line)
            kind = names.get(type(item))
            found.append((line, type(item).__name__.lower() if kind is None else kind))
    for section in context.protocol.all_sections():
        line = section.span.line
        if line not in seen:
            seen.add(line)
            found.append((line, "heading"))
    return found


_NAME_INDEX: dict[str, tuple[dict[str, tuple[str, ...]], frozenset[str], int]] = {}


def _name_index(tables: Tables) -> tuple[dict[str, tuple[str, ...]], frozenset[str], int]:
    """Drug names (normalised) → drug ids, the words names start with, and the longest name in words.

    Product-group names (`denosumab`) count as every product of the group. Built once per data fingerprint.
    """
    known = _NAME_INDEX.get(tables.fingerprint)
    if known is not None:
        return known
    index = {key: tuple(d for d in hit.drug_ids if d in tables.drugs) for key, hit in tables.names.items()}
    for group in tables.product_groups.values():
        for name in group.get("names") or []:
            index.setdefault(normalise(str(name)), tuple(str(x) for x in group.get("members") or []))
    index = {key: ids for key, ids in index.items() if ids}
    built = (index, frozenset(key.split()[0] for key in index), max((len(k.split()) for k in index), default=1))
    _NAME_INDEX.clear()
    _NAME_INDEX[tables.fingerprint] = built
    return built


_normal_word = functools.lru_cache(maxsize=65536)(normalise)
_PUNCTUATION = re.compile(r"[\W_]+")


def _dutch_abbreviation(word: str, text: str, start: int, key: str, context: Context) -> bool:
    """A lower-case drug abbreviation written with a period is an ordinary abbreviation (`gem.` = gemiddeld)."""
    hit = context.tables.names.get(key)
    after = start + len(word)
    return (hit is not None and hit.how == "abbreviation" and word.islower() and after < len(text)
            and text[after] == ".")


def drug_names_in(text: str, context: Context) -> list[tuple[int, int, tuple[str, ...]]]:
    """(start, end, drug ids) of every drug name in a text: generic, alias, brand, abbreviation, any case.

    Longest match first (`trastuzumab emtansine` before `trastuzumab`).
    """
    index, first_words, longest = _name_index(context.tables)
    words = [(w.start(), w.group(0).rstrip("."), _normal_word(w.group(0).rstrip(".")))
             for w in _TEXT_WORD.finditer(text) if not _PUNCTUATION.fullmatch(w.group(0))]
    found: list[tuple[int, int, tuple[str, ...]]] = []
    position = 0
    while position < len(words):
        key = words[position][2]
        if not key or key.split()[0] not in first_words:
            position += 1
            continue
        for size in range(min(longest, len(words) - position), 0, -1):
            chunk = words[position:position + size]
            key = " ".join(w[2] for w in chunk)
            ids = index.get(key)
            if ids and size == 1 and _dutch_abbreviation(chunk[0][1], text, chunk[0][0], key, context):
                ids = ()
            if ids:
                found.append((chunk[0][0], chunk[-1][0] + len(chunk[-1][1]), ids))
                position += size
                break
        else:
            position += 1
    return found


_ROUTE_WORDS = lazy(r"\b(po|oraal|per os|IV|intraveneus|IM|intramusculair|subcut|subcutaan|sc)\b", re.IGNORECASE)
_ROUTE_CODES = {"po": "po", "iv": "IV", "im": "IM", "subcut": "subcut", "oraal": "po", "per os": "po",
                "intraveneus": "IV", "intramusculair": "IM", "subcutaan": "subcut",
                "sc": "subcut"}
_FREQUENCY_WORDS = ((lazy(r"\b(2\s*(x|maal)\s*(per|/)\s*dag|twice daily|tweemaal daags)\b", re.I), "twice daily"),
                    (lazy(r"\b(3\s*(x|maal)\s*(per|/)\s*dag|three times daily|driemaal daags)\b", re.I),
                     "three times daily"),
                    (lazy(r"\b(dagelijks|daily|per dag|/\s*dag|daags)\b", re.I), "daily"),
                    (lazy(r"\b(wekelijks|weekly)\b", re.I), "weekly"))


_UNIT_WORDS = {"mg/m²": "mg/m2", "mg/m^2": "mg/m2", "ml": "mL", "cc": "mL", "gram": "g", "grams": "g", "unit": "units",
               "eenheden": "units", "iu": "units", "ie": "units", "µg": "mcg", "μg": "mcg", "ug": "mcg",
               "µg/kg": "mcg/kg", "μg/kg": "mcg/kg", "mg": "mg", "mcg": "mcg", "mg/kg": "mg/kg", "mcg/kg": "mcg/kg",
               "mg/m2": "mg/m2", "units": "units", "mmol": "mmol", "e": "units", "u": "units"}


def _suggestion(context: Context, drug_ids: tuple[str, ...], dose: re.Match[str], text: str) -> str:
    name = context.tables.drug_name(drug_ids[0], context.language) if len(drug_ids) == 1 else "<generic name>"
    if dose.group("auc"):
        amount = f"AUC {dose.group('auc')}"
    else:
        written = dose.group("unit")
        unit = _UNIT_WORDS.get(written.lower(), written) if written != "g" else "g"
        amount = f"{dose.group('amount')} {unit}"
    parts = [f"drug {name} {amount}"]
    route = _ROUTE_WORDS.search(text)
    if route is not None:
        word = route.group(1)
        parts.append(_ROUTE_CODES.get(" ".join(word.lower().split()), word))
    else:
        parts.append("<route>")
    frequency = next((word for pattern, word in _FREQUENCY_WORDS if pattern.search(text)), None)
    parts.append(frequency or "<frequency>")
    return " ".join(parts)


@check("N030", "dose-in-prose", Severity.ERROR, "a dose of a known drug written outside a structured statement")
def dose_in_prose(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a line of free text — a sentence, a bullet, a heading, a note, a
    decision's question, table-like text — that names a known drug (generic name, alias,
    brand or abbreviation, in any case, tall-man or not, Dutch or English) together with
    a dose quantity (a number with a mass, volume or unit, mg/m², mg/kg, or AUC N). Rates
    such as `30 mL/min` are not doses. Queries (`query:`) are exempt: they already block
    approval.

    Why it matters: only structured `drug` statements are checked against the formulary;
    a dose written in prose is printed unchecked. `Letrozol 25 mg po dagelijks.` on a
    shipped sheet published a tenfold dose without any finding.

    Example: `Tamoxifen 200 mg per dag.` or `- letrozole 25 mg po daily`

    Use instead: `drug tamoxifen 20 mg po daily` (the suggested statement is in the hint);
    an open question about a dose belongs in a `query:`.

    Source: RULES.md N030; ISMP Guidelines for Standard Order Sets (2010): every dose in
    a structured, checkable form.
    """
    source = context.source
    # a line holding a dose quantity holds it in the joined lines too (a newline passes the unit's
    # look-ahead as the end of a line does): one search answers for most sheets, which have none
    joined = _free_texts_joined(context)
    if "AUC" not in joined and not _holds_dose_unit(joined, _free_unit_starts(context)):
        return
    for line, kind, raw in _free_texts(context):
        if "AUC" not in raw and not _holds_dose_unit(raw):
            continue  # no digit before a whole unit, no AUC: no dose quantity (most prose lines)
        doses = list(DOSE_IN_TEXT.finditer(raw))
        if not doses:
            continue
        names = drug_names_in(raw, context)
        if not names:
            continue
        start, end, ids = names[0]
        dose = doses[0]
        first, last = min(start, dose.start()), max(end, dose.end())
        span = Span(source.path, line, first + 1, line, last + 1)
        suggestion = _suggestion(context, ids, dose, raw)
        written = raw[first:last]
        yield dose_in_prose.at(span, f"dose in {kind} is not checked: `{written}`",
                               f"write it as a structured statement: `{suggestion}` (or ask in a `query:`)")


# ---------------------------------------------------------------- N005, N013, N014, N015 (free text and statements)


def _all_lines(context: Context) -> Iterator[tuple[int, str]]:
    """(line, text without comment) of every line holding free text or a statement (queries and metadata
    excluded); listed once per check run.
    """
    return iter(context.memo("notation.all_lines", lambda c: list(_find_all_lines(c))))


def _find_all_lines(context: Context) -> Iterator[tuple[int, str]]:
    text, starts = context.source.text, context.source.line_starts
    seen: set[int] = set()
    skipped = (m.Query, m.Allow, m.Bullet)
    for item in context.items:
        line = item.span.line
        if line in seen or isinstance(item, skipped):
            continue
        seen.add(line)
        yield line, _uncommented(_line_text(text, starts, line))
    for section in context.protocol.all_sections():
        line = section.span.line
        if line not in seen:
            seen.add(line)
            yield line, _uncommented(_line_text(text, starts, line))


def _joined_lines(context: Context) -> str:
    """Every line of `_all_lines`, joined by newlines (once per check run)."""
    return context.memo("notation.joined_lines", lambda c: "\n".join(text for _, text in _all_lines(c)))


def _folded_lines(context: Context) -> str | None:
    """`folded` of the joined lines (once per check run)."""
    return context.memo("notation.folded_lines", lambda c: folded(_joined_lines(c)))


def _findings(context: Context, pattern: re.Pattern[str] | LazyPattern, absent: Callable[[Context], bool] | None = None
              ) -> Iterator[tuple[Span, str]]:
    """Every match of a pattern in the lines; `absent` answers cheaply (and only truly) that no line can hold one.

    A match on one line is also a match in the joined text (a newline passes every boundary these
    patterns test), so a pattern absent from the joined text is absent from every line.
    """
    if absent is not None and absent(context):
        return
    if pattern.search(_joined_lines(context)) is None:
        return
    for line, text in _all_lines(context):
        for match in pattern.finditer(text):
            yield Span(context.source.path, line, match.start() + 1, line, match.end() + 1), match.group(0)


_MS = lazy(r"(?<![A-Za-z0-9-])(MSO4|MgSO4|MS)(?![A-Za-z0-9-])")


def _word_start(text: str, word: str) -> bool:
    """Whether `word` occurs in `text` where no ASCII letter, digit or hyphen precedes it.

    Asked of the whole source before the lines N005, N013 and N014 search are listed: each line
    is a start of a source line, so a match in a line is such an occurrence in the source (found
    by `str.find`, far cheaper than listing the lines, let alone folding their case).
    """
    start = text.find(word)
    while start >= 0:
        before = text[start - 1] if start else " "
        if not (before.isascii() and (before.isalnum() or before == "-")):
            return True
        start = text.find(word, start + 1)
    return False


@check("N005", "ms-mso4-mgso4", Severity.ERROR, "`MS`, `MSO4` or `MgSO4` written for a drug")
def ms_mso4_mgso4(context: Context) -> Iterator[Diagnostic]:
    """What it checks: `MS`, `MSO4` and `MgSO4` do not appear as words in the sheet
    (statements, prose, notes, headings).

    Why it matters: all three are read as morphine sulfate or magnesium sulfate — either
    for the other; both are high-alert drugs.

    Example: `MgSO4 2 g IV bij hypomagnesiëmie.`

    Use instead: `magnesiumsulfaat` / `magnesium sulfate`, `morfinesulfaat` / `morphine sulfate`.

    Source: The Joint Commission "Do Not Use" list.
    """
    # every match holds `MS` or `MgSO4` (the pattern is case-sensitive), not run into what precedes it
    source = context.source.text
    if not _word_start(source, "MS") and not _word_start(source, "MgSO4"):
        return  # nor does any line of the sheet (most sheets): the lines are not listed
    for span, text in _findings(context, _MS, lambda c: "MS" not in _joined_lines(c) and "MgSO4" not in _joined_lines(c)):
        yield ms_mso4_mgso4.at(span, f"`{text}` can mean morphine sulfate or magnesium sulfate",
                               "write `morphine sulfate` or `magnesium sulfate`")


_DC = lazy(r"(?<![A-Za-z0-9/])D/C(?![A-Za-z0-9/])", re.IGNORECASE)


# `D/C` in any case, led by its literal slash: searched by a scan for `/` (one pass over the source,
# where four substring tests made four)
_D_SLASH_C = re.compile(r"/(?<=[dD]/)[cC]")


def _no_d_c(context: Context) -> bool:
    lowered = _folded_lines(context)
    return lowered is not None and "d/c" not in lowered


@check("N013", "d-c", Severity.WARNING, "`D/C` written for discharge or discontinue")
def d_c(context: Context) -> Iterator[Diagnostic]:
    """What it checks: `D/C` does not appear in the sheet.

    Why it matters: `D/C` means both "discharge" and "discontinue"; drugs meant to be
    continued at discharge have been stopped.

    Example: `D/C letrozole bij progressie.`

    Use instead: `stop` / `discontinue` or `ontslag` / `discharge`, written out.

    Source: ISMP List of Error-Prone Abbreviations, Symbols, and Dose Designations (2021).
    """
    if _D_SLASH_C.search(context.source.text) is None:
        return  # `D/C` in any case (only d, D, c and C fold to these letters) is nowhere in the sheet
    for span, text in _findings(context, _DC, _no_d_c):
        yield d_c.at(span, f"`{text}` means discharge or discontinue", "write `discontinue` or `discharge`")


_TIMES_DAYS = lazy(r"(?<![A-Za-z0-9])[x×]\s?[0-9]+\s?d(?![A-Za-z0-9])|(?<![A-Za-z0-9])[0-9]+\s?[x×]\s?d(?![A-Za-z0-9])",
                   re.IGNORECASE)


# `_TIMES_DAYS` without its boundaries, for lower-case text: every match of it holds one of these
# (`[x×]\s?[0-9]+\s?d` or `[0-9]\s?[x×]\s?d`), written to start at the `x`: a pattern that starts with one
# character class is searched several times faster than two alternatives
_TIMES_DAYS_FOLDED = re.compile(r"[x×](?:\s?[0-9]+\s?d|(?<=[0-9][x×])\s?d|(?<=[0-9]\s[x×])\s?d)")


# `_TIMES_DAYS_FOLDED` for a text without `×` (most sheets): a pattern that starts with one literal is
# searched by a scan for that character, several times faster than a scan for a class of two
_TIMES_DAYS_X = re.compile(r"x(?:\s?[0-9]+\s?d|(?<=[0-9]x)\s?d|(?<=[0-9]\sx)\s?d)")


# `_TIMES_DAYS_X` for the text as written (x and d in either case, no `×`): one pattern led by each
# literal is searched in the whole source faster than its lines are listed and folded
_TIMES_DAYS_LOWER = re.compile(r"x(?:\s?[0-9]+\s?[dD]|(?<=[0-9]x)\s?[dD]|(?<=[0-9]\sx)\s?[dD])")
_TIMES_DAYS_UPPER = re.compile(r"X(?:\s?[0-9]+\s?[dD]|(?<=[0-9]X)\s?[dD]|(?<=[0-9]\sX)\s?[dD])")


def _no_times_days(context: Context) -> bool:
    lowered = _folded_lines(context)
    if lowered is None:
        return False
    pattern = _TIMES_DAYS_FOLDED if "×" in lowered else _TIMES_DAYS_X
    return pattern.search(lowered) is None


@check("N014", "times-days", Severity.WARNING, "`x3d` written for a number of days or doses")
def times_days(context: Context) -> Iterator[Diagnostic]:
    """What it checks: `x3d` (and `× 3 d`, `3xd`) does not appear in the sheet.

    Why it matters: `x3d` is read as "for three days" or as "three doses" (and `3xd` as
    three times a day).

    Example: `dexamethasone 8 mg x3d`

    Use instead: `for 3 days` / `gedurende 3 dagen`, or `3 doses`.

    Source: ISMP List of Error-Prone Abbreviations, Symbols, and Dose Designations (2021).
    """
    source = context.source.text
    if "×" not in source and _TIMES_DAYS_LOWER.search(source) is None and _TIMES_DAYS_UPPER.search(source) is None:
        return  # every match holds one of these (in the case it is written in): none in the sheet
    for span, text in _findings(context, _TIMES_DAYS, _no_times_days):
        yield times_days.at(span, f"`{text}`: days or doses?", "write `for 3 days` or `3 doses`")


_SLASH_OR_PLUS = lazy(
    r"(?<![A-Za-z0-9])[0-9]+(?:[.,][0-9]+)?\s*(?:mg|g|mcg|mL|units?)\s*[/+]\s*[0-9]+(?:[.,][0-9]+)?\s*(?:mg|g|mcg|mL|units?)"
    r"(?![A-Za-z0-9])")
# what every match of _SLASH_OR_PLUS holds, without its leading look-behind (which makes a search slow)
_SLASH_OR_PLUS_HINT = re.compile(r"[0-9]\s*(?:mg|g|mcg|mL|units?)\s*[/+]\s*[0-9]")
_SLASH_OR_PLUS_HINT_AT = _SLASH_OR_PLUS_HINT.match


@check("N015", "slash-or-plus-as-and", Severity.WARNING, "`/` or `+` used for \"and\" or \"per\" between doses")
def slash_or_plus_as_and(context: Context) -> Iterator[Diagnostic]:
    """What it checks: free text does not join two doses with `/` or `+` (`500 mg/400 units`,
    `2 mg + 4 mg`). A concentration in a structured `form` (`syrup (500 mg/5 mL)`) is not
    free text and is not reported.

    Why it matters: the slash is read as the digit 1 (`500 mg/400` → `500 mg 1400`) and
    as "per"; `+` hides which dose belongs to which drug.

    Example: `Calcium/vitamine D 500 mg/400 units per dag.`

    Use instead: `calcium 500 mg en vitamine D 400 units per dag`, or two drug statements.

    Source: ISMP List of Error-Prone Abbreviations, Symbols, and Dose Designations (2021)
    (slash mark; "and" written out).
    """
    texts = _free_texts(context)
    # every match holds the hint (its middle, without the slow leading look-behind): absent from the
    # joined lines, absent from each
    joined = _free_texts_joined(context)
    if ("/" not in joined and "+" not in joined) or not any(
            _SLASH_OR_PLUS_HINT_AT(joined, start) for start in _free_unit_starts(context)):
        return  # (the hint holds a `/` or `+`: a text without either has no match; it starts at a unit start)
    for line, kind, text in texts:
        for match in _SLASH_OR_PLUS.finditer(text):
            span = Span(context.source.path, line, match.start() + 1, line, match.end() + 1)
            yield slash_or_plus_as_and.at(span, f"`{match.group(0)}`: `/` or `+` between doses in {kind}",
                                          "write `and` (or `per`), or two statements")
