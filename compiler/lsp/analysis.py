"""One compiled version of an open document: the pipeline run in-process on the editor's text."""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from compiler import model as m
from compiler.diagnostics import Diagnostic
from compiler.lsp.positions import split_lines
from compiler.pipeline import Compiled, compile_text
from compiler.versions.root import forget_roots


@dataclass(frozen=True)
class Analysis:
    """The text of a document version and what the compiler made of it."""

    uri: str
    version: int | None
    text: str
    lines: tuple[str, ...]
    compiled: Compiled
    milliseconds: float

    @property
    def protocol(self) -> m.Protocol | None:
        """The resolved model, when the text parsed."""
        return self.compiled.protocol

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """Every finding, in `protocolc check` order."""
        return self.compiled.diagnostics

    @property
    def language(self) -> str:
        """The document language (nl when not stated or not parsed)."""
        if self.protocol is not None and self.protocol.meta.language:
            return self.protocol.meta.language
        for line in self.lines[:40]:
            key, _, value = line.partition(":")
            if key.strip().lower() in ("language", "taal") and value.strip() in ("nl", "en"):
                return value.strip()
        return "nl"

    def line(self, index: int) -> str:
        """A 0-based line of the text ("" past the end)."""
        return self.lines[index] if 0 <= index < len(self.lines) else ""


def path_of(uri: str) -> str:
    """The file path a document URI stands for (the URI itself when it is not a file)."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    return uri


def analyse(uri: str, text: str, version: int | None = None, today: datetime.date | None = None) -> Analysis:
    """Compile a document's text exactly as `protocolc check` compiles the file."""
    start = time.perf_counter()
    forget_roots()  # a release made by another process since the last analysis counts, as in a check
    compiled = compile_text(path_of(uri), text.encode("utf-8", errors="surrogatepass"), today)
    elapsed = (time.perf_counter() - start) * 1000
    return Analysis(uri, version, text, split_lines(text), compiled, elapsed)
