"""`protocolc serve [PATH]`: a live preview of the book on localhost.

Builds the book (HTML; `--pdf` for PDFs too) into a folder, serves it, watches the
sources and rebuilds on every save — incrementally, through the build cache — then
tells open pages to reload. Every served protocol page carries an overlay with its
current findings; a protocol with errors (which the build does not render) is served
as a page of its findings. Only ever binds to localhost unless told otherwise.
"""

from __future__ import annotations

import argparse
import html
import json
import signal
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

NAME = "serve"
HELP = "preview the book on localhost, rebuilding and reloading on save"
LIVE_PATH = "/__protocolc/"
LIVE_SCRIPT = """
(() => {
  let seen = null;
  const poll = async () => {
    try {
      const reply = await fetch("/__protocolc/state", {cache: "no-store"});
      const state = await reply.json();
      if (seen !== null && state.generation !== seen) { location.reload(); return; }
      seen = state.generation;
    } catch (error) { /* the server is restarting; try again */ }
    setTimeout(poll, 700);
  };
  poll();
})();
"""
OVERLAY_CSS = """
#protocolc-overlay { position: fixed; right: 1rem; bottom: 1rem; max-width: 36rem; max-height: 45vh; overflow: auto;
  background: #fff; border: 2px solid #b3261e; border-radius: 6px; padding: .6rem .8rem; font: 13px/1.4 sans-serif;
  box-shadow: 0 4px 16px rgba(0,0,0,.2); z-index: 1000; }
#protocolc-overlay.clean { border-color: #1b5e20; }
#protocolc-overlay h2 { font-size: 14px; margin: 0 0 .3rem; }
#protocolc-overlay li { margin: .2rem 0; }
#protocolc-overlay .error { color: #b3261e; } #protocolc-overlay .warning { color: #8a4b00; }
@media print { #protocolc-overlay { display: none; } }
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `serve`."""
    parser.add_argument("path", nargs="?", type=Path, default=Path("protocols"), metavar="PATH")
    parser.add_argument("-o", "--output", type=Path, default=None, help="build folder (default: a temporary one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--pdf", action="store_true", help="also build PDFs (slower)")


class LiveBook:
    """The served book: builds, generation counter, findings per protocol page."""

    def __init__(self, source: Path, output: Path, pdf: bool) -> None:
        self.source = source
        self.output = output
        self.pdf = pdf
        self.generation = 0
        self.findings: dict[str, list[dict[str, Any]]] = {}
        self.lock = threading.Lock()

    def rebuild(self) -> None:
        """Build the book (incrementally) and record the findings of every protocol."""
        from compiler.book import build_book

        outcome = build_book([self.source], self.output, pdf=self.pdf, quiet=True)
        findings: dict[str, list[dict[str, Any]]] = {}
        for result in outcome.results:
            pid = result.summary.get("id") or Path(result.path).stem
            findings[pid] = [d.to_json() for d in result.diagnostics if d.acknowledged is None]
        with self.lock:
            self.findings = findings
            self.generation += 1
        errors = sum(1 for items in findings.values() for d in items if d["severity"] == "error")
        print(f"protocolc serve: rebuilt (generation {self.generation}): {len(findings)} protocol(s), "
              f"{errors} error(s)", file=sys.stderr, flush=True)

    def watch(self, stop: threading.Event) -> None:
        """Rebuild whenever a source changes."""
        from watchfiles import watch

        for _ in watch(self.source, stop_event=stop, debounce=150):
            try:
                self.rebuild()
            except Exception as error:  # a failed rebuild must not stop the preview
                print(f"protocolc serve: rebuild failed: {type(error).__name__}: {error}", file=sys.stderr)

    def overlay(self, protocol_id: str) -> str:
        """The findings overlay for one protocol page."""
        with self.lock:
            items = self.findings.get(protocol_id)
        if items is None:
            return ""
        if not items:
            return f'<style>{OVERLAY_CSS}</style><aside id="protocolc-overlay" class="clean" role="status">' \
                   f"<h2>protocolc: {html.escape(protocol_id)} — geen bevindingen</h2></aside>"
        rows = "".join(
            f'<li class="{html.escape(d["severity"])}">{html.escape(d["severity"])}[{html.escape(d["code"])}] '
            f'regel {int(d["line"])}: {html.escape(d["message"])} — {html.escape(d["hint"])}</li>' for d in items)
        return (f'<style>{OVERLAY_CSS}</style><aside id="protocolc-overlay" role="status" aria-live="polite">'
                f"<h2>protocolc: {len(items)} bevinding(en) in {html.escape(protocol_id)}</h2><ul>{rows}</ul></aside>")


def _handler(book: LiveBook) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        """Serves the build folder, the live-reload endpoints, and injects the overlay."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(book.output), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == LIVE_PATH + "state":
                self._send(json.dumps({"generation": book.generation}).encode(), "application/json")
            elif path == LIVE_PATH + "live.js":
                self._send(LIVE_SCRIPT.encode(), "text/javascript")
            elif path.startswith("/protocols/") and path.endswith(".html"):
                self._protocol_page(path)
            elif path in ("/", "/index.html"):
                self._page(book.output / "index.html", "")
            else:
                super().do_GET()

        def _protocol_page(self, path: str) -> None:
            protocol_id = Path(path).stem
            page = book.output / "protocols" / f"{protocol_id}.html"
            if page.is_file():
                self._page(page, book.overlay(protocol_id))
            elif protocol_id in book.findings:
                body = (f'<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8"><title>{html.escape(protocol_id)}'
                        f"</title></head><body><main><h1>{html.escape(protocol_id)}</h1><p>Niet gerenderd: dit protocol "
                        f"bevat fouten.</p></main></body></html>")
                self._inject(body, book.overlay(protocol_id))
            else:
                self.send_error(404)

        def _page(self, page: Path, overlay: str) -> None:
            if not page.is_file():
                self.send_error(404)
                return
            self._inject(page.read_text(encoding="utf-8"), overlay)

        def _inject(self, body: str, overlay: str) -> None:
            extra = f'{overlay}<script src="{LIVE_PATH}live.js"></script>'
            body = body.replace("</body>", extra + "</body>", 1) if "</body>" in body else body + extra
            self._send(body.encode("utf-8"), "text/html; charset=utf-8")

        def _send(self, data: bytes, media_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    """Build, serve and watch until interrupted (Ctrl-C or SIGTERM)."""
    if not args.path.exists():
        print(f"protocolc: no such file or folder: {args.path}", file=sys.stderr)
        return 2
    temporary = None
    output = args.output
    if output is None:
        temporary = tempfile.TemporaryDirectory(prefix="protocolc-serve-")
        output = Path(temporary.name) / "book"
    book = LiveBook(args.path, output, args.pdf)
    # `kill` (SIGTERM) stops the server like Ctrl-C does: through the `finally` that removes the temporary folder
    signal.signal(signal.SIGTERM, _interrupt)
    stop = threading.Event()
    # watch before the first build, so a save made while it runs is not missed
    watcher = threading.Thread(target=book.watch, args=(stop,), daemon=True)
    watcher.start()
    book.rebuild()
    server = ThreadingHTTPServer((args.host, args.port), _handler(book))
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"protocolc serve: http://{host}:{port}/ (watching {args.path}; Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        if temporary is not None:
            temporary.cleanup()
    return 0
