"""Compiler diagnostics as LSP diagnostics: same code, message, span and severity.

The hint (`= help:` in `protocolc check`) is appended to the message, because editors
show the message everywhere and related information only in some places. Related spans
become related information; the rule's documentation page is the code description.
An acknowledged finding (`allow CODE "…"`) is published as a hint-level diagnostic that
carries the justification, so the editor shows it without a squiggle of its severity.
"""

from __future__ import annotations

from lsprotocol import types

from compiler.diagnostics import Diagnostic, Severity
from compiler.lsp.positions import Positions

SOURCE = "protocolc"
DEFAULT_RULES_BASE = "protocolc://rules/"

SEVERITIES = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}


def rule_href(code: str, base: str = DEFAULT_RULES_BASE) -> str:
    """The documentation link of a rule: `<base>CODE.html` (the book's `rules/` pages), or `protocolc://rules/CODE`."""
    if base.startswith("protocolc:"):
        return f"{base}{code}"
    return f"{base.rstrip('/')}/{code}.html"


def message_of(diagnostic: Diagnostic) -> str:
    """The message as shown in the editor: the compiler's message, then the hint."""
    text = diagnostic.message
    if diagnostic.hint:
        text += f"\nhelp: {diagnostic.hint}"
    if diagnostic.acknowledged is not None:
        text += f"\nacknowledged: {diagnostic.acknowledged}"
    return text


def to_lsp(diagnostic: Diagnostic, uri: str, positions: Positions, rules_base: str = DEFAULT_RULES_BASE) -> types.Diagnostic:
    """One compiler diagnostic as an LSP diagnostic for the document `uri`."""
    related = [
        types.DiagnosticRelatedInformation(
            location=types.Location(uri=uri, range=positions.span_range(r.span)), message=r.message)
        for r in diagnostic.related
        if r.span.file == diagnostic.span.file
    ]
    severity = SEVERITIES[diagnostic.severity]
    if diagnostic.acknowledged is not None:
        severity = types.DiagnosticSeverity.Hint
    return types.Diagnostic(
        range=positions.span_range(diagnostic.span),
        message=message_of(diagnostic),
        severity=severity,
        code=diagnostic.code,
        code_description=types.CodeDescription(href=rule_href(diagnostic.code, rules_base)),
        source=SOURCE,
        related_information=related or None,
        data={"fix": diagnostic.fix is not None},
    )


def all_to_lsp(diagnostics: tuple[Diagnostic, ...], uri: str, positions: Positions,
               rules_base: str = DEFAULT_RULES_BASE) -> list[types.Diagnostic]:
    """Every diagnostic of a document, in compiler order."""
    return [to_lsp(d, uri, positions, rules_base) for d in diagnostics]
