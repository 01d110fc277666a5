"""The book configuration file: `book.yaml` at the book root (optional).

    hospital: AZ Voorbeeld
    base_url: https://procedures.az-voorbeeld.be/
    locale: nl
    validity_notice:
      nl: "Is dit een geprinte versie? Dan is die enkel geldig als ze overeenstemt met de elektronische versie op het procedureboek"
      en: "Printed copy? It is valid only if it matches the electronic version in the procedure book"
    data_review_years: 2            # dose rows older than this are flagged by `protocolc data audit`
    formulary_overrides: []         # the hospital's own dose rows (compiler/overrides.py), each with a reason

Every field has a default that makes the shipped book build without the file. Unknown
keys and wrong types are reported; the file is read with `yaml.safe_load` and may be
at most 64 kB.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import field
from pathlib import Path
from typing import Any

from compiler.overrides import FormularyOverride, OverrideError, parse_overrides, placed
from compiler.records import frozen
from compiler.tables import load

CONFIG_NAME = "book.yaml"
MAX_CONFIG_BYTES = 64_000
DEFAULT_NOTICES = {
    "nl": "Is dit een geprinte versie? Dan is die enkel geldig als ze overeenstemt met de elektronische versie op "
          "het procedureboek",
    "en": "Printed copy? It is valid only if it matches the electronic version in the procedure book",
}


DEFAULT_BASE_URL = "https://procedureboek.invalid/"


class ConfigError(Exception):
    """The book configuration cannot be used (reported, exit 2)."""


@frozen
class BookConfig:
    """Settings of one procedure book."""

    hospital: str = "Procedureboek"
    base_url: str = DEFAULT_BASE_URL
    locale: str = "nl"
    validity_notice: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_NOTICES))
    path: str | None = None
    data_review_years: float = 2.0
    formulary_overrides: tuple[FormularyOverride, ...] = ()

    def fingerprint(self) -> str:
        """A hash of the settings (part of every render cache key)."""
        data: dict[str, Any] = {"hospital": self.hospital, "base_url": self.base_url, "locale": self.locale,
                                "validity_notice": self.validity_notice}
        if self.formulary_overrides or self.data_review_years != 2.0:
            data["data"] = [self.data_review_years, [o.to_json() for o in self.formulary_overrides]]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    @property
    def base_url_set(self) -> bool:
        """Whether the book says where it is published (else QR codes point nowhere)."""
        return self.base_url != DEFAULT_BASE_URL

    def protocol_url(self, protocol_id: str, version: str) -> str:
        """The published page of one version of a protocol (what its QR code opens)."""
        base = self.base_url if self.base_url.endswith("/") else self.base_url + "/"
        return f"{base}protocols/{protocol_id}.html?version={version}"


KNOWN: dict[str, type | tuple[type, ...]] = {"hospital": str, "base_url": str, "locale": str, "validity_notice": dict,
                                             "data_review_years": (int, float), "formulary_overrides": list}


def book_root(paths: list[Path]) -> Path:
    """The folder a book's configuration is looked up in: the first folder given."""
    for path in paths:
        if path.is_dir():
            return path
    return paths[0].parent if paths else Path(".")


def load_config(root: Path) -> BookConfig:
    """Read `book.yaml` from the book root, or the defaults when there is none."""
    from compiler.fsutil import describe, read_limited

    path = root / CONFIG_NAME
    if not path.exists() and not path.is_symlink():
        return BookConfig()
    import yaml  # only when there is a book.yaml: `check` imports this module on every run

    try:
        raw = read_limited(path, MAX_CONFIG_BYTES)
    except OSError as error:  # a folder, FIFO or device, too large, or unreadable
        raise ConfigError(f"{path}: cannot read: {describe(error)}") from error
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if data is None:
        return BookConfig(path=str(path))
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    values: dict[str, Any] = {}
    for key, value in data.items():
        expected = KNOWN.get(str(key))
        if expected is None:
            raise ConfigError(f"{path}: unknown setting `{key}` (known: {', '.join(KNOWN)})")
        if not isinstance(value, expected) or isinstance(value, bool):
            kind = "number" if isinstance(expected, tuple) else expected.__name__
            raise ConfigError(f"{path}: `{key}` must be a {kind}")
        values[str(key)] = value
    if values.get("locale", "nl") not in ("nl", "en"):
        raise ConfigError(f"{path}: locale must be nl or en")
    notices = dict(DEFAULT_NOTICES)
    for language, text in (values.pop("validity_notice", None) or {}).items():
        if language not in ("nl", "en") or not isinstance(text, str):
            raise ConfigError(f"{path}: validity_notice takes nl/en texts")
        notices[language] = text
    if "base_url" in values and not str(values["base_url"]).startswith(("https://", "http://")):
        raise ConfigError(f"{path}: base_url must start with https:// or http://")
    if "data_review_years" in values:
        values["data_review_years"] = float(values["data_review_years"])
        if not 0 < values["data_review_years"] <= 10:
            raise ConfigError(f"{path}: data_review_years must be between 0 and 10")
    try:
        values["formulary_overrides"] = placed(load(), parse_overrides(values.get("formulary_overrides")))
    except OverrideError as error:
        raise ConfigError(f"{path}: {error}") from error
    return BookConfig(**values, validity_notice=notices, path=str(path))
