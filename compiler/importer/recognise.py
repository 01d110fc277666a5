"""Recognise the clinical content of a block: drug, regimen, RT, condition and decision lines.

Each recogniser reads one block's text and returns what the draft should hold instead of
(or beside) the prose: structured statements in protocolc's language, and review queries
for every reading that is a guess. Names are looked up in the formulary and the regimen
library (the same tables `check` uses); a brand becomes "generic (Brand)", while jargon
and abbreviations are kept as written so that `check` reports them (F003) for the
reviewer. Notation is normalised only where the meaning cannot change (`ml` → `mL`,
`1 co/d` → `daily, tablet`); anything else is written as the author wrote it, with a
query.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from compiler import conditions
from compiler.suggest import closest
from compiler.tables import Tables, normalise


@dataclass(frozen=True, slots=True)
class Out:
    """One line the draft writes for a block, `depth` levels below the block's own."""

    text: str
    depth: int
    kind: str  # drug | regimen | rt | condition | decision | prose | query


@dataclass
class Reading:
    """What a block became: its output lines; `kept_as_prose` when the author's line stays as text."""

    lines: list[Out] = field(default_factory=list)
    kept_as_prose: bool = False

    def add(self, text: str, depth: int, kind: str) -> None:
        """Append one output line."""
        self.lines.append(Out(text, depth, kind))


NUMBER = r"\d+(?:[.,]\d+)?"
_UNIT_WORDS = {"mg/m²": "mg/m²", "mg/m2": "mg/m²", "mg/kg": "mg/kg", "mcg/kg": "mcg/kg", "mg": "mg", "g": "g",
               "mcg": "mcg", "µg": "mcg", "μg": "mcg", "ml": "mL", "mL": "mL", "ie": "units", "e": "units",
               "units": "units", "unit": "units", "eenheden": "units", "mmol": "mmol"}
_DOSE = re.compile(rf"(?<![\w.,/])(?P<amount>{NUMBER}(?:\s*(?:-|–)\s*{NUMBER})?)\s*(?P<unit>mg/m²|mg/m2|mg/kg|mcg/kg|"
                   r"mg|mcg|µg|μg|g|ml|mL|IE|E|units?|eenheden|mmol)(?![\w²/])", re.IGNORECASE)
_AUC = re.compile(rf"\bAUC\s*(?P<amount>{NUMBER})", re.IGNORECASE)
_STRENGTH = re.compile(rf"\(\s*(?P<a>{NUMBER})\s*(?P<u1>mg|g|mcg)\s*/\s*(?P<b>{NUMBER})\s*(?P<u2>ml|mL)\s*\)", re.IGNORECASE)
_RT = re.compile(rf"(?<![\w.,])(?P<n>\d{{1,2}})\s*[x×]\s*(?P<d>{NUMBER})\s*Gy\b", re.IGNORECASE)
_TOLERANCE = re.compile(r"\btot\s+(?P<what>\w*toleran\w*)|\bup to\s+(?P<what2>\w*toleran\w*)", re.IGNORECASE)
_ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:po|p\.o\.|per os|oraal|orale?|oral)(?!\w)(?!\.\w)", re.IGNORECASE), "po"),
    (re.compile(r"\b(?:iv|i\.v\.|intraveneus|intravenous)(?!\w)(?!\.\w)", re.IGNORECASE), "IV"),
    (re.compile(r"\b(?:im|i\.m\.|intramusculair|intramuscular)(?!\w)(?!\.\w)", re.IGNORECASE), "IM"),
    (re.compile(r"\b(?:sc|s\.c\.|subcutaan|subcut|subcutaneous|sq)(?!\w)(?!\.\w)", re.IGNORECASE), "subcut"),
]
_FREQUENCIES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:1\s*(?:co|comp|tab|caps)?\s*/\s*d(?:ag)?|1\s*x\s*/\s*d(?:ag)?|1\s*x\s*per\s*dag|1\s*maal\s*per\s*dag|"
                r"1\s*keer\s*per\s*dag|dagelijks|daily|once\s+daily)\b", re.IGNORECASE), "daily"),
    (re.compile(r"\b(?:2\s*x\s*/\s*d(?:ag)?|2\s*x\s*per\s*dag|2\s*maal\s*per\s*dag|2\s*keer\s*per\s*dag|twice\s+daily|bid)\b",
                re.IGNORECASE), "twice daily"),
    (re.compile(r"\b(?:3\s*x\s*/\s*d(?:ag)?|3\s*x\s*per\s*dag|3\s*maal\s*per\s*dag|three\s+times\s+daily|tid)\b",
                re.IGNORECASE), "three times daily"),
    (re.compile(r"\b(?:wekelijks|weekly|1\s*x\s*/\s*week|q1w|elke\s+week|iedere\s+week)\b", re.IGNORECASE), "weekly"),
    (re.compile(r"\b(?:maandelijks|monthly|1\s*x\s*/\s*maand)\b", re.IGNORECASE), "monthly"),
]
_EVERY = re.compile(r"\b(?:q(?P<q>\d{1,2})(?P<qu>w|wk|d)|(?:elke|iedere|om de|every)\s+(?P<n>\d{1,2}|twee|drie|vier|zes)\s+"
                    r"(?P<u>weken|week|dagen|dag|weeks|days)|1\s*(?:keer|x|maal)\s*(?:per|/)\s*(?P<k>\d{1,2})\s*"
                    r"(?P<ku>weken|dagen|maanden|weeks|days|months))\b", re.IGNORECASE)
_WORD_NUMBERS = {"twee": 2, "drie": 3, "vier": 4, "zes": 6}
_FORMS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:co|comp|compr|tabl?|tablet(?:ten)?|tablets?)\b\.?", re.IGNORECASE), "tablet"),
    (re.compile(r"\b(?:caps|capsule|capsules|capsules?)\b", re.IGNORECASE), "capsule"),
    (re.compile(r"\b(?:siroop|syrup|stroop)\b", re.IGNORECASE), "syrup"),
]
_LOADING = re.compile(r"\b(?P<count>\d)\s*x\s*(?:oplaaddos\w*|loading\s*dos\w*)\s*(?:q(?P<q>\d)w|om de (?P<n>\d) weken|"
                      r"every (?P<e>\d) weeks)?", re.IGNORECASE)
_AFTERWARDS = re.compile(r"\b(?:nadien|daarna|vervolgens|then|thereafter)\b", re.IGNORECASE)
_INFUSION = re.compile(r"\b(?P<min>\d{1,3})\s*(?:min|minuten|minutes)\b|\b(?P<half>een half uur|half an hour)\b|"
                       r"\b(?P<hour>een uur|1 uur|an hour|one hour)\b", re.IGNORECASE)
_LINE_FROM = re.compile(r"\bvanaf\s+(?:de\s+)?(?P<n>\d)\s*(?:e|de|ste)\s+lijn\b|\bfrom\s+(?:the\s+)?(?P<m>\d)(?:st|nd|rd|th)\s+line\b",
                        re.IGNORECASE)
_LINE_IS = re.compile(r"^(?P<n>\d)\s*(?:e|de|ste)\s+lijns?\b", re.IGNORECASE)
_COMPARE = re.compile(r"^(?P<var>[A-Za-z][A-Za-z0-9\- ]{0,20}?)\s*(?P<op><=|>=|≤|≥|<|>|=)\s*(?P<value>\d+(?:[.,]\d+)?)\s*"
                      r"(?P<pct>%)?\s*$")
_CONDITION_WORDS = re.compile(r"^(?:indien|enkel bij|alleen bij|uitsluitend bij|only when|if)\s+(?P<rest>.+?)\.?$", re.IGNORECASE)
_WITH_WORDS = re.compile(r"^(?:(?P<pref>bij voorkeur met|preferably with)|(?P<only>enkel met|alleen met|only with))\s+"
                         r"(?P<rest>.+?)\.?$", re.IGNORECASE)
_NAME_SPLIT = re.compile(r"[\s+/,;:()\[\]]+")
_REMARK = re.compile(r"\s*\((?P<remark>[^()]*)\)\s*\.?$")
_KEYWORDS = re.compile(r"^(?:drug|regimen|rt|when|otherwise|decision|only\s+when|exclude\s+when|preferably\s+with|only\s+with|"
                       r"not\s+with|note:|nota:|query:|allow)\b", re.IGNORECASE)
_SCHEDULE_WORDS = {"mono", "q3w", "q2w", "q4w", "weekly", "wekelijks", "low", "dose", "lage", "dosis", "d1", "monotherapie"}


@dataclass(frozen=True, slots=True)
class Mention:
    """A drug name found in text: where, as written, what it resolves to, and how."""

    start: int
    end: int
    written: str
    drug_id: str | None
    how: str  # generic | alias | brand | abbreviation | unknown

    @property
    def known(self) -> bool:
        """A formulary name (a product-group name such as "denosumab" has no single drug id)."""
        return self.drug_id is not None or self.how in ("generic", "alias")


class Recogniser:
    """Reads block texts against one data set (formulary, regimen library, conditions)."""

    def __init__(self, tables: Tables, language: str) -> None:
        self.tables = tables
        self.language = language
        self._fuzzy_names = sorted({k for k in tables.names if len(k) >= 6 and " " not in k})
        self._condition_line = False

    # ---------------------------------------------------------------- names

    def mentions(self, text: str) -> list[Mention]:
        """Drug names in the text, longest match first, left to right."""
        words = [(m.start(), m.end()) for m in re.finditer(r"[^\s+/,;:()\[\]]+", text)]
        found: list[Mention] = []
        i = 0
        while i < len(words):
            hit = self._match_at(text, words, i)
            if hit is not None:
                mention, used = hit
                found.append(mention)
                i += used
                continue
            start, end = words[i]
            found.extend(self._hyphenated(text, start, end))
            i += 1
        return found

    def _match_at(self, text: str, words: list[tuple[int, int]], i: int) -> tuple[Mention, int] | None:
        for n in range(min(5, len(words) - i), 0, -1):
            start, end = words[i][0], words[i + n - 1][1]
            written = text[start:end].rstrip(".")
            hit = self.tables.names.get(normalise(written))
            if hit is not None and len(hit.drug_ids) == 1 and hit.drug_ids[0] in self.tables.drugs:
                return Mention(start, start + len(written), written, hit.drug_ids[0], hit.how), n
            if hit is not None and n == 1 and hit.how == "abbreviation":
                return Mention(start, start + len(written), written, None, "abbreviation"), 1
            if n == 1 and normalise(written) in self.tables.product_groups:
                return Mention(start, start + len(written), written, None, "generic"), 1
        return None

    def _hyphenated(self, text: str, start: int, end: int) -> list[Mention]:
        """Names inside a hyphenated word ("Tucatinib-Xeloda-Herceptine", "Endoxan-MTX")."""
        word = text[start:end]
        if "-" not in word:
            return []
        out: list[Mention] = []
        offset = start
        for part in word.split("-"):
            hit = self.tables.names.get(normalise(part.rstrip(".")))
            if part and hit is not None:
                drug = hit.drug_ids[0] if len(hit.drug_ids) == 1 and hit.drug_ids[0] in self.tables.drugs else None
                out.append(Mention(offset, offset + len(part), part, drug, hit.how))
            offset += len(part) + 1
        return out

    def fuzzy(self, word: str) -> str | None:
        """The formulary name a misspelt single word is closest to (for "Zolendronaat")."""
        key = normalise(word)
        if len(key) < 6 or key in self.tables.names:
            return None
        return closest(key, self._fuzzy_names, max_ratio=0.2)

    def display_name(self, mention: Mention) -> str:
        """How the draft names a drug: brands as "generic (Brand)", anything else as written."""
        if mention.how == "brand" and mention.drug_id is not None:
            return f"{self.tables.drug_name(mention.drug_id, self.language)} ({mention.written})"
        return mention.written

    # ---------------------------------------------------------------- the block

    def read(self, text: str, under_label: bool, condition_line: bool = False) -> Reading:
        """What the draft writes for one block's text.

        `under_label` says the block belongs to a label line ("Aromataseremmers:"), where
        "Bij voorkeur met …" is a constraint; `condition_line` that it is a marker-less line
        right under the label, where "Indien …" is a condition on what the label covers.
        """
        self._condition_line = condition_line
        for reader in (self._read_rt, self._read_condition, self._read_decision, self._read_regimen_name,
                       self._read_ambiguous_regimen, self._read_label, self._read_drug_led, self._read_combination):
            reading = reader(text, under_label)
            if reading is not None:
                return reading
        return self._read_prose(text)

    def line_condition(self, text: str) -> str | None:
        """`only when line = 1` for what a line such as "1ste lijns gemetastaseerd:" introduces."""
        match = _LINE_IS.match(text)
        return f"only when line = {match.group('n')}" if match else None

    # ---------------------------------------------------------------- radiotherapy

    def _read_rt(self, text: str, under_label: bool) -> Reading | None:
        schemes = list(_RT.finditer(text))
        tolerance = _TOLERANCE.search(text)
        if not schemes and not tolerance:
            return None
        reading = Reading()
        single = len(schemes) == 1
        site = self._rt_site(text) if single else None
        technique = self._rt_technique(text) if single else None
        rest = _RT.sub("", text)
        used = {"of", "or", "en", "and", "gy", "x", "op", "site", "als", "indien", (site or "").lower(),
                (technique or "").lower()}
        rest_words = [w for w in re.findall(r"[A-Za-zÀ-ÿ’'0-9-]+", rest) if w.lower() not in used]
        only_schemes = not tolerance and not rest_words
        reading.kept_as_prose = not only_schemes
        depth = 0
        for scheme in schemes:
            words = f"rt {scheme.group('n')} x {scheme.group('d')} Gy"
            if site:
                words += f" site {site}"
            if technique:
                words += f" technique {technique}"
            reading.add(words, depth, "rt")
        if tolerance:
            what = tolerance.group("what") or tolerance.group("what2")
            reading.add(f"rt up to {what}", depth, "rt")
        return reading

    @staticmethod
    def _rt_site(text: str) -> str | None:
        match = re.search(r"\b(?:op|op de|ter hoogte van|site)\s+(?P<site>[a-zà-ÿ]+)", text, re.IGNORECASE)
        if match:
            return match.group("site")
        match = re.search(r"\b(?:als|indien)\s+(?P<site>spinaal|spinal)\b|\b(?P<site2>pancranieel|pancraniëel|whole brain)\b", text,
                          re.IGNORECASE)
        if match:
            return match.group("site") or match.group("site2")
        return None

    @staticmethod
    def _rt_technique(text: str) -> str | None:
        match = re.search(r"\b(SBRT|SRT|SRS|IMRT|VMAT|3D-CRT)\b", text)
        return match.group(1) if match else None

    # ---------------------------------------------------------------- conditions

    def _read_condition(self, text: str, under_label: bool) -> Reading | None:
        with_words = _WITH_WORDS.match(text)
        if with_words:
            keyword = "preferably with" if with_words.group("pref") else "only with"
            targets = with_words.group("rest").strip()
            if not under_label:
                return None
            reading = Reading()
            reading.add(f"{keyword} {targets}", 0, "condition")
            return reading
        condition = _CONDITION_WORDS.match(text)
        if not condition or not under_label or not self._condition_line:
            return None
        parts = [p.strip() for p in re.split(r"\s+(?:of|or)\s+", condition.group("rest")) if p.strip()]
        flags = [self._flag(part) for part in parts]
        reading = Reading()
        if all(flags):
            reading.add("only when " + " or ".join(f for f in flags if f), 0, "condition")
        else:
            reading.kept_as_prose = True
            reading.add(f"query: \"{text}\" lijkt een voorwaarde maar is niet herkend; schrijf `only when …` met "
                        "bekende termen", 0, "query")
        return reading

    def _flag(self, words: str) -> str | None:
        """A known condition flag for words such as "premenopauzaal", "postmenopauzale status", "na castratie"."""
        candidates = [words, re.sub(r"\b(?:status|na|de|het)\b", "", words, flags=re.IGNORECASE)]
        for candidate in candidates:
            candidate = " ".join(candidate.split())
            for form in (candidate, re.sub(r"e$", "", candidate), re.sub(r"ie$", "", candidate) + "eerd"):
                if form and conditions.find_flag(form, self.tables) is not None:
                    return form
        return None

    def _read_decision(self, text: str, under_label: bool) -> Reading | None:
        head, sep, rest = text.partition(":")
        if not sep or not rest.strip():
            return None
        compare = self._comparison(head.strip())
        if compare is None:
            return None
        _, written = compare
        reading = Reading()
        reading.add(f"decision: {head.strip()}", 0, "decision")
        reading.add(f"when {written}:", 1, "decision")
        inner = self.read(rest.strip(), under_label=False)
        if inner.kept_as_prose or not inner.lines:
            reading.add(rest.strip(), 2, "prose")
        for line in inner.lines:
            reading.add(line.text, line.depth + 2, line.kind)
        return reading

    def _comparison(self, text: str) -> tuple[str, str] | None:
        match = _COMPARE.match(text)
        if not match:
            return None
        written = match.group("var").strip()
        variable = conditions.find_variable(written, self.tables)
        if variable is None:
            key = re.sub(r"[^A-Za-z0-9]", "", written).upper()
            variable = next((v for v in conditions.variables(self.tables)
                             if re.sub(r"[^A-Za-z0-9]", "", v).upper() == key), None)
        if variable is None:
            return None
        value = match.group("value") + (match.group("pct") or "")
        return variable, f"{variable} {match.group('op')} {value}"

    # ---------------------------------------------------------------- regimens

    def _read_regimen_name(self, text: str, under_label: bool) -> Reading | None:
        core, remark = _split_remark(text)
        regimen_id = self.tables.regimen_names.get(normalise(core))
        if regimen_id is None:
            line = _LINE_FROM.search(core)
            if line:
                stripped = core[:line.start()].strip()
                regimen_id = self.tables.regimen_names.get(normalise(stripped))
                if regimen_id is not None:
                    reading = Reading()
                    reading.add(f"regimen {_quoted(stripped)}", 0, "regimen")
                    reading.add(f"only when line >= {line.group('n') or line.group('m')}", 1, "condition")
                    return reading
            return None
        reading = Reading()
        if remark and self.tables.regimen_names.get(normalise(remark)) == regimen_id:
            core, remark = remark, ""
        reading.add(f"regimen {_quoted(core)}", 0, "regimen")
        if remark:
            reading.add(remark, 1, "prose")
        return reading

    def _read_ambiguous_regimen(self, text: str, under_label: bool) -> Reading | None:
        """A regimen abbreviation with more than one meaning ("TC weekly")."""
        core, _ = _split_remark(text)
        words = core.split()
        if not words or len(words) > 4:
            return None
        hit = self.tables.names.get(normalise(words[0]))
        if hit is None or not any(d.startswith("regimen:") for d in hit.drug_ids):
            return None
        reading = Reading()
        reading.add(f"regimen {_quoted(core)}", 0, "regimen")
        meanings = ", ".join(d.removeprefix("regimen:").replace("_", " ") for d in hit.drug_ids)
        reading.add(f"query: \"{core}\": {words[0]} heeft meer dan één betekenis ({meanings}); welke geneesmiddelen en "
                    "welk schema?", 1, "query")
        return reading

    def _read_combination(self, text: str, under_label: bool) -> Reading | None:
        core, remark = _split_remark(text)
        mentions = self.mentions(core)
        drugs = [m for m in mentions if m.known or m.how in ("brand", "abbreviation")]
        if len(drugs) < 2 or not self._only_names(core, mentions):
            return None
        if "/" in core:
            reading = Reading(kept_as_prose=True)
            reading.add(f"query: \"{text}\": welke geneesmiddelen samen en welke als alternatief (/)? Schrijf elk regime "
                        "als `regimen` of `drug`", 0, "query")
            return reading
        ids = frozenset(m.drug_id for m in drugs if m.drug_id)
        library = self._library_by_drugs(ids) if len(ids) == len(drugs) else None
        reading = Reading()
        if library is not None:
            name = self._regimen_display(library)
            reading.add(f"regimen {_quoted(name)}", 0, "regimen")
            reading.add(f"query: \"{core}\" gelezen als regime {name} uit de bibliotheek ({self._regimen_title(library)}); "
                        "bevestigen", 1, "query")
            for mention in drugs:
                dose = self._dose_after(core, mention)
                if dose:
                    reading.add(f"- drug {self.display_name(mention)} {dose}", 1, "drug")
        else:
            reading.add(f"regimen {_quoted(core)}", 0, "regimen")
            for mention in drugs:
                dose = self._dose_after(core, mention)
                reading.add(f"- drug {self.display_name(mention)}{' ' + dose if dose else ''}", 1, "drug")
        if remark:
            reading.add(remark, 1, "prose")
        return reading

    def _only_names(self, core: str, mentions: Sequence[Mention]) -> bool:
        rest = core
        for mention in sorted(mentions, key=lambda m: -m.start):
            rest = rest[:mention.start] + " " + rest[mention.end:]
        rest = _DOSE.sub(" ", rest)
        words = [w for w in re.split(r"[\s+\-/,]+", rest.lower()) if w]
        return all(w in _SCHEDULE_WORDS or re.fullmatch(r"\d+x", w) for w in words)

    def _library_by_drugs(self, ids: frozenset[str]) -> str | None:
        matches = [rid for rid, entry in self.tables.regimens.items()
                   if frozenset(str(d.get("drug")) for d in entry.get("drugs") or []) == ids]
        return matches[0] if len(matches) == 1 else None

    def _regimen_display(self, regimen_id: str) -> str:
        names = [str(n) for n in self.tables.regimens[regimen_id].get("names") or []]
        for name in names:
            words = [w for w in _NAME_SPLIT.split(name) if w]
            hits = [self.tables.names.get(normalise(w)) for w in words]
            if all(h is None or h.how in ("generic", "alias") for h in hits):
                return name
        return names[0] if names else regimen_id

    def _regimen_title(self, regimen_id: str) -> str:
        title = self.tables.regimens[regimen_id].get("title") or {}
        return str(title.get(self.language) or title.get("en") or regimen_id) if isinstance(title, dict) else str(title)

    def _dose_after(self, text: str, mention: Mention) -> str:
        following = text[mention.end:]
        next_break = re.search(r"[+/]", following)
        segment = following[:next_break.start()] if next_break else following
        dose = _DOSE.search(segment)
        return _dose_text(dose) if dose else ""

    # ---------------------------------------------------------------- drug lines

    def _read_label(self, text: str, under_label: bool) -> Reading | None:
        """A line led by a drug name and a colon ("Zolendronaat: creatinine volgen …")."""
        head, sep, rest = text.partition(":")
        if not sep or len(head.split()) > 4:
            return None
        head_mentions = self.mentions(head)
        routes = self._routes(head)
        name_part = head
        for pattern, _ in _ROUTES:
            name_part = pattern.sub("", name_part)
        name_part = name_part.strip()
        mention: Mention | None = None
        if head_mentions and head_mentions[0].start == 0 and head_mentions[0].known:
            mention = head_mentions[0]
        elif name_part and len(name_part.split()) == 1 and self.fuzzy(name_part) is not None:
            mention = Mention(0, len(name_part), name_part, None, "unknown")
        if mention is None:
            return None
        rest = rest.strip()
        rest_drug = self._read_drug_led(rest, under_label) if rest else None
        if rest_drug is not None and any(line.kind == "drug" for line in rest_drug.lines):
            return rest_drug
        reading = Reading()
        rest_routes = self._routes(rest) if not _DOSE.search(rest) else []
        if not routes and rest_routes and len(re.findall(r"[A-Za-zÀ-ÿ]+", rest)) <= len(rest_routes) * 2 + 1:
            for route in rest_routes:
                reading.add(f"drug {self.display_name(mention)} {route}", 0, "drug")
            reading.add(f"query: \"{text}\": dosis en schema ontbreken in de bron; aanvullen", 1, "query")
            return reading
        reading.add(" ".join(["drug", self.display_name(mention), *routes]), 0, "drug")
        if rest:
            reading.add(rest, 1, "prose")
        return reading

    def _read_drug_led(self, text: str, under_label: bool) -> Reading | None:
        mentions = self.mentions(text)
        if not mentions or mentions[0].start != 0 or mentions[0].drug_id is None:
            return None
        first = mentions[0]
        others = {m.drug_id for m in mentions[1:] if m.drug_id and m.drug_id != first.drug_id}
        if others:
            return None
        clause = text[first.end:]
        brand = ""
        bracket = re.match(r"\s*\((?P<brand>[^()]+)\)", clause)
        if bracket and self.tables.names.get(normalise(bracket.group("brand"))) is not None:
            brand = f" ({bracket.group('brand').strip()})"
            clause = clause[bracket.end():]
        else:
            later = next((m for m in mentions[1:] if m.drug_id == first.drug_id and m.how == "brand"), None)
            if later is not None and first.how != "brand":
                brand = f" ({later.written})"
                clause = clause.replace(later.written, " ", 1)
        if len(self._loose_words(clause).split()) > 2:
            return None  # a sentence about the drug, not a drug line: it stays prose
        name = (self.display_name(first) if first.how == "brand" else first.written) + brand
        return self._drug_statements(name, clause, text)

    def _drug_statements(self, name: str, clause: str, text: str) -> Reading | None:
        line_from = _LINE_FROM.search(clause)
        if line_from:
            clause = clause[:line_from.start()] + clause[line_from.end():]
        strength = _STRENGTH.search(clause)
        strength_text = ""
        if strength:
            strength_text = (f" ({strength.group('a')} {strength.group('u1')}/{strength.group('b')} "
                             f"{_unit(strength.group('u2'))})")
            clause = clause[:strength.start()] + " " + clause[strength.end():]
        alternatives = [a for a in re.split(r"\s+(?:of|or)\s+", clause) if a.strip()]
        if len(alternatives) < 2 or sum(1 for a in alternatives if _DOSE.search(a)) < 2:
            alternatives = [clause]
        shared_tail = self._shared_schedule(alternatives)
        reading = Reading()
        loose = self._loose_words(clause)
        for alternative in alternatives:
            statement, queries = self._one_drug(name, alternative, shared_tail, strength_text)
            reading.add(statement, 0, "drug")
            for query in queries:
                reading.add(f"query: {query}", 1, "query")
        if len(alternatives) > 1:
            reading.add(f"query: \"{text}\" noemt {len(alternatives)} alternatieven; elk staat hierboven als eigen regel "
                        "met het gedeelde schema: bevestigen", 1, "query")
        if loose:
            reading.add(f"query: \"{text}\": niet als structuur gelezen: {loose}; bevestigen", 1, "query")
        if line_from:
            reading.add(f"only when line >= {line_from.group('n') or line_from.group('m')}", 1, "condition")
        return reading

    def _shared_schedule(self, alternatives: Sequence[str]) -> str:
        last = alternatives[-1]
        parts = [word for pattern, word in _FREQUENCIES if pattern.search(last)]
        parts += self._routes(last)
        return " ".join(parts)

    def _one_drug(self, name: str, clause: str, shared_tail: str, strength: str) -> tuple[str, list[str]]:
        queries: list[str] = []
        dose_match = _DOSE.search(clause) or None
        auc = _AUC.search(clause)
        words = ["drug", name]
        loading = _LOADING.search(clause)
        dose = _dose_text(dose_match) if dose_match else (f"AUC {auc.group('amount')}" if auc else "")
        if dose:
            words.append(dose)
        routes = self._routes(clause) or (shared_tail.split()[-1:] if shared_tail and self._routes(shared_tail) else [])
        frequency = self._frequency(clause) or self._frequency(shared_tail)
        if loading:
            days = self._loading_days(loading)
            maintenance = self._frequency(clause[loading.end():]) or ""
            words += [*routes, "days " + ", ".join(str(d) for d in days)]
            if _AFTERWARDS.search(clause) and maintenance:
                words += ["then", dose, *routes, maintenance] if dose else ["then", *routes, maintenance]
            queries.append(f"\"{clause.strip()}\" gelezen als {len(days)} oplaaddosissen op dag "
                           f"{', '.join(str(d) for d in days)}" + (f", daarna {maintenance}" if maintenance else "")
                           + ": bevestigen")
        else:
            words += routes
            if frequency:
                words.append(frequency)
        if frequency == "monthly" or "monthly" in words:
            queries.append("\"maandelijks\": een kalendermaand of elke 28 dagen? Schrijf \"every 28 days\" of "
                           "\"every month (calendar)\"")
        form = self._form(clause)
        if form:
            words[-1] += ","
            words.append(form + (strength if form == "syrup" else ""))
        elif strength:
            words[-1] += ","
            words.append("syrup" + strength)
        if dose_match and _unit(dose_match.group("unit")) == "mL" and strength:
            volume = _decimal(dose_match.group("amount"))
            amount = _strength_per_ml(strength)
            if volume is not None and amount is not None:
                total = volume * amount
                queries.append(f"{dose} van{strength} is {_plain(total)} mg per toediening; is {dose} de dosis of de "
                               "flesinhoud? Welke dosis in mg is bedoeld?")
        return " ".join(w for w in words if w), queries

    @staticmethod
    def _loading_days(loading: re.Match[str]) -> list[int]:
        count = min(int(loading.group("count")), 6)
        weeks = int(loading.group("q") or loading.group("n") or loading.group("e") or 2)
        return [1 + i * 7 * weeks for i in range(count)]

    @staticmethod
    def _routes(text: str) -> list[str]:
        found: list[tuple[int, str]] = []
        for pattern, route in _ROUTES:
            for match in pattern.finditer(text):
                found.append((match.start(), route))
        seen: list[str] = []
        for _, route in sorted(found):
            if route not in seen:
                seen.append(route)
        return seen

    @staticmethod
    def _frequency(text: str) -> str:
        every = _EVERY.search(text)
        if every:
            if every.group("q"):
                count, unit = int(every.group("q")), {"w": "weeks", "wk": "weeks", "d": "days"}[every.group("qu").lower()]
            elif every.group("n"):
                raw = every.group("n").lower()
                count = _WORD_NUMBERS.get(raw) or int(raw)
                unit = "weeks" if every.group("u").lower().startswith("we") else "days"
            else:
                count = int(every.group("k"))
                unit = {"weken": "weeks", "weeks": "weeks", "dagen": "days", "days": "days"}.get(every.group("ku").lower(),
                                                                                                  "months")
            return "weekly" if (count, unit) == (1, "weeks") else f"every {count} {unit}"
        for pattern, word in _FREQUENCIES:
            if pattern.search(text):
                return word
        return ""

    @staticmethod
    def _form(text: str) -> str:
        for pattern, form in _FORMS:
            if pattern.search(text):
                return form
        return ""

    def _loose_words(self, clause: str) -> str:
        """Words of a drug clause that no recogniser used (shown to the reviewer, never dropped)."""
        rest = clause
        for pattern in [_DOSE, _AUC, _STRENGTH, _LOADING, _AFTERWARDS, _EVERY, _LINE_FROM,
                        *(p for p, _ in _ROUTES), *(p for p, _ in _FREQUENCIES), *(p for p, _ in _FORMS)]:
            rest = pattern.sub(" ", rest)
        words = [w for w in re.findall(r"[A-Za-zÀ-ÿ0-9%]+", rest) if w.lower() not in ("of", "or", "en", "and", "x", "d")]
        return " ".join(words)

    # ---------------------------------------------------------------- prose

    def _read_prose(self, text: str) -> Reading:
        reading = Reading(kept_as_prose=True)
        mentions = [m for m in self.mentions(text) if m.drug_id is not None]
        if not mentions:
            return reading
        schedules = self._schedules_in_prose(text)
        if schedules and not _DOSE.search(text):
            names = ", ".join(dict.fromkeys(self.tables.drug_name(m.drug_id or "", "en") for m in mentions))
            reading.add(f"query: schema in lopende tekst ({names}: {schedules}); schrijf het als `drug`-regel met de dosis",
                        0, "query")
        return reading

    def _schedules_in_prose(self, text: str) -> str:
        found: list[str] = []
        for match in _EVERY.finditer(text):
            frequency = self._frequency(match.group())
            if frequency and frequency not in found:
                found.append(frequency)
        for match in _INFUSION.finditer(text):
            minutes = match.group("min") or ("30" if match.group("half") else "60")
            entry = f"infusion {minutes} min"
            if entry not in found:
                found.append(entry)
        return ", ".join(found)


def keyword_led(text: str) -> bool:
    """Whether prose text would be read as a statement keyword by the parser."""
    return bool(_KEYWORDS.match(text))


def _split_remark(text: str) -> tuple[str, str]:
    text = text.strip().rstrip(".").strip()
    remark = _REMARK.search(text)
    if remark and remark.start() > 0:
        return text[:remark.start()].strip(), remark.group("remark").strip()
    return text, ""


def _quoted(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ0-9]*(?:-[A-Za-zÀ-ÖØ-öø-ÿ0-9]+)*", name) else f'"{name}"'


def _unit(written: str) -> str:
    return _UNIT_WORDS.get(written, _UNIT_WORDS.get(written.lower(), written))


def _dose_text(match: re.Match[str]) -> str:
    amount = re.sub(r"\s*(?:-|–)\s*", "-", match.group("amount"))
    return f"{amount} {_unit(match.group('unit'))}"


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        return None


def _strength_per_ml(strength: str) -> Decimal | None:
    match = re.search(rf"(?P<a>{NUMBER})\s*mg/(?P<b>{NUMBER})\s*mL", strength)
    if not match:
        return None
    a, b = _decimal(match.group("a")), _decimal(match.group("b"))
    return a / b if a is not None and b else None


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text
