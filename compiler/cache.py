"""Content-hash cache of check results and rendered documents.

A key covers everything an output depends on: the source bytes, the data tables, the
grammar, the compiler version, the book configuration and the date (review dates are
checked against today). A hit is used only when its key matches exactly; the cache is
an accelerator, never a source of truth — any unreadable entry is a miss.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from compiler import __version__
from compiler.records import frozen


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/protocolc` (or ~/.cache/protocolc)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "protocolc"


# The files whose content decides a check or a render: code, grammar, data tables,
# templates and stylesheets (fonts are fixed files, named by the code).
FINGERPRINTED = ("*.py", "*.lark", "*.yaml", "*.j2", "*.css")


@functools.lru_cache(maxsize=1)
def compiler_fingerprint() -> str:
    """Compiler version + the package's code, grammar, data tables and templates, hashed.

    Reads the files' bytes only: a warm run must not pay for importing the parser or
    loading the tables just to learn that nothing changed.
    """
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(__version__.encode())
    suffixes = tuple(pattern.lstrip("*") for pattern in FINGERPRINTED)
    files: list[str] = []
    for folder, _, names in os.walk(package):  # one walk, not one per pattern
        relative = os.path.relpath(folder, package)
        files.extend(os.path.normpath(os.path.join(relative, n)) for n in names if n.endswith(suffixes))
    checkout_grammar = package.parent / "grammar" / "protocol.lark"  # a source checkout keeps it outside the package
    for name in sorted(Path(f).as_posix() for f in files):
        digest.update(name.encode())
        digest.update((package / name).read_bytes())
    if checkout_grammar.is_file():
        digest.update(checkout_grammar.read_bytes())
    return digest.hexdigest()


def key_for(*parts: str) -> str:
    """A cache key from its parts (each part separated, so "ab"+"c" ≠ "a"+"bc")."""
    digest = hashlib.sha256()
    _feed(digest, parts)
    return digest.hexdigest()


def keyed_by(*parts: str) -> Callable[..., str]:
    """`key_for(*parts, *more)` as a function of `more`: the parts every key of a run shares are hashed once."""
    common = hashlib.sha256()
    _feed(common, parts)

    def key(*more: str) -> str:
        digest = common.copy()
        _feed(digest, more)
        return digest.hexdigest()

    return key


def _feed(digest: Any, parts: tuple[str, ...]) -> None:
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part.encode())


def _write(path: Path, data: bytes, durable: bool) -> None:
    """Replace a cache file atomically (readers see the old entry or the new one).

    `durable`: synced to disk before the rename. A check result need not be: after a
    crash a lost or empty entry does not parse, so it is a miss; syncing each of them
    made a cold check of a large book wait on the disk for every file. A rendered
    document is synced: an empty PDF would be taken for one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        # the cache is private (0600): only the user's own processes read it (docs/security.md)
        with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600), "wb") as stream:
            stream.write(data)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


@frozen
class Cache:
    """A directory of cache entries: `<key>.json` results and `<key>.<ext>` documents (a cold
    `check` links one file of a few sheets' blocks under each one's `<key>.<format>.block`).
    """

    directory: Path

    def read_json(self, key: str) -> dict[str, Any] | None:
        """A cached JSON entry, or None."""
        try:
            data = json.loads((self.directory / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write_json(self, key: str, data: dict[str, Any]) -> None:
        """Store a JSON entry (best effort)."""
        try:
            _write(self.directory / f"{key}.json", json.dumps(data, ensure_ascii=False).encode("utf-8"), durable=False)
        except OSError:
            pass

    def read_bytes(self, key: str, extension: str) -> bytes | None:
        """A cached document, or None."""
        try:
            return (self.directory / f"{key}.{extension}").read_bytes()
        except OSError:
            return None

    def write_bytes(self, key: str, extension: str, data: bytes, durable: bool = True) -> None:
        """Store a document (best effort; `durable=False` for entries that are a miss when empty)."""
        try:
            _write(self.directory / f"{key}.{extension}", data, durable)
        except OSError:
            pass

    def write_shared(self, names: Sequence[str], data: bytes) -> None:
        """Store one non-durable entry under each of `names` (`<key>.<ext>`), best effort: one file,
        hard-linked under each name. Creating a file costs far more than linking one (up to 1 ms
        against 0.02 on the machines of issue 17), so a cold `check` stores a few sheets this way.
        """
        if not names:
            return
        temp = self.directory / f".{names[0]}.{os.getpid()}.{threading.get_ident()}.shared.tmp"
        try:
            _write(temp, data, durable=False)
        except OSError:
            return
        try:
            for name in names:
                _link(temp, self.directory / name)
        except OSError:  # a file system without hard links: a file per name
            for name in names:
                with contextlib.suppress(OSError):
                    _write(self.directory / name, data, durable=False)
        finally:
            with contextlib.suppress(OSError):
                temp.unlink()


def _link(source: Path, target: Path) -> None:
    """Give `source` the name `target` too, replacing what `target` named (atomically)."""
    try:
        os.link(source, target, follow_symlinks=False)
    except FileExistsError:
        spare = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        spare.unlink(missing_ok=True)
        os.link(source, spare, follow_symlinks=False)
        os.replace(spare, target)
