"""Is this copy valid? The answer for a PDF (its embedded identity and its own bytes) or
for an identity read off paper (id, version, optionally the source hash).

Answers, with the exit codes of `protocolc verify`:

| answer      | exit | meaning |
|-------------|------|---------|
| current     | 0    | the released version in force, unaltered |
| superseded  | 3    | a released version, replaced by a later one (the diff summary says what changed) |
| draft       | 4    | never released: a draft, review copy, or a version number the register does not hold |
| altered     | 5    | claims a released version but its source hash or its PDF bytes match no release |
| unknown     | 6    | no protocolc identity (not a PDF, no metadata) or an id the register does not know |

A PDF's bytes are checked against the register only: the hash of the controlled PDF
recorded at release (`pdf_sha256` of the record, in the hash chain). Files next to the
PDF — an archived PDF, a `manifest.json` — are never trusted for this: whoever can put a
forged PDF there can put its hash beside it. (The archived PDF is itself checked against
the record, V009, and a manifest's copy of the register head is compared with the
register, so a register that lost its last records is noticed.) When no PDF of that
version is on record, only the identity can be checked, and the answer says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.versions.register import RELEASED, SUPERSEDED, Register, archived_source

MAX_MANIFEST_BYTES = 50_000_000
EXIT_CODES = {"current": 0, "superseded": 3, "draft": 4, "altered": 5, "unknown": 6}
DRAFT_STATUSES = ("draft", "review")


@dataclass(frozen=True)
class Identity:
    """What a copy says it is."""

    id: str
    version: str
    status: str = ""
    sha256: str = ""
    conflict: str = ""


@dataclass
class Answer:
    """The verdict on a copy."""

    kind: str
    message: str
    identity: Identity | None = None
    current_version: str | None = None
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The exit code of `protocolc verify` for this answer."""
        return EXIT_CODES[self.kind]

    def as_json(self) -> dict[str, Any]:
        """`verify --format json`."""
        return {"answer": self.kind, "message": self.message, "exit_code": self.exit_code,
                "identity": vars(self.identity) if self.identity else None, "current_version": self.current_version,
                "changes": self.changes, "notes": self.notes}


class NotVerifiable(Exception):
    """The file cannot be read as a PDF with a protocolc identity (answer: unknown)."""


def pdf_identity(data: bytes) -> Identity:
    """The identity embedded in a PDF by `compiler.render.pdf` (custom entries, else keywords/subject)."""
    import io

    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError as error:  # pragma: no cover - pypdf is a runtime dependency
        raise NotVerifiable("pypdf is not installed") from error
    if not data.startswith(b"%PDF-"):
        raise NotVerifiable("not a PDF file")
    try:
        metadata = PdfReader(io.BytesIO(data)).metadata
        values = {str(k): str(v) for k, v in (metadata or {}).items()}
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as error:
        raise NotVerifiable(f"unreadable PDF ({type(error).__name__})") from error
    keys = ("id", "version", "status", "sha256")
    found: list[dict[str, str]] = []
    custom = {key: values.get(f"/protocolc{key.capitalize()}", "") for key in keys}
    if custom["id"]:
        found.append(custom)
    for text in (values.get("/Keywords", ""), values.get("/Subject", "")):
        if text.startswith("protocolc:"):
            pairs = dict(p.partition("=")[::2] for p in text[len("protocolc:"):].split(";"))
            found.append({k: pairs.get(k, "") for k in keys})
    if not found or not found[0]["id"] or not found[0]["version"]:
        raise NotVerifiable("the PDF carries no protocolc identity")
    first = found[0]
    conflict = next((f"its metadata disagree on `{k}` ({first[k]} / {other[k]})" for other in found[1:]
                     for k in keys if other[k] != first[k]), "")
    return Identity(first["id"], first["version"], first["status"], first["sha256"], conflict)


def known_pdf_hashes(register: Register, identity: Identity) -> set[str]:
    """Hashes of the genuine PDFs of one version: those recorded in the register, nothing else."""
    return {r.pdf_sha256 for r in register.records
            if r.id == identity.id and r.version == identity.version and r.pdf_sha256}


def manifest_head_problem(register: Register, manifest: Path) -> str | None:
    """A built book's manifest remembers the register head it was built from; the register
    must still hold that record (else records were removed or edited since).
    """
    from compiler.fsutil import read_limited

    try:
        data = json.loads(read_limited(manifest, MAX_MANIFEST_BYTES))
    except (OSError, ValueError):
        return None
    head = data.get("register") if isinstance(data, dict) else None
    if not isinstance(head, dict) or not isinstance(head.get("seq"), int) or not isinstance(head.get("sha256"), str):
        return None
    seq, digest = head["seq"], head["sha256"]
    if seq < 1:
        return None
    if seq > len(register.records):
        return (f"{manifest} was built from a register of {seq} record(s); the register now holds "
                f"{len(register.records)}: records were removed")
    if register.records[seq - 1].digest() != digest:
        return f"record {seq} differs from the one {manifest} was built from (edited or replaced)"
    return None


def verify(register: Register, identity: Identity, pdf_sha256: str | None = None) -> Answer:
    """Answer for one identity (and the PDF's own hash when a file is verified)."""
    if identity.conflict:
        return Answer("altered", f"{identity.id} {identity.version}: the PDF was edited: {identity.conflict}", identity)
    records = register.of(identity.id)
    claimed_draft = identity.status in DRAFT_STATUSES
    if not records:
        if claimed_draft:
            return Answer("draft", f"{identity.id} {identity.version} is a {identity.status}: never released",
                          identity)
        return Answer("unknown", f"the release register does not know `{identity.id}`", identity)
    release = register.release(identity.id, identity.version)
    current = register.current(identity.id)
    current_version = current.version if current else None
    if release is None:
        return Answer("draft", f"{identity.id} {identity.version} was never released"
                      + (f" (current version: {current_version})" if current_version else ""), identity,
                      current_version)
    if identity.sha256 and not release.sha256.startswith(identity.sha256.lower()):
        if claimed_draft:
            return Answer("draft", f"a {identity.status} copy of {identity.id} {identity.version}, not the released "
                          "text", identity, current_version)
        return Answer("altered", f"{identity.id} {identity.version}: the content hash {identity.sha256[:12]}… matches "
                      f"no release (released: {release.sha256[:12]}…)", identity, current_version)
    notes: list[str] = []
    if not identity.sha256:
        notes.append("no content hash given: only the id and version were checked")
    if pdf_sha256 is not None:
        known = known_pdf_hashes(register, identity)
        if known and pdf_sha256 not in known:
            return Answer("altered", f"{identity.id} {identity.version}: the PDF file was changed after it was made "
                          "(its bytes match no PDF of this release)", identity, current_version)
        if not known:
            notes.append("no PDF of this version is on record: only the embedded identity was checked")
    state = register.status(identity.id, identity.version)
    if state is not None and state.status == RELEASED and current_version == identity.version:
        return Answer("current", f"{identity.id} {identity.version} is the current released version "
                      f"(approved {release.approved} by {release.approver})", identity, current_version, notes=notes)
    successor = state.superseded_by if state is not None and state.status == SUPERSEDED else ""
    changes: list[str] = []
    if current_version is not None:
        changes = _summary(register, identity.id, identity.version, current_version)
    later = f"superseded by {successor or current_version}"
    if current_version and successor and successor != current_version:
        later += f"; current version {current_version}"
    elif not current_version:
        later = "superseded; no version is in force"
    return Answer("superseded", f"{identity.id} {identity.version} is {later}", identity, current_version, changes,
                  notes)


def _summary(register: Register, protocol_id: str, old: str, new: str) -> list[str]:
    from compiler.versions.report import NotAProtocol, compare, summary_lines

    old_raw = archived_source(register.root, protocol_id, old)
    new_raw = archived_source(register.root, protocol_id, new)
    if old_raw is None or new_raw is None:
        return ["(the archive lacks one of the versions: no diff)"]
    try:
        result = compare(f"{protocol_id}@{old}", old_raw, f"{protocol_id}@{new}", new_raw)
    except NotAProtocol as error:
        return [f"({error})"]
    return summary_lines(list(result.changes))
