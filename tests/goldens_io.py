"""Golden files: compare a stage's output with its committed golden, or rewrite it on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest


def check_golden(path: Path, text: str, update: bool) -> None:
    """`text` must equal the golden at `path`; `--update-goldens` rewrites it, a missing one fails once."""
    if update or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not update:
            pytest.fail(f"golden {path.name} was missing and has been written; review and commit it")
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs from its golden (--update-goldens if intended)"
