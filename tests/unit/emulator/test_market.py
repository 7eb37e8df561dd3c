from __future__ import annotations

import bisect
from datetime import date
from decimal import Decimal

import pytest

from stocks_elt.emulator.market import Market, symbol_history, symbol_seed
from stocks_elt.emulator.universe import (
    ListedSymbol,
    default_universe,
    synthetic_universe,
)
from stocks_elt.market.calendar import all_sessions, is_session

TODAY = date(2026, 6, 30)
UNIVERSE = default_universe()
BY_SYMBOL = {listed.symbol: listed for listed in UNIVERSE}


def _adjusted_closes_by_definition(
    closes: list[Decimal],
    dates: list[date],
    splits: dict[date, Decimal],
    dividends: dict[date, Decimal],
) -> list[float]:
    """DESIGN.md's backward adjustment, written independently of the generator.

    Each event on day t contributes a factor to every price before t: 1/r for a
    split, (1 - D / close of the session before t) for a dividend. A session's
    factor is the product over the events after it.
    """
    position = {day: i for i, day in enumerate(dates)}
    events = sorted(
        [(day, 1 / float(ratio)) for day, ratio in splits.items()]
        + [
            (day, 1 - float(amount) / float(closes[position[day] - 1]))
            for day, amount in dividends.items()
        ]
    )
    event_days = [day for day, _ in events]
    after = [1.0] * (len(events) + 1)  # after[k]: product of events k, k+1, ...
    for k in range(len(events) - 1, -1, -1):
        after[k] = after[k + 1] * events[k][1]
    return [
        float(close) * after[bisect.bisect_right(event_days, day)]
        for close, day in zip(closes, dates, strict=True)
    ]


def test_symbol_seed_is_a_stable_sha256_derivation() -> None:
    # sha256(b"0:IBM") starts with these 8 bytes, on every machine.
    import hashlib

    expected = int.from_bytes(hashlib.sha256(b"0:IBM").digest()[:8], "big")
    assert symbol_seed("IBM", 0) == expected
    assert symbol_seed("IBM", 1) != expected


def test_the_same_symbol_and_seed_give_the_same_history() -> None:
    listed = ListedSymbol("ZZZ", "Zed Corp")
    first = symbol_history(listed, TODAY, seed=7).bars
    second = Market((listed,), seed=7).history("ZZZ", TODAY)
    assert second is not None
    assert first == second.bars


def test_another_seed_gives_another_path() -> None:
    listed = ListedSymbol("ZZZ", "Zed Corp")
    assert (
        symbol_history(listed, TODAY, 1).bars != symbol_history(listed, TODAY, 2).bars
    )


def test_moving_today_only_appends_sessions() -> None:
    listed = BY_SYMBOL["AAPL"]
    earlier = symbol_history(listed, date(2020, 3, 13))
    later = symbol_history(listed, TODAY)
    assert later.bars[: len(earlier)] == earlier.bars
    assert later.dates[len(earlier)] > date(2020, 3, 13)
    assert earlier.dates[-1] == date(2020, 3, 13)


@pytest.mark.parametrize("listed", UNIVERSE, ids=lambda listed: listed.symbol)
def test_bars_are_coherent_nyse_sessions_in_a_sane_price_range(
    listed: ListedSymbol,
) -> None:
    history = symbol_history(listed, TODAY)
    assert len(history) > 100
    assert all(is_session(bar.trade_date) for bar in history.bars[::97])
    for bar in history.bars:
        assert 0 < bar.low <= min(bar.open, bar.close)
        assert max(bar.open, bar.close) <= bar.high
        assert bar.volume > 0
        assert bar.close.as_tuple().exponent == -4
    closes = [bar.close for bar in history.bars]
    assert Decimal("0.5") < min(closes)
    assert max(closes) < Decimal(2000)


@pytest.mark.parametrize("listed", UNIVERSE, ids=lambda listed: listed.symbol)
def test_sessions_start_at_the_ipo_and_stop_at_the_delisting(
    listed: ListedSymbol,
) -> None:
    history = symbol_history(listed, TODAY)
    sessions = all_sessions()
    first = next(day for day in sessions if day >= listed.ipo_date)
    assert history.dates[0] == first
    if listed.delisting_date is None:
        assert history.dates[-1] == max(day for day in sessions if day <= TODAY)
    else:
        assert history.dates[-1] == max(
            day for day in sessions if day <= listed.delisting_date
        )


@pytest.mark.parametrize("symbol", ["IBM", "AAPL", "MSFT", "KO", "C", "HD"])
def test_adjusted_closes_follow_the_backward_adjustment_definition(
    symbol: str,
) -> None:
    history = symbol_history(BY_SYMBOL[symbol], TODAY)
    expected = _adjusted_closes_by_definition(
        [bar.close for bar in history.bars],
        list(history.dates),
        {event.effective_date: event.ratio for event in history.splits},
        {event.ex_date: event.amount for event in history.dividends},
    )
    for got, want in zip(history.adjusted_closes, expected, strict=True):
        assert float(got) == pytest.approx(want, rel=1e-9)
    assert history.adjusted_closes[-1] == history.bars[-1].close


def test_events_after_today_do_not_adjust_earlier_prices() -> None:
    listed = BY_SYMBOL["IBM"]  # 1.046 split on 2021-11-04
    before = symbol_history(listed, date(2021, 11, 3))
    assert before.splits == ()
    assert before.adjusted_closes[-1] == before.bars[-1].close
    after = symbol_history(listed, date(2021, 11, 4))
    assert [event.ratio for event in after.splits] == [Decimal("1.046")]


def test_the_default_universe_has_every_kind_of_corporate_action() -> None:
    ratios: set[Decimal] = set()
    payers = 0
    for listed in UNIVERSE:
        history = symbol_history(listed, TODAY)
        ratios |= {event.ratio for event in history.splits}
        payers += bool(history.dividends)
    assert {Decimal(2), Decimal(3), Decimal("0.1"), Decimal("1.046")} <= ratios
    assert payers >= 10
    assert sum(listed.delisting_date is not None for listed in UNIVERSE) >= 3
    assert UNIVERSE[0].symbol == "IBM"


def test_a_split_makes_the_as_traded_price_jump_by_its_ratio() -> None:
    for listed in UNIVERSE:
        history = symbol_history(listed, TODAY)
        index = {day: i for i, day in enumerate(history.dates)}
        for event in history.splits:
            i = index[event.effective_date]
            previous = float(history.bars[i - 1].close)
            opened = float(history.bars[i].open)
            # the open is the previous close over the ratio, give or take a gap
            assert opened * float(event.ratio) / previous == pytest.approx(1, abs=0.15)


def test_a_dividend_lowers_the_reference_price_by_its_amount() -> None:
    history = symbol_history(BY_SYMBOL["KO"], TODAY)
    index = {day: i for i, day in enumerate(history.dates)}
    drops = []
    for event in history.dividends:
        i = index[event.ex_date]
        previous = history.bars[i - 1].close
        drops.append(float(history.bars[i].open) / float(previous - event.amount) - 1.0)
    # opens scatter around the previous close less the dividend
    assert abs(sum(drops) / len(drops)) < 0.01


def test_dividends_are_quarterly_with_dates_like_the_real_service() -> None:
    history = symbol_history(BY_SYMBOL["KO"], TODAY)
    recent = [event for event in history.dividends if event.ex_date.year == 2025]
    assert len(recent) == 4
    for event in recent:
        assert event.declaration_date is not None
        assert event.declaration_date < event.ex_date
        assert event.record_date is not None
        assert event.payment_date is not None
        assert event.payment_date > event.ex_date
        assert event.amount > 0
    old = [event for event in history.dividends if event.ex_date.year == 2001]
    assert old
    assert all(event.payment_date is None for event in old)


def test_explicit_events_replace_the_generated_ones() -> None:
    listed = ListedSymbol(
        "EXPL",
        "Explicit Inc",
        profile="growth",
        splits=((date(2010, 6, 1), Decimal(4)),),
        dividends=((date(2015, 3, 2), Decimal("0.25")),),
    )
    history = symbol_history(listed, TODAY)
    assert [(e.effective_date, e.ratio) for e in history.splits] == [
        (date(2010, 6, 1), Decimal(4))
    ]
    assert [(e.ex_date, e.amount) for e in history.dividends] == [
        (date(2015, 3, 2), Decimal("0.25"))
    ]


def test_an_explicit_event_off_the_calendar_is_refused_with_its_date() -> None:
    listed = ListedSymbol("BAD", "Bad Inc", splits=((date(2010, 6, 5), Decimal(2)),))
    with pytest.raises(ValueError, match=r"BAD: split date 2010-06-05 is not an NYSE"):
        symbol_history(listed, TODAY)


def test_the_market_hides_symbols_before_their_ipo_and_unknown_ones() -> None:
    market = Market(UNIVERSE)
    assert market.history("META", date(2012, 5, 17)) is None
    assert market.history("META", date(2012, 5, 18)) is not None
    assert market.history("NOPE", TODAY) is None
    assert market.history("ibm", TODAY) is not None


def test_a_synthetic_universe_has_a_mix_of_profiles() -> None:
    universe = synthetic_universe(24)
    assert [listed.symbol for listed in universe[:2]] == ["SYN000", "SYN001"]
    assert len({listed.symbol for listed in universe}) == 24
    histories = [symbol_history(listed, TODAY) for listed in universe]
    assert sum(bool(history.splits) for history in histories) >= 3
    assert sum(bool(history.dividends) for history in histories) >= 3
    with pytest.raises(ValueError, match="count must be 0 or more"):
        synthetic_universe(-1)
