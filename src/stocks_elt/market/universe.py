"""
Universes chosen from the listing instead of typed out: ``STOCKS_ELT_UNIVERSE``.

    listing:exchange=NYSE,NASDAQ;type=Stock;limit=500;exclude=BRK.A

selects, from Alpha Vantage's LISTING_STATUS, the symbols on those exchanges, of
that asset type, the first ``limit`` of them by symbol, less the excluded ones.
Every key is optional (``listing:`` alone is every listed symbol). Keys:

==========  ====================================================================
exchange    comma list of ``NYSE``, ``NASDAQ``, ``NYSE ARCA``, ``NYSE MKT``,
            ``BATS`` (the exchanges LISTING_STATUS names)
type        ``Stock`` or ``ETF``
limit       the first N symbols, in symbol order (a positive integer)
exclude     comma list of symbols to leave out
status      ``active`` (the default: listed today), ``delisted`` (no longer
            listed) or ``all``: a universe free of survivorship bias
            (``status=all``) holds the symbols that stopped trading too; their
            histories are fetched once, then no longer asked for
==========  ====================================================================

The listing also names about 360 symbols the symbol rule refuses (venue-suffixed
ones such as ``ACWV:BAT``, odd ones such as ``-P-HIZ``); the API's time-series
endpoints are not documented to accept them, so a universe leaves them out and
says how many it left out. This module only parses and applies a spec; reading
the listing is the extract stage's (``stocks_elt.stages.universe``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from stocks_elt.errors import ConfigError, InvalidSymbol
from stocks_elt.market.symbols import parse_symbols

PREFIX = "listing:"
#: The exchanges LISTING_STATUS names.
EXCHANGES = ("NYSE", "NASDAQ", "NYSE ARCA", "NYSE MKT", "BATS")
#: The asset types LISTING_STATUS names.
ASSET_TYPES = ("Stock", "ETF")
EXAMPLE = "listing:exchange=NYSE,NASDAQ;type=Stock;limit=500;exclude=BRK.A"
#: The two lists LISTING_STATUS answers (its ``state``): symbols listed today,
#: and symbols no longer listed.
ListingState = Literal["active", "delisted"]
#: Which of them a universe reads.
STATUSES = ("active", "delisted", "all")
_KEYS = ("exchange", "type", "limit", "exclude", "status")


@dataclass(frozen=True)
class UniverseSpec:
    """A parsed ``listing:`` universe.

    Attributes:
        exchanges: the exchanges to keep; empty keeps every one.
        asset_type: ``Stock`` or ``ETF``; None keeps both.
        limit: keep the first N symbols by symbol; None keeps all.
        exclude: symbols to leave out.
        status: ``active``, ``delisted`` or ``all`` (both lists).
        text: the spec as written, in canonical form (recorded with each run).
    """

    exchanges: tuple[str, ...] = ()
    asset_type: str | None = None
    limit: int | None = None
    exclude: tuple[str, ...] = ()
    status: str = "active"
    text: str = field(default="listing:", compare=False)

    @property
    def lists(self) -> tuple[ListingState, ...]:
        """The LISTING_STATUS lists (``state``) this universe reads."""
        if self.status == "all":
            return ("active", "delisted")
        return ("delisted",) if self.status == "delisted" else ("active",)


@dataclass(frozen=True)
class ListedEntry:
    """What a universe needs of one LISTING_STATUS row."""

    symbol: str
    exchange: str | None
    asset_type: str | None


class UniverseError(ConfigError, ValueError):
    """A universe spec that does not parse, or selects nothing (exit code 2)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_universe(text: str, *, variable: str = "STOCKS_ELT_UNIVERSE") -> UniverseSpec:
    """Parse a ``listing:`` spec.

    Args:
        text: the spec as the user wrote it.
        variable: the setting or option it came from, named in errors.

    Raises:
        UniverseError: the spec does not parse; the message names ``variable``,
            what is wrong and gives an example.
    """
    stripped = text.strip()

    def refuse(reason: str) -> UniverseError:
        return UniverseError(
            f"bad universe: {variable}={text!r}: {reason}; for example "
            f"{variable}={EXAMPLE}",
            reason,
        )

    if not stripped.startswith(PREFIX):
        raise refuse(f"a universe starts with {PREFIX!r}")
    values: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in stripped[len(PREFIX) :].split(";"))):
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep or name not in _KEYS:
            raise refuse(f"{part!r} is not one of {', '.join(k + '=' for k in _KEYS)}")
        if name in values:
            raise refuse(f"{name}= is given twice")
        values[name] = value.strip()
    exchanges = tuple(
        dict.fromkeys(e.strip().upper() for e in values.get("exchange", "").split(","))
    )
    exchanges = tuple(e for e in exchanges if e)
    unknown = [e for e in exchanges if e not in EXCHANGES]
    if unknown:
        raise refuse(
            f"unknown exchange {', '.join(unknown)} (known: {', '.join(EXCHANGES)})"
        )
    asset_type = None
    if values.get("type"):
        asset_type = next(
            (t for t in ASSET_TYPES if t.lower() == values["type"].lower()), None
        )
        if asset_type is None:
            raise refuse(f"type must be {' or '.join(ASSET_TYPES)}")
    limit = None
    if values.get("limit"):
        if not values["limit"].isdigit() or int(values["limit"]) < 1:
            raise refuse("limit must be a whole number of at least 1")
        limit = int(values["limit"])
    try:
        exclude = parse_symbols(values["exclude"]) if values.get("exclude") else ()
    except InvalidSymbol as exc:
        raise refuse(f"exclude: {exc}") from None
    status = values.get("status", "active").lower() or "active"
    if status not in STATUSES:
        raise refuse(f"status must be {', '.join(STATUSES)}")
    spec = UniverseSpec(exchanges, asset_type, limit, exclude, status)
    return replace(spec, text=_canonical(spec))


def _canonical(spec: UniverseSpec) -> str:
    parts = []
    if spec.exchanges:
        parts.append("exchange=" + ",".join(spec.exchanges))
    if spec.asset_type:
        parts.append(f"type={spec.asset_type}")
    if spec.limit is not None:
        parts.append(f"limit={spec.limit}")
    if spec.exclude:
        parts.append("exclude=" + ",".join(spec.exclude))
    if spec.status != "active":
        parts.append(f"status={spec.status}")
    return PREFIX + ";".join(parts)


def select_universe(
    spec: UniverseSpec,
    listed: Iterable[ListedEntry],
    *,
    variable: str = "STOCKS_ELT_UNIVERSE",
) -> list[str]:
    """Return the symbols of ``listed`` that ``spec`` selects, in symbol order.

    Raises:
        UniverseError: nothing matches (the message says what the listing holds).
    """
    entries = list(listed)
    chosen = sorted(
        {
            entry.symbol
            for entry in entries
            if (not spec.exchanges or (entry.exchange or "").upper() in spec.exchanges)
            and (spec.asset_type is None or entry.asset_type == spec.asset_type)
            and entry.symbol not in spec.exclude
        }
    )
    if spec.limit is not None:
        chosen = chosen[: spec.limit]
    if not chosen:
        exchanges = sorted({e.exchange or "-" for e in entries})
        reason = (
            f"selects no symbol from a listing of {len(entries)} symbols "
            f"(exchanges there: {', '.join(exchanges[:8]) or 'none'})"
        )
        raise UniverseError(
            f"bad universe: {variable}={spec.text!r}: {reason}; for "
            f"example {variable}={EXAMPLE}",
            reason,
        )
    return chosen
