"""Hard limits on what one sheet can make the compiler compute (docs/security.md).

A sheet is untrusted text: `days 1-999999999` once asked for a list of a billion days,
a 5,000-digit number broke Python's int conversion, and a chain of 1,000 `not`s broke
the recursion limit. The builder enforces these limits when it makes the model (P017
number too long, P018 value beyond its limit, P019 condition too deep, P020 day beyond
the longest cycle), so no later stage (checks, calendars, FHIR, the language server)
ever sees a value that could make it expand without bound. The limits are technical,
far above anything a real protocol writes; clinical plausibility is the checks' job.
"""

from __future__ import annotations

MAX_DIGITS = 12
"""Digits in one written number (`1000000` units is 7; a 13-digit number is a slip or an attack)."""

MAX_DAY = 366
"""The highest cycle day a `days` list may name (a cycle of a year)."""

MAX_PERIOD_DAYS = 3660
"""The longest period (`every`, `cycle`, `for`, `max`, `q…`): ten years, in days."""

MAX_CYCLES = 100
"""The most cycles a line or regimen may state."""

MAX_INFUSION_MINUTES = 10_080
"""The longest infusion time: a week (continuous 5-FU runs 46 to 96 hours)."""

MAX_FRACTIONS = 100
"""The most radiotherapy fractions one scheme may state (the longest schemes give about 40)."""

MAX_VOLUME_ML = 10_000
"""The largest diluent volume in mL (ten litres; bags hold 50 to 1,000 mL)."""

MAX_GY = 1000
"""The largest radiotherapy dose in Gy (per fraction or in total) a line may state."""

MAX_CONDITION_DEPTH = 32
"""Nested `not`s and parentheses in one condition (as P004 bounds blocks and parentheses)."""

MAX_TIMELINE_DAYS = MAX_PERIOD_DAYS
"""The horizon of a drawn course timeline; later administrations are not drawn."""

DAYS_PER_UNIT = {"day": 1, "week": 7, "month": 31, "year": 366}
"""The longest length of each period unit, so a limit in days is never exceeded."""
