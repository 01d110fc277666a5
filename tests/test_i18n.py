"""protocolc's own words in the sheet's language: findings, the validation report, the CLI output."""

from __future__ import annotations

import io
import re

from compiler import i18n, report
from compiler.pipeline import compile_text
from compiler.validation import render_report
from tests.conftest import TODAY

SHEET = """id: taal
title: Taal
version: 1.0
status: draft
language: {language}
owner: Dienst medische oncologie
author: Ziekenhuisapotheek
next review: 2028-11-23
scope: test
reference: protocolc test suite

# Schema
drug letrozole 2,5 mg po daily
query: welke dosis?
"""


def compiled(language: str):  # type: ignore[no-untyped-def]
    text = SHEET.format(language=language)
    if language == "en":
        text = text.replace("2,5 mg", "2.5 mg")
    return compile_text(f"taal-{language}.protocol", text.encode(), TODAY)


def test_framing_words_and_numbers_follow_the_language() -> None:
    assert i18n.severity("warning", "nl") == "waarschuwing" and i18n.severity("warning", "en") == "warning"
    assert i18n.message("BED 19.5 Gy", "nl") == "BED 19,5 Gy" and i18n.message("BED 19.5 Gy", "en") == "BED 19.5 Gy"
    assert i18n.message("open review query: welke dosis?", "nl") == "open vraag voor de reviewer: welke dosis?"
    assert i18n.counts(0, 2, 1, "nl") == "0 fout(en), 2 waarschuwing(en), 1 melding(en)"
    assert i18n.word("found", "nl", n=3) == "3 gevonden"
    # every key has both languages
    assert set(i18n.WORDS["nl"]) == set(i18n.WORDS["en"])


def test_human_output_in_dutch_keeps_the_codes() -> None:
    result = compiled("nl")
    english, dutch, auto = io.StringIO(), io.StringIO(), io.StringIO()
    report.human([result], [], english, "en")
    report.human([result], [], dutch, "nl")
    report.human([result], [], auto, "auto")
    assert "warning[X006]: open review query: welke dosis?" in english.getvalue()
    assert "waarschuwing[X006]: open vraag voor de reviewer: welke dosis?" in dutch.getvalue()
    assert "waarschuwing[X006]" in auto.getvalue()
    assert "1 bestand(en) gecontroleerd: 0 fout(en), 1 waarschuwing(en)" in dutch.getvalue()
    codes = re.findall(r"\[([A-Z][0-9]{3})\]", english.getvalue())
    assert codes == re.findall(r"\[([A-Z][0-9]{3})\]", dutch.getvalue())


def test_validation_report_speaks_the_sheets_language() -> None:
    dutch = render_report([compiled("nl")], [], TODAY)
    english = render_report([compiled("en")], [], TODAY)
    assert '<html lang="nl">' in dutch and "<h1>Validatierapport</h1>" in dutch
    assert '<td class="warning">waarschuwing</td>' in dutch and ">warning<" not in dutch
    assert '<html lang="en">' in english and "<h1>Validation report</h1>" in english
    assert '<td class="warning">warning</td>' in english and "waarschuwing" not in english
    assert "X006" in dutch and "X006" in english


def test_version_numbers_keep_their_dot() -> None:
    text = "clinical change with a minor raise 1.0 → 1.1: a clinical change needs a major version (2.0)"
    dutch = i18n.message(text, "nl", numbers=False)
    assert dutch == "klinische wijziging met een kleine verhoging 1.0 → 1.1: een klinische wijziging vraagt een " \
                    "nieuwe hoofdversie (2.0)"
    assert i18n.message(text, "en", numbers=False) == text
