"""Radiobiology: exact fractionation arithmetic, BED and EQD2 under the linear-quadratic model.

    BED  = n·d·(1 + d/(α/β))
    EQD2 = n·d·(d + α/β)/(2 + α/β)  = BED/(1 + 2/(α/β))

n fractions of d Gy. All arithmetic is exact (`fractions.Fraction` built from the
Decimals the protocol was written with); rounding happens only when a value is shown.

α/β comes from compiler/data/rt_schemes.yaml (`alpha_beta`, each value sourced): the
entry marked `use_for: default` (tumour, 10 Gy) unless the fractionation's site maps to
an indication listed in another entry's `use_for` (breast → 3.5 Gy, START trials). The
spinal cord value (2 Gy, HyTEC convention) is used where the site is the cord itself
(`site myelum`: the line states a cord dose) and for the cord EQD2 of R005. The LQ model is
unreliable at stereotactic doses per fraction; `fractionation_values` says so per scheme.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from compiler import model as m
from compiler.records import IdentityMemo, frozen
from compiler.tables import Tables, TablesMemo

# The memos below are pure, and the same few values recur on every sheet. They are kept by the
# numerators and denominators: hashing a Fraction is Python code (a modular inverse each time),
# hashing whole numbers is not, and a Fraction is its numerator over its denominator.


def bed(fractions: Fraction, dose_per_fraction: Fraction, alpha_beta: Fraction) -> Fraction:
    """Biologically effective dose, Gy: n·d·(1 + d/(α/β))."""
    return _bed(fractions.numerator, fractions.denominator, dose_per_fraction.numerator,
                dose_per_fraction.denominator, alpha_beta.numerator, alpha_beta.denominator)


@functools.lru_cache(maxsize=4096)
def _bed(n: int, n_over: int, d: int, d_over: int, ab: int, ab_over: int) -> Fraction:
    fractions, dose_per_fraction, alpha_beta = Fraction(n, n_over), Fraction(d, d_over), Fraction(ab, ab_over)
    return fractions * dose_per_fraction * (1 + dose_per_fraction / alpha_beta)


def eqd2(fractions: Fraction, dose_per_fraction: Fraction, alpha_beta: Fraction) -> Fraction:
    """Equivalent dose in 2 Gy fractions, Gy: n·d·(d + α/β)/(2 + α/β)."""
    return _eqd2(fractions.numerator, fractions.denominator, dose_per_fraction.numerator,
                 dose_per_fraction.denominator, alpha_beta.numerator, alpha_beta.denominator)


@functools.lru_cache(maxsize=4096)
def _eqd2(n: int, n_over: int, d: int, d_over: int, ab: int, ab_over: int) -> Fraction:
    fractions, dose_per_fraction, alpha_beta = Fraction(n, n_over), Fraction(d, d_over), Fraction(ab, ab_over)
    return fractions * dose_per_fraction * (dose_per_fraction + alpha_beta) / (2 + alpha_beta)


@functools.lru_cache(maxsize=4096)
def exact(value: Decimal | int | str) -> Fraction:
    """An exact Fraction from a Decimal as written."""
    if isinstance(value, (Decimal, int)):
        return Fraction(value)  # exact already: no round trip through text
    return Fraction(Decimal(str(value)))


def shown(value: Fraction, places: int = 1) -> str:
    """A value rounded half-up for display (`23.3`), without trailing `.0`."""
    return _shown(value.numerator, value.denominator, places)


@functools.lru_cache(maxsize=4096)
def _shown(numerator: int, denominator: int, places: int) -> str:
    quantum = Decimal(1).scaleb(-places)
    text = str((Decimal(numerator) / Decimal(denominator)).quantize(quantum, rounding=ROUND_HALF_UP))
    return text.rstrip("0").rstrip(".") if "." in text else text


def total_consistent(fractions: Decimal, dose_per_fraction: Decimal, total: Decimal) -> bool:
    """Whether `n × d = total` holds, allowing for d rounded to the decimals it is written with.

    A dose per fraction written with k ≥ 1 decimals stands for any value within ±½·10⁻ᵏ Gy
    (2.67 for 40/15 = 2.666…); the stated total must lie in n times that interval:
    15 × 2.67 = 40 holds (39.975–40.125), 5 × 4.1 = 20 does not. A whole number of Gy is
    taken as exact (5 × 4 = 21 does not hold). The decimals are those written (`2,50`: 2).
    """
    exponent = dose_per_fraction.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if fractions.is_finite() and dose_per_fraction.is_finite() and total.is_finite():
        # the same comparison in whole numbers (n = a/b, d = c/e, t = g/h, half = 1/(2s)): Fraction
        # arithmetic made a Python object per step, and every `rt` line of a sheet asks this
        a, b = fractions.as_integer_ratio()
        c, e = dose_per_fraction.as_integer_ratio()
        g, h = total.as_integer_ratio()
        if not places:  # n·d = t
            return a * c * h == g * b * e
        twice: int = 2 * 10**places  # n·(d ∓ half) = a·(twice·c ∓ e) / (b·e·twice); b, e, h are positive
        return a * (twice * c - e) * h <= g * b * e * twice <= a * (twice * c + e) * h
    half = Fraction(1, 2 * 10**places) if places else Fraction(0)
    n, d, t = exact(fractions), exact(dose_per_fraction), exact(total)
    return n * (d - half) <= t <= n * (d + half)


# ---------------------------------------------------------------- data look-ups


@functools.lru_cache(maxsize=4096)
def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


@frozen
class SiteInfo:
    """What a written `site` means: its indications (R004) and the organ its dose describes (R005)."""

    indications: tuple[str, ...]
    organs: tuple[str, ...]


class _Sites:
    """The site table of one tables object with its words normalised, and the sites already read."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.entries = [(entry, [_plain(str(w)) for w in entry.get("words") or []])
                        for entry in tables.rt_schemes.get("sites") or []]
        self.known: dict[str, SiteInfo] = {}


_SITES: list[_Sites] = []


def site_info(site: str | None, tables: Tables) -> SiteInfo:
    """Indications and organ for a site text (`wervelkolom (spinaal)`), from rt_schemes.yaml `sites`."""
    if not site:
        return SiteInfo((), ())
    # Several rules ask for the sites of every `rt` line: each site is read once per tables object.
    if not _SITES or _SITES[0].tables is not tables:
        _SITES[:] = [_Sites(tables)]
    sites = _SITES[0]
    if len(site) > 200:
        return _site_info(site, sites.entries)  # only short texts are remembered: memory stays bounded over a book
    found = sites.known.get(site)
    if found is None:
        if len(sites.known) >= 4096:
            sites.known.clear()
        found = sites.known[site] = _site_info(site, sites.entries)
    return found


def _site_info(site: str, entries: list[tuple[Mapping[str, Any], list[str]]]) -> SiteInfo:
    text = f" {_plain(site)} "
    indications: list[str] = []
    organs: list[str] = []
    for entry, words in entries:
        if any(f" {w} " in text for w in words if w):
            indications.extend(str(i) for i in entry.get("indications") or [] if str(i) not in indications)
            organ = entry.get("organ")
            if organ and str(organ) not in organs:
                organs.append(str(organ))
    return SiteInfo(tuple(indications), tuple(organs))


def limits(tables: Tables) -> Mapping[str, Any]:
    """The `limits` block of rt_schemes.yaml."""
    found: Mapping[str, Any] = tables.rt_schemes.get("limits") or {}
    return found


def is_stereotactic(item: m.Fractionation, tables: Tables) -> bool:
    """Whether the technique is stereotactic (SRS, SRT, SBRT, SABR…)."""
    if item.technique is None:
        return False
    return item.technique.value.lower() in _stereotactic_names(tables)


_STEREOTACTIC: list[tuple[Tables, frozenset[str]]] = []


def _stereotactic_names(tables: Tables) -> frozenset[str]:
    """The stereotactic technique names in lower case (read once per tables object: every rt rule asks)."""
    if not _STEREOTACTIC or _STEREOTACTIC[0][0] is not tables:
        _STEREOTACTIC[:] = [(tables, frozenset(str(t).lower() for t in limits(tables).get("stereotactic_techniques")
                                               or []))]
    return _STEREOTACTIC[0][1]


@frozen
class AlphaBeta:
    """An α/β value with the tissue it belongs to and its source."""

    value: Fraction
    tissue: str
    source: str


def alpha_beta(tables: Tables, indications: tuple[str, ...] = (), organ: str | None = None) -> AlphaBeta:
    """α/β for a fractionation: by organ (spinal cord), else by indication (breast), else the default."""
    # Asked for every fractionation by several rules, with a few distinct questions: answered once each.
    return _ALPHA_BETA.answer(tables, (indications, organ), _alpha_beta, tables, indications, organ)


_ALPHA_BETA: TablesMemo[tuple[tuple[str, ...], str | None], AlphaBeta] = TablesMemo(4096)


def _alpha_beta(tables: Tables, indications: tuple[str, ...], organ: str | None) -> AlphaBeta:
    entries = tables.rt_schemes.get("alpha_beta") or []
    wanted = [organ] if organ else list(indications)
    for entry in entries:
        use_for = entry.get("use_for")
        if isinstance(use_for, list) and any(w in [str(u) for u in use_for] for w in wanted):
            return AlphaBeta(exact(str(entry["value_gy"])), str(entry["tissue"]), str(entry.get("source") or ""))
    for entry in entries:
        if entry.get("use_for") == "default":
            return AlphaBeta(exact(str(entry["value_gy"])), str(entry["tissue"]), str(entry.get("source") or ""))
    raise LookupError("rt_schemes.yaml has no default alpha/beta")


# ---------------------------------------------------------------- the report


@frozen
class FractionationValues:
    """The computed values of one fractionation, for R003 and the validation report."""

    item: m.Fractionation
    fractions: Fraction
    dose_per_fraction: Fraction
    total: Fraction
    alpha_beta: AlphaBeta
    bed: Fraction
    eqd2: Fraction
    lq_unreliable: bool

    def summary(self) -> str:
        """`5 × 4 Gy = 20 Gy: BED 28 Gy, EQD2 23.3 Gy (α/β 10 Gy, tumour)`."""
        ab = shown(self.alpha_beta.value)
        return (f"{shown(self.fractions)} × {shown(self.dose_per_fraction, 2)} Gy = {shown(self.total, 2)} Gy: "
                f"BED {shown(self.bed)} Gy, EQD2 {shown(self.eqd2)} Gy (α/β {ab} Gy, {self.alpha_beta.tissue})")


def computable(item: m.Fractionation) -> bool:
    """A single scheme with positive whole fractions and a positive dose per fraction."""
    n, d = item.fractions, item.dose_per_fraction
    return (n is not None and d is not None and item.fractions_max is None and item.dose_per_fraction_max is None
            and n.value > 0 and d.value > 0 and n.value == n.value.to_integral_value())


def values_of(item: m.Fractionation, tables: Tables) -> FractionationValues | None:
    """BED and EQD2 of one fractionation (None when it has no single n × d)."""
    # R003, the course and SIB values and the report ask for the same lines (and, through
    # `course_parts`/`sib_views`, the same views): computed once per line and tables object.
    return _VALUES.answer((item, tables), lambda: _values_of(item, tables))


_VALUES: IdentityMemo[FractionationValues | None] = IdentityMemo(256)


def _values_of(item: m.Fractionation, tables: Tables) -> FractionationValues | None:
    if not computable(item):
        return None
    assert item.fractions is not None and item.dose_per_fraction is not None
    n, d = exact(item.fractions.value), exact(item.dose_per_fraction.value)
    info = site_info(item.site.value if item.site else None, tables)
    cord_itself = "spinal cord" in info.organs and "spine" not in info.organs  # `site myelum`: a cord dose
    ab = alpha_beta(tables, info.indications, "spinal cord" if cord_itself else None)
    threshold = limits(tables).get("lq_note_above_dose_per_fraction_gy")
    unreliable = is_stereotactic(item, tables) or (threshold is not None and d > exact(str(threshold)))
    return FractionationValues(item, n, d, n * d, ab, bed(n, d, ab.value), eqd2(n, d, ab.value), unreliable)


def course_parts(item: m.Fractionation) -> list[m.Fractionation]:
    """lang-b: the parts of a course as single fractionations (site, technique of the course)."""
    return list(_views(item, _PARTS, _course_parts))


def _views(item: m.Fractionation, memo: IdentityMemo[tuple[m.Fractionation, ...]],
           make: Callable[[m.Fractionation], list[m.Fractionation]]) -> tuple[m.Fractionation, ...]:
    """`make(item)`, once per line: the rules, the report and the sheet each ask for the views of a line,
    and each view is a `dataclasses.replace` of it. The same views also find their values in `values_of`'s memo.
    """
    if not item.parts and not item.sib:
        return ()  # most lines: no parts, no SIB (and no view made)
    return memo.answer((item,), lambda: tuple(make(item)))


_PARTS: IdentityMemo[tuple[m.Fractionation, ...]] = IdentityMemo(128)  # a course's parts, per line
_SIBS: IdentityMemo[tuple[m.Fractionation, ...]] = IdentityMemo(128)  # its SIB views, per line


def _course_parts(item: m.Fractionation) -> list[m.Fractionation]:
    out = []
    for index, part in enumerate(item.parts, start=1):
        out.append(dataclasses.replace(item, span=part.span, fractions=part.fractions, fractions_max=None,
                                       dose_per_fraction=part.dose_per_fraction, dose_per_fraction_max=None,
                                       total=None, parts=(), course_part=index))
    return out


@frozen
class CourseValues:
    """lang-b: per-part and cumulative BED/EQD2 of a course in parts (one α/β: the site's)."""

    item: m.Fractionation
    parts: tuple[FractionationValues, ...]
    total: Fraction
    bed: Fraction
    eqd2: Fraction

    def summary(self) -> str:
        """`course 83 Gy: BED …, EQD2 … (α/β …)`."""
        ab = self.parts[0].alpha_beta
        return (f"course {shown(self.total, 2)} Gy: BED {shown(self.bed)} Gy, EQD2 {shown(self.eqd2)} Gy "
                f"(α/β {shown(ab.value)} Gy, {ab.tissue})")


def course_values(item: m.Fractionation, tables: Tables) -> CourseValues | None:
    """BED and EQD2 per part and summed (BED and EQD2 add up at one α/β)."""
    if len(item.parts) < 2:
        return None
    values = [values_of(part, tables) for part in course_parts(item)]
    if any(v is None for v in values):
        return None
    parts = tuple(v for v in values if v is not None)
    return CourseValues(item, parts, sum((v.total for v in parts), Fraction(0)),
                        sum((v.bed for v in parts), Fraction(0)), sum((v.eqd2 for v in parts), Fraction(0)))


def fractionation_values(protocol: m.Protocol, tables: Tables) -> Iterator[FractionationValues]:
    """Computed values for every fractionation of a protocol, in document order (validation report)."""
    for item in protocol.all_items():
        if isinstance(item, m.Fractionation):
            for single in (course_parts(item) if len(item.parts) > 1 else [item]) + sib_views(item):
                values = values_of(single, tables)
                if values is not None:
                    yield values


# ---------------------------------------------------------------- rt14: SIB and organ-at-risk constraints


def sib_views(item: m.Fractionation) -> list[m.Fractionation]:
    """rt14: each simultaneous integrated boost of a line as a single fractionation (site of the line)."""
    return list(_views(item, _SIBS, _sib_views))


def _sib_views(item: m.Fractionation) -> list[m.Fractionation]:
    return [dataclasses.replace(item, span=sib.span, fractions=sib.fractions, fractions_max=None,
                                dose_per_fraction=sib.dose_per_fraction, dose_per_fraction_max=None,
                                total=sib.total, up_to=False, tolerance=None, parts=(), sib=(), course_part=None,
                                sib_part=index)
            for index, sib in enumerate(item.sib, start=1)]


def base_scheme(item: m.Fractionation) -> tuple[m.Number, m.Number] | None:
    """rt14: the base volume's fractions and dose per fraction a SIB is given with (a course: its first part)."""
    if len(item.parts) > 1:
        return item.parts[0].fractions, item.parts[0].dose_per_fraction
    if item.fractions is not None and item.dose_per_fraction is not None and item.fractions_max is None \
            and item.dose_per_fraction_max is None:
        return item.fractions, item.dose_per_fraction
    return None


def sib_values(item: m.Fractionation, tables: Tables) -> list[tuple[m.RtSib, FractionationValues]]:
    """rt14: BED and EQD2 of every SIB volume at the line's site α/β."""
    if not item.sib:
        return []
    out = []
    for sib, view in zip(item.sib, sib_views(item), strict=True):
        values = values_of(view, tables)
        if values is not None:
            out.append((sib, values))
    return out


def oar_organ(text: str, tables: Tables) -> str | None:
    """rt14: the organ key of a constraint's organ words (`long` → lung), from oar_limits.yaml."""
    # R008, R009 and R012 ask for every constraint: each organ text is read once per tables object
    known = _ORGANS.answers(tables)
    if len(text) > 200:
        return _oar_organ(text, tables)  # only short texts are remembered: memory stays bounded over a book
    if text not in known:
        known[text] = _oar_organ(text, tables)
    return known[text]


_ORGANS: TablesMemo[str, str | None] = TablesMemo(4096)


def _oar_organ(text: str, tables: Tables) -> str | None:
    plain = f" {_plain(text)} "
    for entry in (tables.oar_limits.get("constraints") or {}).get("organs") or []:
        if any(f" {_plain(str(w))} " in plain for w in entry.get("words") or [] if _plain(str(w))):
            return str(entry["organ"])
    return None


def course_doses(item: m.Fractionation) -> list[tuple[Fraction, Fraction]]:
    """rt14: (fractions, dose per fraction) of every part and SIB of a line (empty when any is a range)."""
    schemes: list[tuple[Fraction, Fraction]] = []
    for single in (course_parts(item) if len(item.parts) > 1 else [item]) + sib_views(item):
        if not computable(single):
            return []
        assert single.fractions is not None and single.dose_per_fraction is not None
        schemes.append((exact(single.fractions.value), exact(single.dose_per_fraction.value)))
    return schemes
