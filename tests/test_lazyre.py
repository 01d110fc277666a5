"""`lazy(...)` answers exactly what `re.compile(...)` answers, before and after its first use."""

from __future__ import annotations

import re

import pytest

from compiler.checks import dose, dose_context, dosed, notation
from compiler.lazyre import LazyPattern, lazy

PATTERN, FLAGS = r"(?P<n>\d+)\s*x(?=\W|$)", re.IGNORECASE
TEXTS = ["", "3 x", "a 12X b 4x", "x 7 xx 8 x.", "Ⅻ 3 X"]


@pytest.mark.parametrize("text", TEXTS)
def test_every_method_answers_as_the_compiled_pattern(text: str) -> None:
    compiled = re.compile(PATTERN, FLAGS)
    for first in ("search", "sub"):  # the first call compiles, whichever method it is
        pattern = lazy(PATTERN, FLAGS)
        getattr(pattern, first)
        found, expected = pattern.search(text), compiled.search(text)
        assert (found and (found.span(), found.groupdict())) == (expected and (expected.span(), expected.groupdict()))
        assert [m.span() for m in pattern.finditer(text)] == [m.span() for m in compiled.finditer(text)]
        assert pattern.findall(text) == compiled.findall(text)
        assert pattern.sub("-", text) == compiled.sub("-", text)
        assert pattern.subn(lambda m: m.group("n"), text) == compiled.subn(lambda m: m.group("n"), text)
        assert pattern.split(text) == compiled.split(text)
        assert bool(pattern.match(text)) == bool(compiled.match(text))
        assert bool(pattern.fullmatch(text)) == bool(compiled.fullmatch(text))
        assert (pattern.flags, pattern.groups, pattern.groupindex) == (compiled.flags, compiled.groups,
                                                                       compiled.groupindex)
        assert pattern.pattern == compiled.pattern


def test_compiled_once_and_then_the_compiled_methods_themselves() -> None:
    pattern = lazy(r"ab+")
    assert "_compiled" not in vars(pattern)
    assert pattern.search("xabb") is not None
    compiled = pattern.compiled()
    assert compiled is pattern.compiled() is re.compile(r"ab+")
    assert vars(pattern)["search"] == compiled.search  # no indirection after the first call


def test_a_bad_pattern_fails_when_first_used() -> None:
    pattern = lazy(r"(unclosed")
    with pytest.raises(re.error):
        pattern.search("x")


def test_the_module_patterns_compile() -> None:
    """Every lazy pattern of the rule modules is a valid expression (a typo would fail only on a rare sheet)."""
    lazies = [value for module in (dose, dose_context, dosed, notation) for value in vars(module).values()
              if isinstance(value, LazyPattern)]
    lazies += [p for p in dose_context.INDICATION_WORDS.values()] + [p for p, _ in notation._FREQUENCY_WORDS]
    assert len(lazies) >= 10
    for pattern in lazies:
        assert isinstance(pattern.compiled(), re.Pattern)


def test_the_other_lazy_patterns_compile() -> None:
    from compiler import build, i18n
    from compiler.checks import schedule

    patterns = [p for p, _ in i18n.MESSAGES] + [i18n.DECIMAL_POINT, schedule._EXPLICIT_DAY_ZERO]
    patterns += [value for value in vars(build).values() if isinstance(value, LazyPattern)]
    for pattern in patterns:
        assert isinstance(pattern.compiled(), re.Pattern)
