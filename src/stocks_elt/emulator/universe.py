"""
The emulator's universe: which symbols exist, when they listed and delisted.

The universe backs LISTING_STATUS, OVERVIEW, SYMBOL_SEARCH and every time series: a
symbol outside it, or asked for before its IPO, answers like an unknown symbol on the
real service. Names are real companies' so that searches and listings look familiar;
every price is synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

#: Price-path profiles the generator knows (see ``stocks_elt.emulator.market``).
PROFILES = ("growth", "income", "decline", "flat")


@dataclass(frozen=True)
class ListedSymbol:
    """One listed security of the emulated market.

    Attributes:
        symbol: the ticker, as the API spells it (``IBM``, ``BRK.B``).
        name: the company or fund name (may be empty, as on the real service).
        exchange: listing exchange shown by LISTING_STATUS and OVERVIEW.
        asset_type: ``Stock`` or ``ETF``.
        ipo_date: no session before this day exists.
        delisting_date: the last day the symbol trades (inclusive); None if listed.
        splits: explicit ``(effective_date, ratio)`` events; when not None they
            replace the generated ones (a reverse 1:10 split has ratio 0.1).
        dividends: explicit ``(ex_date, amount)`` events; when not None they
            replace the generated ones.
        profile: the price-path profile (one of :data:`PROFILES`); None lets the
            symbol's seed choose.
    """

    symbol: str
    name: str
    exchange: str = "NYSE"
    asset_type: str = "Stock"
    ipo_date: date = date(1999, 11, 1)
    delisting_date: date | None = None
    splits: tuple[tuple[date, Decimal], ...] | None = None
    dividends: tuple[tuple[date, Decimal], ...] | None = None
    profile: str | None = None

    def __post_init__(self) -> None:
        if self.profile is not None and self.profile not in PROFILES:
            raise ValueError(
                f"{self.symbol}: profile {self.profile!r} is not one of {PROFILES}"
            )
        if self.delisting_date is not None and self.delisting_date < self.ipo_date:
            raise ValueError(
                f"{self.symbol}: delisting date {self.delisting_date} is before the "
                f"IPO date {self.ipo_date}"
            )
        for label, events in (("split", self.splits), ("dividend", self.dividends)):
            for day, value in events or ():
                if value <= 0:
                    raise ValueError(
                        f"{self.symbol}: {label} on {day} has a non-positive value "
                        f"{value}"
                    )

    def is_listed_on(self, day: date) -> bool:
        """Tell whether the symbol is listed (IPO done, not yet delisted) on ``day``."""
        return self.ipo_date <= day and (
            self.delisting_date is None or day <= self.delisting_date
        )


def _symbol(
    symbol: str,
    name: str,
    exchange: str = "NYSE",
    *,
    asset_type: str = "Stock",
    ipo: str = "1999-11-01",
    delisted: str | None = None,
    profile: str | None = None,
    splits: tuple[tuple[str, str], ...] | None = None,
) -> ListedSymbol:
    return ListedSymbol(
        symbol=symbol,
        name=name,
        exchange=exchange,
        asset_type=asset_type,
        ipo_date=date.fromisoformat(ipo),
        delisting_date=date.fromisoformat(delisted) if delisted else None,
        splits=(
            tuple((date.fromisoformat(day), Decimal(ratio)) for day, ratio in splits)
            if splits is not None
            else None
        ),
        profile=profile,
    )


_DEFAULT_UNIVERSE: tuple[ListedSymbol, ...] = (
    # IBM's odd 1.046 split (the Kyndryl spin-off) sits on its real date.
    _symbol(
        "IBM",
        "International Business Machines Corp",
        profile="income",
        splits=(("2021-11-04", "1.046"),),
    ),
    _symbol("AAPL", "Apple Inc", "NASDAQ", profile="growth"),
    _symbol("MSFT", "Microsoft Corporation", "NASDAQ", profile="growth"),
    _symbol("AMZN", "Amazon.com Inc", "NASDAQ", profile="growth"),
    _symbol("NVDA", "NVIDIA Corp", "NASDAQ", ipo="1999-01-22", profile="growth"),
    _symbol("GOOGL", "Alphabet Inc - Class A", "NASDAQ", ipo="2004-08-19"),
    _symbol("META", "Meta Platforms Inc - Class A", "NASDAQ", ipo="2012-05-18"),
    _symbol("TSLA", "Tesla Inc", "NASDAQ", ipo="2010-06-29", profile="growth"),
    _symbol("NFLX", "Netflix Inc", "NASDAQ", ipo="2002-05-23", profile="growth"),
    _symbol("INTC", "Intel Corp", "NASDAQ", profile="income"),
    _symbol("CSCO", "Cisco Systems Inc", "NASDAQ"),
    _symbol("ORCL", "Oracle Corp", "NYSE"),
    _symbol("JPM", "JPMorgan Chase & Co", profile="income"),
    _symbol("BAC", "Bank of America Corp"),
    _symbol("C", "Citigroup Inc", profile="decline"),
    _symbol("XOM", "Exxon Mobil Corp", profile="income"),
    _symbol("CVX", "Chevron Corp", profile="income"),
    _symbol("KO", "Coca-Cola Co", profile="income"),
    _symbol("PEP", "PepsiCo Inc", "NASDAQ", profile="income"),
    _symbol("JNJ", "Johnson & Johnson", profile="income"),
    _symbol("PFE", "Pfizer Inc", profile="income"),
    _symbol("MRK", "Merck & Co Inc", profile="income"),
    _symbol("WMT", "Walmart Inc", profile="growth"),
    _symbol("HD", "Home Depot Inc", profile="growth"),
    _symbol("DIS", "Walt Disney Co"),
    _symbol("T", "AT&T Inc", profile="income"),
    _symbol("VZ", "Verizon Communications Inc", profile="income"),
    _symbol("GE", "GE Aerospace", profile="decline"),
    _symbol("F", "Ford Motor Co", profile="flat"),
    _symbol("GM", "General Motors Co", ipo="2010-11-18"),
    _symbol("BRK.B", "Berkshire Hathaway Inc - Class B", profile="flat"),
    _symbol("V", "Visa Inc - Class A", ipo="2008-03-19", profile="growth"),
    _symbol("MA", "Mastercard Inc - Class A", ipo="2006-05-25", profile="growth"),
    _symbol(
        "SPY",
        "SPDR S&P 500 ETF Trust",
        "NYSE ARCA",
        asset_type="ETF",
        profile="income",
    ),
    _symbol(
        "QQQ",
        "Invesco QQQ Trust Series 1",
        "NASDAQ",
        asset_type="ETF",
        profile="growth",
    ),
    _symbol("TSCDY", "Tesco PLC - ADR", "NASDAQ", ipo="2009-06-01"),
    # Delisted: their histories stop on the delisting date.
    _symbol(
        "LEHMQ",
        "Lehman Brothers Holdings Inc",
        ipo="1999-11-01",
        delisted="2008-09-17",
        profile="decline",
    ),
    _symbol("TWTR", "Twitter Inc", ipo="2013-11-07", delisted="2022-10-27"),
    _symbol("XLNX", "Xilinx Inc", "NASDAQ", delisted="2022-02-14", profile="growth"),
    _symbol("ATVI", "Activision Blizzard Inc", "NASDAQ", delisted="2023-10-12"),
    _symbol(
        "BBBY",
        "Bed Bath & Beyond Inc",
        "NASDAQ",
        delisted="2023-05-02",
        profile="decline",
    ),
)


def default_universe() -> tuple[ListedSymbol, ...]:
    """Return the default universe: 41 symbols including IBM, five of them delisted.

    Returns:
        The listed symbols, IBM first.
    """
    return _DEFAULT_UNIVERSE


def universe_for_symbols(
    symbols: tuple[str, ...] | list[str],
    base: tuple[ListedSymbol, ...] | None = None,
) -> tuple[ListedSymbol, ...]:
    """Return a universe of exactly ``symbols``, reusing the entries of ``base``.

    A symbol that ``base`` (default: :func:`default_universe`) does not know becomes
    a plain NYSE stock listed since 1999-11-01 with a seed-chosen profile.

    Args:
        symbols: tickers in the wanted order.
        base: where known symbols take their listing data from.

    Returns:
        The universe, in the order given.
    """
    known = {listed.symbol: listed for listed in (base or default_universe())}
    return tuple(
        known.get(symbol) or ListedSymbol(symbol=symbol, name=f"{symbol} Holdings Inc")
        for symbol in symbols
    )


def synthetic_universe(count: int, prefix: str = "SYN") -> tuple[ListedSymbol, ...]:
    """Return ``count`` made-up NYSE stocks (``SYN000``, ``SYN001``...) for benchmarks.

    Each is listed since 1999-11-01 with a seed-chosen profile, so a few hundred of
    them give a realistic mix of splits, dividends and price levels.

    Args:
        count: how many symbols.
        prefix: the letters before the number.

    Returns:
        The universe, in symbol order.

    Raises:
        ValueError: ``count`` is negative.
    """
    if count < 0:
        raise ValueError(f"count must be 0 or more, got {count}")
    width = max(3, len(str(count - 1)))
    return tuple(
        ListedSymbol(symbol=f"{prefix}{n:0{width}d}", name=f"Synthetic {n} Corp")
        for n in range(count)
    )
