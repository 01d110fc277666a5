"""P: parse, encoding, structure and limits.

These codes are reported by the compiler stages (source, parse, build, book), not by
check functions; this module holds their documentation.
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler import arms
from compiler.checks import Context, arm_layout
from compiler.diagnostics import Diagnostic, Severity, check, define

E = Severity.ERROR
W = Severity.WARNING

define("P001", "syntax-error", E, "a line does not follow the protocol language", """
    What it checks: every line is metadata (`key: value`), a heading (`# title {id}`),
    prose, a bullet, or a statement that starts with a keyword (drug, regimen, rt, when,
    otherwise, decision, only when, exclude when, preferably with, only with, note:,
    query:, allow) and follows that statement's form.

    Why it matters: a statement that cannot be read cannot be checked. The compiler never
    guesses: a drug line with a missing unit is an error, not prose.

    Example: `drug letrozole 2,5 po daily` (no unit)

    Use instead: `drug letrozole 2,5 mg po daily`

    Source: docs/language.md.
""")
define("P002", "not-utf8", E, "the file is not UTF-8 text", """
    What it checks: the file decodes as UTF-8 and holds no NUL bytes (binary files).

    Why it matters: a file in another encoding shows wrong characters (µ, ², ≥) and can
    change what a dose line says.

    Example: a protocol saved as Windows-1252 from Word.

    Use instead: save as "Plain text, Unicode (UTF-8)".

    Source: RFC 3629.
""")
define("P003", "file-too-large", E, "the file exceeds the size limit", """
    What it checks: a protocol file is at most 1 MB (configurable with --max-bytes).

    Why it matters: a protocol sheet is a few pages; a huge file is a mistake (a wrong
    file, a pasted dump) and would slow every tool that reads the book.

    Example: a 10 MB export pasted into a .protocol file.

    Use instead: split the content into separate protocols.

    Source: protocolc limits (BRIEF.md, "huge input is refused with a clear error").
""")
define("P004", "nesting-too-deep", E, "indentation or parentheses nested too deeply", """
    What it checks: at most 32 levels of indented blocks and of parentheses in a condition.

    Why it matters: a sheet nested that deeply cannot be read at the bedside, and such
    input is refused before it can exhaust the compiler.

    Example: a decision inside a decision inside … 40 levels deep.

    Use instead: split the content over sections and subsections.

    Source: protocolc limits.
""")
define("P005", "duplicate-metadata", E, "a metadata field is given twice", """
    What it checks: each metadata field (except `reference`) appears once.

    Why it matters: two `version:` lines leave it unclear which version a printed copy is.

    Example: `version: 2.0` … `version: 2.1`

    Use instead: one `version:` line.

    Source: ISO 9001:2015 §7.5.2 (identification of documented information).
""")
define("P006", "unknown-field", E, "an unknown metadata field, keyword or invalid id", """
    What it checks: metadata keys are known (id, title, version, status, language, owner,
    author, reviewer, approver, authored, approved, next review, scope, reference, change
    note, or their Dutch spellings); a statement gives each part once; ids are valid.

    Why it matters: a misspelled key (`aprover:`) silently drops the approval record.

    Example: `aprover: Kwaliteitscommissie`

    Use instead: `approver: Kwaliteitscommissie`

    Source: docs/language.md.
""")
define("P007", "empty-protocol", E, "the file holds no protocol", """
    What it checks: a protocol file has metadata and content.

    Why it matters: an empty file in the book is a lost or truncated document.

    Example: a 0-byte `protocols/borst.protocol`.

    Use instead: restore the protocol from version control, or delete the file.

    Source: protocolc.
""")
define("P008", "duplicate-protocol-id", E, "two protocols in one book share an id", """
    What it checks: every protocol id is unique within the book.

    Why it matters: the QR code and the manifest find a protocol by id; two files with the
    same id make a printed copy point at the wrong sheet.

    Example: `id: borst-gemetastaseerd` in two files.

    Use instead: give each protocol its own id.

    Source: ISO 9001:2015 §7.5.2.
""")
define("P009", "indentation-not-spaces", E, "indentation uses tabs or non-breaking spaces", """
    What it checks: lines are indented with ordinary spaces only.

    Why it matters: text pasted from Word brings tabs and non-breaking spaces that look
    like spaces but change which block a line belongs to.

    Example: a drug line indented with a tab under `when HER2+:`.

    Use instead: indent with spaces (two per level is the convention).

    Source: LANGUAGE-NOTES.md §3.
""")
define("P010", "unreadable-file", E, "the file cannot be read", """
    What it checks: the file exists, is an ordinary file and can be read; every folder
    of the book can be listed.

    Why it matters: a protocol that cannot be read cannot be published, and a folder
    that cannot be listed would hide its protocols from the book without a word. A
    FIFO or a device (a link to /dev/zero) is refused before it is read: it could hang
    the check or never end (docs/security.md).

    Example: a path that does not exist, a file without read permission, a subfolder
    without read permission, `x.protocol` as a symbolic link to /dev/urandom or a FIFO.

    Use instead: check the path and permissions; replace a link to a special file by a
    copy of the text.

    Source: protocolc.
""")
define("P012", "section-number-mismatch", W, "a written section number does not match its position", """
    What it checks: when a heading carries a number (`# 4 Chemotherapie`), it equals the
    number the section gets from its position.

    Why it matters: "cfr. categorie 3" on paper must point at the section numbered 3.

    Example: `# 5 Chemotherapie` as the fourth section.

    Use instead: drop the number (sections are numbered automatically) or renumber.

    Source: protocolc.
""")
define("P013", "duplicate-section-id", E, "two sections share an id", """
    What it checks: section ids (`{id}` or derived from the title) are unique.

    Why it matters: a cross-reference `§id` must lead to exactly one section.

    Example: two sections titled "Indicaties" without explicit ids.

    Use instead: give one an explicit id: `## Indicaties {indicaties-rt}`.

    Source: protocolc.
""")
define("P011", "invisible-character", E, "an invisible or control character in a line", """
    What it checks: no line holds a character of Unicode category Cf (format) or Cc
    (control) other than tab and newline: zero-width space U+200B, a byte-order mark
    U+FEFF inside the text, word joiner U+2060, left-to-right and right-to-left marks,
    bidi overrides (U+202A-U+202E, U+2066-U+2069), soft hyphen U+00AD, C0 controls and
    ESC — and the line and paragraph separators U+2028/U+2029, which some viewers show
    as a line break and others not at all. Each is reported at its column. A byte-order mark at the very start of the file
    is accepted (it is removed when the file is read).

    Why it matters: such characters are invisible on screen. A zero-width space before
    `drug` turns a checked drug statement into unchecked prose, so a tenfold dose is
    printed without a finding; a right-to-left override makes the printed text differ
    from what was checked.

    Example: `drug tamoxifen 200 mg po daily` with U+200B before `drug` (text pasted from
    a web page or Word).

    Use instead: delete the character (retype the start of the line).

    Source: Unicode Technical Report #36 (Unicode Security Considerations) and CVE-2021-42574
    ("Trojan Source": bidi overrides); RULES.md P (invisible characters).
""")
define("P017", "number-too-long", E, "a number has more digits than any protocol needs", """
    What it checks: every number written in a sheet (a dose, a day, a count, a period,
    a version, a threshold) has at most 12 digits.

    Why it matters: a 5,000-digit number is a slip (a pasted value, a held-down key) or
    an attack; Python refuses to convert numbers beyond 4,300 digits and exact arithmetic
    on them is slow. The number is reported and read as at most 12 digits, so the rest
    of the sheet is still checked (docs/security.md).

    Example: `drug letrozole 2,5000000000000001 mg po daily`

    Use instead: `drug letrozole 2,5 mg po daily`

    Source: protocolc limits (docs/security.md, "Bounded time and memory").
""")
@check("P018", "value-beyond-limit", E, "a count, period, time or arm is beyond what protocolc reads")
def value_beyond_limit(context: Context) -> Iterator[Diagnostic]:
    """What it checks: a number of cycles is at most 100, a period (`every`, `cycle`,
    `for`, `max`, `q…`) at most ten years, an on/off pattern at most 366 days each, an
    infusion at most a week (10,080 min), a radiotherapy scheme at most 100 fractions and
    1,000 Gy; and no drug is given together with more than 64 other drug statements.

    Why it matters: these numbers are expanded into calendars, course timelines and
    FHIR timings; `every 1 day for 999999999 weeks` would ask for a billion
    administrations, and 30,000 drug lines in one block would make 900 million pairs for
    the combination checks. The limits are far above any real protocol; a value beyond
    one is a typo. The value is reported and read as the limit (an arm as its first 64
    partners), so nothing expands without bound. The numbers are reported when the model
    is built; this check adds the arms.

    Example: `drug letrozole 2,5 mg po daily, 999999999 cycles`

    Use instead: `drug letrozole 2,5 mg po daily until progression`

    Source: protocolc limits (docs/security.md, "Bounded time and memory").
    """
    layout = arm_layout(context)
    if not layout.oversized:
        return
    member, count = layout.oversized[0]
    more = len(layout.oversized) - 1
    also = f" ({more:,} more drug statements like it)" if more else ""
    yield value_beyond_limit.at(
        member.span, f"{member.label} is given together with {count:,} or more other drug statements, more than the "
        f"{arms.MAX_ARM} protocolc reads{also}",
        "group the drugs given together in a regimen or a short block; list alternatives as bullets")


define("P019", "condition-too-deep", E, "a condition nests `not`s deeper than 32 levels", """
    What it checks: `and`, `or`, `not` and parentheses nest at most 32 levels deep in one
    condition (parentheses alone are limited by P004).

    Why it matters: nobody can read a condition that deep at the bedside, and it would
    exhaust the recursion of every stage that walks conditions. The condition is still
    read, with its `not`s paired off (`not not X` is `X`), so its branch is still checked.

    Example: `when not not not … HER2+:` (40 times `not`)

    Use instead: `when HER2+:` (or `when not HER2+:`)

    Source: protocolc limits (docs/security.md, "Bounded time and memory").
""")
define("P020", "day-beyond-limit", E, "a cycle day is beyond day 366", """
    What it checks: every day in a `days` list, and the end of every day range, is at
    most 366 (a cycle of a year). A day beyond the cycle the line states is S002.

    Why it matters: a day range is expanded into the days it covers; `days 1-999999999`
    once asked for a billion days and took 20 GB. A day that large is a typo. The day
    (or range) is reported and left out, so the rest of the sheet is still checked.

    Example: `drug capecitabine 1000 mg/m2 po twice daily, days 1-1400 every 21 days`

    Use instead: `days 1-14 every 21 days`

    Source: protocolc limits (docs/security.md, "Bounded time and memory").
""")
