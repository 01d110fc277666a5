"""`protocolc lsp`: the language server over stdio (for VS Code, Neovim, Emacs and any LSP editor)."""

from __future__ import annotations

import argparse
import logging

NAME = "lsp"
HELP = "run the language server over stdio (diagnostics, hover, completion, navigation, fixes)"


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `lsp`."""
    parser.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (the default and only transport)")
    parser.add_argument("--log-file", metavar="FILE", help="write the server's log to FILE")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level (with --log-file)")


def run(args: argparse.Namespace) -> int:
    """Serve until the client exits."""
    from compiler.lsp.server import serve_stdio

    if args.log_file:
        logging.basicConfig(filename=args.log_file, level=logging.DEBUG if args.verbose else logging.INFO)
    serve_stdio()
    return 0
