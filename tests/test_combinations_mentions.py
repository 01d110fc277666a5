"""The C rules find a word where a word stem starts (combination_facts.mentioned) as a search of the whole text does.

`mentioned` tries the word pattern only where a word's probe (the ASCII head of its stem)
occurs in the folded text, not at every character; random texts of stems, case changes, boundaries and the characters that
fold to ASCII (or change length) under re.IGNORECASE must give the answer of a full search.
"""

from __future__ import annotations

import random

from compiler import arms
from compiler.checks import combination_facts, folded

WORDS = [["dpd*", "DPYD"], ["B12", "foliumzuur", "folic acid"], ["g-csf", "groeifactor*"], ["a.b", "x+y*"],
         ["anti-emetica", "5-HT3"], ["corticosteroïd*", "ovariële suppressie", "LHRH"], ["Ïx", "b12"]]
PIECES = ["dpd", "DPD", "Dpyd", "b12", "B12", "foliumZUUR", "folic acid", "folic  acid", "G-CSF", "groeifactoren",
          "a.b", "axb", "x+y", "5-ht3", "anti-emetica", "x", "1", "-", " ", "\n", ".", "é", "ß", "İ", "ı", "ſ",
          "\u212a", "≥", "Ω", "corticosteroïden", "CORTICOSTEROÏD", "corticosteroid", "ovariële suppressie",
          "OVARIËLE SUPPRESSIE", "ovariele suppressie", "lhrh", "ï", "Ï", "ë", "Ïx", "ïX", "σ", "ς"]


def test_a_stem_start_search_answers_as_a_full_search() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 12)))
        for words in WORDS:
            prepared = combination_facts.prepared_words(words)
            full = prepared[0].search(text) is not None
            assert combination_facts.mentioned(text, folded(text), prepared) == full, (words, text)
            assert combination_facts.mentions([text], words) == arms.mentions([text], words), (words, text)
