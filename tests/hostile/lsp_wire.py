"""A minimal JSON-RPC client for `protocolc lsp` over stdio: raw messages, as a hostile client sends them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent


class Wire:
    """`protocolc lsp` in a subprocess, spoken to with hand-made messages (no client library)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "compiler", "lsp"], cwd=ROOT, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.next_id = 0

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        length = 0
        while True:
            header = self.process.stdout.readline()
            if not header:
                raise EOFError("the server closed its output")
            if header in (b"\r\n", b"\n"):
                break
            name, _, value = header.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        message: dict[str, Any] = json.loads(self.process.stdout.read(length))
        return message

    def request(self, method: str, params: Any) -> dict[str, Any]:
        """Send a request and return its response (notifications in between are collected)."""
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        while True:
            message = self.receive()
            if message.get("id") == self.next_id and "method" not in message:
                return message
            self.notifications.append(message)

    notifications: list[dict[str, Any]]

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def start(self) -> None:
        self.notifications = []
        self.request("initialize", {"processId": None, "rootUri": None, "capabilities": {},
                                    "initializationOptions": {"debounceMs": 0}})
        self.notify("initialized", {})

    def stop(self) -> None:
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.process.wait(timeout=20)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()

    def published(self, uri: str) -> list[dict[str, Any]]:
        """The last diagnostics published for a document (waits for one)."""
        while True:
            for message in reversed(self.notifications):
                if message.get("method") == "textDocument/publishDiagnostics" and message["params"]["uri"] == uri:
                    self.notifications.remove(message)
                    return list(message["params"]["diagnostics"])
            self.notifications.append(self.receive())
