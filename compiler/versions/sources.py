"""Where the two sides of a diff come from: a file, `ID@VERSION` (the archive) or
`ID@git:REV` (the protocol's file at a git revision, read with `git show`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from compiler.fsutil import describe, read_limited
from compiler.source import MAX_BYTES
from compiler.versions.register import archived_source, find_root, parse_version

SPEC_SEPARATOR = "@"


class SourceNotFound(Exception):
    """A side of a diff that cannot be read (a short message for the user)."""


def book_root(book: Path | None, near: Path | None = None) -> Path | None:
    """The book root: `--book`, else the register above `near` or the working folder, else ./protocols."""
    if book is not None:
        return book
    for start in ([near] if near is not None else []) + [Path.cwd()]:
        found = find_root(start)
        if found is not None:
            return found
    candidate = Path.cwd() / "protocols"
    return candidate if candidate.is_dir() else None


def read_side(spec: str, book: Path | None) -> tuple[str, bytes]:
    """(label, bytes) of one side; SourceNotFound with a short message otherwise."""
    path = Path(spec)
    if path.exists():
        try:
            return spec, read_limited(path, MAX_BYTES)
        except OSError as error:
            raise SourceNotFound(f"cannot read {spec}: {describe(error)}") from error
    if SPEC_SEPARATOR not in spec:
        raise SourceNotFound(f"no such file: {spec} (or write ID@VERSION, ID@git:REV)")
    pid, _, rest = spec.partition(SPEC_SEPARATOR)
    root = book_root(book)
    if rest.startswith("git:"):
        return spec, _from_git(pid, rest[4:], root)
    if parse_version(rest) is None:
        raise SourceNotFound(f"`{rest}` is not a version (major.minor) in {spec}")
    if root is None:
        raise SourceNotFound("no release register found; run inside the book or pass --book DIR")
    data = archived_source(root, pid, rest)
    if data is None:
        raise SourceNotFound(f"{pid} {rest} is not in the archive of {root}")
    return spec, data


def protocol_file(root: Path, protocol_id: str) -> Path | None:
    """The working-tree file of a protocol id below the book root (`id:` on a first lines)."""
    for path in sorted(root.rglob("*.protocol")):
        if ".archive" in path.parts:
            continue
        try:  # a FIFO or a device named *.protocol must not hang the search
            head = read_limited(path, MAX_BYTES).decode("utf-8", errors="replace").split("\n", 40)[:40]
        except OSError:
            continue
        for line in head:
            key, _, value = line.partition(":")
            if key.strip() == "id" and value.split("//")[0].strip() == protocol_id:
                return path
    return None


def _from_git(protocol_id: str, revision: str, root: Path | None) -> bytes:
    if not revision or revision.startswith("-"):
        raise SourceNotFound(f"`{revision}` is not a git revision")
    base = root if root is not None else Path.cwd()
    path = protocol_file(base, protocol_id)
    if path is None:
        raise SourceNotFound(f"no protocol with id `{protocol_id}` below {base}")
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=path.parent, capture_output=True,
                             text=True, timeout=30, check=False)
        if top.returncode != 0:
            raise SourceNotFound(f"{path} is not in a git repository")
        relative = path.resolve().relative_to(Path(top.stdout.strip()).resolve()).as_posix()
        shown = subprocess.run(["git", "show", f"{revision}:{relative}"], cwd=top.stdout.strip(), capture_output=True,
                               timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SourceNotFound(f"git failed: {error}") from error
    if shown.returncode != 0:
        message = shown.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise SourceNotFound(f"git show {revision}:{relative}: {message[0] if message else 'failed'}")
    return shown.stdout
