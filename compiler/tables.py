"""The packaged clinical data tables (YAML), loaded safely and indexed once.

Every clinical number lives in `compiler/data/*.yaml` with a `source` and a
`last_verified` date; code here only loads and indexes them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import Any, Generic, TypeVar

from compiler.records import frozen

DATA_DIR = Path(__file__).resolve().parent / "data"
DATA_FILES = ("formulary.yaml", "regimens.yaml", "abbreviations.yaml", "tallman.yaml", "conditions.yaml",
              "text_rules.yaml", "rt_schemes.yaml", "oar_limits.yaml",
              "schedules.yaml", "combinations.yaml", "labs.yaml", "administration.yaml")


class DataError(Exception):
    """A packaged data file is missing or malformed (an internal error: exit 2)."""


def normalise(name: str) -> str:
    """Matching key for names: lower case, no accents, no ®, hyphens/underscores as spaces."""
    text = unicodedata.normalize("NFKD", name.replace("®", "").replace("™", ""))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"[-_‐–]", " ", text)
    return " ".join(text.split())


@frozen(slots=True)
class NameHit:
    """What a written drug name resolves to, and how."""

    drug_ids: tuple[str, ...]
    how: str  # generic | alias | brand | abbreviation
    severity: str | None = None
    note: str | None = None


@frozen
class Tables:
    """All data tables, with look-up indexes."""

    drugs: dict[str, dict[str, Any]]
    classes: dict[str, dict[str, Any]]
    regimens: dict[str, dict[str, Any]]
    abbreviations: list[dict[str, Any]]
    tallman: list[dict[str, Any]]
    conditions: dict[str, Any]
    text_rules: dict[str, Any]
    product_groups: dict[str, Any] = field(default_factory=dict)
    names: dict[str, NameHit] = field(repr=False, default_factory=dict)
    class_names: dict[str, str] = field(repr=False, default_factory=dict)
    regimen_names: dict[str, str] = field(repr=False, default_factory=dict)
    fingerprint: str = ""
    _drug_classes: dict[str, frozenset[str]] = field(repr=False, default_factory=dict, compare=False)
    schedules: dict[str, Any] = field(default_factory=dict)
    combinations: dict[str, Any] = field(default_factory=dict)
    rt_schemes: dict[str, Any] = field(default_factory=dict)
    oar_limits: dict[str, Any] = field(default_factory=dict)
    labs: dict[str, Any] = field(default_factory=dict)
    administration: dict[str, Any] = field(default_factory=dict)  # lang-b: dilution ranges (D025/D026)

    def drug_name(self, drug_id: str, language: str = "en") -> str:
        """Display name of a drug in a language."""
        entry = self.drugs.get(drug_id, {})
        names = entry.get("names") or {}
        return str(names.get(language) or names.get("en") or drug_id.replace("_", " "))

    def class_ancestors(self, class_id: str) -> list[str]:
        """A class and its parents."""
        out: list[str] = []
        while class_id and class_id not in out:
            out.append(class_id)
            class_id = str((self.classes.get(class_id) or {}).get("parent") or "")
        return out

    def drug_classes(self, drug_id: str) -> set[str]:
        """All classes of a drug, parents included (a fresh set: callers may change it)."""
        known = self._drug_classes.get(drug_id)
        if known is None:
            found: set[str] = set()
            for class_id in self.drugs.get(drug_id, {}).get("classes") or []:
                found.update(self.class_ancestors(str(class_id)))
            known = self._drug_classes[drug_id] = frozenset(found)
        return set(known)


def _load(name: str) -> Any:
    import yaml  # only on a cache miss: a normal run reads the JSON copy of the tables

    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: same safety, 10x faster
    path = DATA_DIR / name
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=loader)
    except FileNotFoundError:
        return None
    except yaml.YAMLError as error:
        raise DataError(f"data file {name} is not valid YAML: {error}") from error


def _index_names(drugs: dict[str, dict[str, Any]], abbreviations: list[dict[str, Any]]) -> dict[str, NameHit]:
    index: dict[str, NameHit] = {}

    def add(name: str, hit: NameHit) -> None:
        key = normalise(name)
        if not key:
            return
        previous = index.get(key)
        order = ["generic", "alias", "brand", "abbreviation"]
        if previous is None or order.index(hit.how) < order.index(previous.how):
            index[key] = hit
        elif previous.how == hit.how and previous.drug_ids != hit.drug_ids:
            index[key] = NameHit(tuple(sorted(set(previous.drug_ids) | set(hit.drug_ids))), hit.how)

    for drug_id, entry in drugs.items():
        add(drug_id, NameHit((drug_id,), "generic"))
        for name in (entry.get("names") or {}).values():
            add(str(name), NameHit((drug_id,), "generic"))
        for alias in entry.get("aliases") or []:
            add(str(alias), NameHit((drug_id,), "alias"))
        for brand in entry.get("brands") or []:
            add(str(brand), NameHit((drug_id,), "brand"))
        for abbreviation in entry.get("abbreviations") or []:
            add(str(abbreviation), NameHit((drug_id,), "abbreviation", "warning"))
    for entry in abbreviations:
        means = tuple(str(x) for x in entry.get("means") or [])
        drug_means = tuple(x for x in means if x in drugs)
        hit = NameHit(drug_means or means, "abbreviation", str(entry.get("severity") or "warning"),
                      entry.get("note"))
        key = normalise(str(entry.get("text", "")))
        if key:
            index[key] = hit  # the abbreviation list is authoritative for jargon
    return index


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "protocolc"


def _plain(data: Any) -> Any:
    """The YAML data as JSON gives it back (dates as ISO text), so a run reads the same values cached or not."""
    return json.loads(json.dumps(data, default=str))


def _indexed(raw: dict[str, Any]) -> dict[str, Any]:
    """The look-up indexes of the tables, as plain data (see `_from_cache`)."""
    formulary = raw.get("formulary.yaml") or {}
    drugs = formulary.get("drugs") or {}
    classes = formulary.get("classes") or {}
    regimens = (raw.get("regimens.yaml") or {}).get("regimens") or {}
    abbreviations = (raw.get("abbreviations.yaml") or {}).get("abbreviations") or []
    if not isinstance(drugs, dict) or not isinstance(regimens, dict):
        raise DataError("formulary.yaml `drugs` and regimens.yaml `regimens` must be mappings")
    class_names: dict[str, str] = {}
    for class_id, entry in classes.items():
        class_names[normalise(class_id)] = class_id
        for name in list((entry.get("names") or {}).values()) + list(entry.get("aliases") or []):
            class_names[normalise(str(name))] = class_id
    regimen_names: dict[str, str] = {}
    for regimen_id, entry in regimens.items():
        regimen_names[normalise(regimen_id)] = regimen_id
        for name in entry.get("names") or []:
            regimen_names[normalise(str(name))] = regimen_id
    names = [[key, list(hit.drug_ids), hit.how, hit.severity, hit.note]
             for key, hit in _index_names(drugs, abbreviations).items()]
    return {"names": names, "class_names": class_names, "regimen_names": regimen_names}


def _cached_tables(fingerprint: str, refresh: bool = False) -> dict[str, Any]:
    """The parsed YAML files and their indexes, from a JSON cache when possible.

    Parsing the YAML and normalising every name cost more than checking a protocol; the
    JSON copy (plain data only: read with `json`, never unpickled) makes a cold `protocolc
    check` fast. Its name covers the data files and this module's code (which builds the
    indexes). The cache is only an accelerator: any problem reading or writing it falls
    back to the YAML files.
    """
    digest = hashlib.sha256(fingerprint.encode())
    digest.update(Path(__file__).read_bytes())
    digest.update(unicodedata.unidata_version.encode())
    cache = _cache_dir() / f"tables-{digest.hexdigest()[:24]}.json"
    try:
        if refresh:
            raise OSError("refresh")
        with cache.open(encoding="utf-8") as handle:
            data = json.load(handle)
        if (isinstance(data, dict) and isinstance(data.get("raw"), dict) and set(data["raw"]) == set(DATA_FILES)
                and isinstance(data.get("index"), dict)):
            return data
    except (OSError, ValueError):
        pass
    raw = _plain({name: _load(name) for name in DATA_FILES})
    data = {"raw": raw, "index": _indexed(raw)}
    try:
        from compiler.fsutil import write_atomic

        write_atomic(cache, json.dumps(data, ensure_ascii=False).encode("utf-8"), private=True)
    except OSError:
        pass
    return data


@functools.lru_cache(maxsize=1)
def load() -> Tables:
    """Load and index all packaged tables (once per process)."""
    digest = hashlib.sha256()
    for name in DATA_FILES:
        path = DATA_DIR / name
        digest.update(name.encode())
        if path.exists():
            digest.update(path.read_bytes())
    fingerprint = digest.hexdigest()[:16]
    data = _cached_tables(fingerprint)
    try:
        return _tables(data["raw"], data["index"], fingerprint)
    except (TypeError, ValueError, KeyError, AttributeError):  # a damaged cache entry: build it again from the YAML
        data = _cached_tables(fingerprint, refresh=True)
        return _tables(data["raw"], data["index"], fingerprint)


def _tables(raw: dict[str, Any], index: dict[str, Any], fingerprint: str) -> Tables:
    formulary = raw.get("formulary.yaml") or {}
    regimens = (raw.get("regimens.yaml") or {}).get("regimens") or {}
    abbreviations = (raw.get("abbreviations.yaml") or {}).get("abbreviations") or []
    tallman = (raw.get("tallman.yaml") or {}).get("names") or []
    conditions = raw.get("conditions.yaml") or {}
    text_rules = raw.get("text_rules.yaml") or {}
    drugs = formulary.get("drugs") or {}
    classes = formulary.get("classes") or {}
    if not isinstance(drugs, dict) or not isinstance(regimens, dict):
        raise DataError("formulary.yaml `drugs` and regimens.yaml `regimens` must be mappings")
    names = {str(key): NameHit(tuple(str(i) for i in ids), str(how), severity, note)
             for key, ids, how, severity, note in index["names"]}
    return Tables(drugs, classes, regimens, abbreviations, tallman, conditions, text_rules,
                  formulary.get("product_groups") or {}, names, dict(index["class_names"]),
                  dict(index["regimen_names"]), fingerprint, rt_schemes=raw.get("rt_schemes.yaml") or {},
                  oar_limits=raw.get("oar_limits.yaml") or {}, schedules=raw.get("schedules.yaml") or {},
                  combinations=raw.get("combinations.yaml") or {}, labs=raw.get("labs.yaml") or {},
                  administration=raw.get("administration.yaml") or {})


Key = TypeVar("Key")
Answer = TypeVar("Answer")


class TablesMemo(Generic[Key, Answer]):
    """Answers worked out from one tables object, kept while that object is the one asked about.

    The rules ask the same questions of the data for every line of every sheet; the answers hold
    as long as the tables do. Another tables object (other overrides, a test's tables) starts
    afresh, and at most `limit` answers are kept: a full memo is emptied before it takes more, so
    memory stays bounded over a book of any size.
    """

    __slots__ = ("_known", "_limit", "_tables")

    def __init__(self, limit: int = 4096) -> None:
        self._tables: object = None
        self._known: dict[Key, Answer] = {}
        self._limit = limit

    def answers(self, tables: object) -> dict[Key, Answer]:
        """The answers kept for `tables` (the caller adds to it)."""
        if self._tables is not tables:
            self._tables = tables
            self._known = {}
        elif len(self._known) >= self._limit:
            self._known.clear()
        return self._known

    def answer(self, tables: object, key: Key, compute: Callable[..., Answer], *args: Any) -> Answer:
        """The answer kept for `key`, else `compute(*args)`, kept (None is an answer too)."""
        known = self.answers(tables)
        found = known.get(key, _UNKNOWN)
        if found is _UNKNOWN:
            found = known[key] = compute(*args)
        return found  # type: ignore[no-any-return]


_UNKNOWN: Any = object()
