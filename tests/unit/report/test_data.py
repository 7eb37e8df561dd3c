"""Rows from the marts become Decimal rows, whatever the column types."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from stocks_elt.report.data import _daily_row


def _raw(**changes: object) -> tuple[object, ...]:
    values: list[object] = [date(2025, 6, 30), 1.5, 2.25, 1.0, 2.0, 1000]
    values += [None] * 15
    for index, value in changes.items():
        values[int(index.removeprefix("c"))] = value
    return tuple(values)


def test_doubles_become_the_decimals_of_their_shortest_text() -> None:
    row = _daily_row(_raw(c7=0.1 + 0.2))

    assert row.open == Decimal("1.5")
    assert row.sma_20 == Decimal("0.30000000000000004")


def test_fractional_adjusted_volume_is_rounded_to_whole_shares() -> None:
    assert _daily_row(_raw(c5=Decimal("1045.5"))).volume == 1046
    assert _daily_row(_raw(c5=Decimal("NaN"))).volume is None
    assert _daily_row(_raw(c5=None)).volume is None


def test_a_column_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(TypeError, match="holds str"):
        _daily_row(_raw(c1="1.5"))
