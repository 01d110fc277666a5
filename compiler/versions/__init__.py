"""Document control: the release register, the archive, the clinical diff, the version
policy and the verification of printed copies.

- `register`: RELEASES.jsonl (an append-only hash chain) and `.archive/<id>/<version>.*`
- `diff`: the semantic diff of two resolved models, each change classed clinical or editorial
- `policy` (here): which version raise a change needs (clinical → major, editorial → minor)
- `verify`: what a PDF or a printed identity is (current, superseded, draft, altered, unknown)
- `report`: the diff as terminal text, JSON and a printable HTML report
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from compiler.records import frozen
from compiler.versions.root import parse_version

if TYPE_CHECKING:  # the model and the diff are imported where used: `check` imports `root` only
    from compiler import model as m
    from compiler.versions.diff import Change


@frozen
class Verdict:
    """The version policy applied to a version raise and the changes it carries."""

    ok: bool
    code: str | None
    severity: str  # error, info, ok
    message: str
    required: str  # major, minor, none

    def as_json(self) -> dict[str, object]:
        """The JSON shape."""
        return {"ok": self.ok, "code": self.code, "severity": self.severity, "message": self.message,
                "required": self.required}


def policy(old_version: str, new_version: str, changes: Sequence[Change]) -> Verdict:
    """Clinical change → major raise; editorial change → minor raise (a major one is allowed, with an info)."""
    from compiler.versions.diff import is_clinical

    old = parse_version(old_version)
    new = parse_version(new_version)
    clinical = is_clinical(changes)
    required = "major" if clinical else ("minor" if changes else "none")
    if old is None or new is None:
        return Verdict(False, "V005", "error", f"version {new_version} cannot be compared with {old_version}", required)
    if new <= old:
        return Verdict(False, "V005", "error", f"version {new_version} is not above {old_version}",
                       required)
    if clinical and new[0] == old[0]:
        return Verdict(False, "V006", "error",
                       f"clinical change with a minor raise {old_version} → {new_version}: a clinical change needs "
                       f"a major version ({old[0] + 1}.0)", required)
    if changes and not clinical and new[0] > old[0]:
        return Verdict(True, "V006", "info",
                       f"editorial changes only, yet a major raise {old_version} → {new_version}: "
                       f"{old[0]}.{old[1] + 1} would do", required)
    kind = "clinical" if clinical else ("editorial" if changes else "no")
    return Verdict(True, None, "ok", f"{old_version} → {new_version} fits the {kind} change", required)


@functools.lru_cache(maxsize=64)
def _model(label: str, raw: bytes) -> m.Protocol | None:
    from compiler.build import build
    from compiler.parse import parse
    from compiler.resolve import resolve
    from compiler.source import decode
    from compiler.tables import load

    source, _ = decode(label, raw)
    if source is None:
        return None
    parsed = parse(source)
    if parsed.tree is None:
        return None
    protocol, _ = build(source, parsed.tree)
    return resolve(protocol, load())


def model_of(label: str, raw: bytes) -> m.Protocol | None:
    """The resolved model of protocol bytes (no checks run), or None when they do not build; cached."""
    return _model(label, raw)
