"""The book publishes what the release register says: released versions with their
status and archived PDF, a history page per protocol, superseded versions watermarked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT

pytest.importorskip("weasyprint")
pypdf = pytest.importorskip("pypdf")

HEADER = "\n".join((FIXTURES / "F001" / "pass_generic.protocol").read_text().split("\n")[:11])


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compiler", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "NO_COLOR": "1"})


def test_released_versions_history_and_superseded(tmp_path: Path) -> None:
    book = tmp_path / "protocols"
    book.mkdir()
    source = book / "tam.protocol"
    text = (HEADER.replace("id: fixture", "id: tam").replace("version: 1.0", "version: 1.0")
            + "\nchange note: eerste versie\n# Hormonale therapie\nBij HR+ ziekte.\ndrug tamoxifen (Nolvadex) 20 mg po daily\n")
    # the change note belongs to the metadata block: put it before the first heading
    text = text.replace("\nchange note: eerste versie\n# ", "\n# ").replace(
        "reference: protocolc test suite", "reference: protocolc test suite\nchange note: eerste versie")
    source.write_text(text)
    first = cli("release", str(source), "--approver", "Medisch-Farmaceutisch Comité", "--note", "eerste versie")
    assert first.returncode == 0, first.stdout + first.stderr
    source.write_text(text.replace("version: 1.0", "version: 1.1").replace("Bij HR+ ziekte.", "Bij hormoonreceptorpositieve ziekte.")
                      .replace("eerste versie", "titel verduidelijkt"))
    second = cli("release", str(source), "--approver", "Medisch-Farmaceutisch Comité", "--note", "titel verduidelijkt")
    assert second.returncode == 0, second.stdout + second.stderr
    out = tmp_path / "out"
    build = cli("build", str(book), "-o", str(out), "-q", "--no-cache")
    assert build.returncode == 0, build.stdout + build.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    entry = manifest["protocols"]["tam"]
    assert entry["status"] == "approved" and entry["version"] == "1.1"
    assert [h["version"] for h in entry["history"]] == ["1.0", "1.1"]
    assert entry["history"][0]["status"] == "superseded"
    archived = book / ".archive" / "tam" / "1.1.pdf"
    assert (out / "protocols" / "tam.pdf").read_bytes() == archived.read_bytes()  # the controlled release PDF
    history = (out / "protocols" / "tam.history.html").read_text()
    assert "1.0" in history and "superseded" in history and "titel verduidelijkt" in history
    old = pypdf.PdfReader(str(out / "protocols" / "tam" / "1.0.pdf"))
    assert "status=superseded" in str(old.metadata.get("/Keywords"))
