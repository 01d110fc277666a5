"""The builder's remembered number values stay few and give what `Decimal` gives."""

from __future__ import annotations

from decimal import Decimal

from compiler import build


def test_values_as_decimal_gives_them_and_memory_stays_bounded() -> None:
    for index in range(3 * build.DECIMALS_KEPT):
        raw = f"{index},5" if index % 2 else str(index)
        assert build.decimal_of(raw) == Decimal(raw.replace(",", "."))
        assert len(build.DECIMALS) <= build.DECIMALS_KEPT
    assert build.decimal_of("1.2.3") == Decimal(0)  # what is no number reads as 0, as before
    assert str(build.decimal_of("2,50")) == "2.50"  # the digits as written
