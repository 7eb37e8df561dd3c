"""
Which symbols a run extracts: explicit tickers, or a universe chosen from the
listing (``STOCKS_ELT_UNIVERSE``, ``stocks_elt.market.universe``).

A ``listing:`` universe reads the newest LISTING_STATUS answer of each list it
names (``status=active``, ``delisted`` or ``all``) in the lake; when the lake
holds none, it fetches one first (one API call, within the key's shared limits,
stored and announced like any answer, so the next load puts it in
``raw.symbols``). Rows whose symbol the symbol rule refuses are left out and
counted.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from stocks_elt.alpha_vantage.parse import LISTING_STATUS, parse_listing_status
from stocks_elt.config import Settings
from stocks_elt.errors import LakeError
from stocks_elt.lake import open_lake
from stocks_elt.lake.base import Lake
from stocks_elt.market.symbols import parse_symbols
from stocks_elt.market.universe import (
    ListedEntry,
    ListingState,
    parse_universe,
    select_universe,
)
from stocks_elt.stages.answers import api_session

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Universe:
    """The symbols a run extracts, and where they came from.

    Attributes:
        symbols: validated symbols, in order.
        source: ``tickers`` or the canonical ``listing:`` spec (recorded with the
            run).
        listing_key: the LISTING_STATUS object a listing universe was read from
            (the active list's, when it read both).
        left_out: listing rows the symbol rule refused (not in any universe).
    """

    symbols: tuple[str, ...]
    source: str
    listing_key: str | None = None
    left_out: int = 0


def choose_universe(
    settings: Settings,
    tickers: list[str] | tuple[str, ...] | None = None,
    universe: str | None = None,
) -> Universe:
    """Return the symbols to extract.

    In order: the ``tickers`` argument (``--symbols``, the DAG's ``tickers``
    param); the ``universe`` argument (``--universe``, the DAG's ``universe``
    param); ``STOCKS_ELT_TICKERS`` when it is set; ``STOCKS_ELT_UNIVERSE``; the
    default tickers. Explicit tickers win over a universe given the same way.

    Raises:
        InvalidSymbol: a ticker breaks the symbol rule.
        UniverseError: the universe does not parse or selects nothing.
        ExtractError: the listing had to be fetched and could not be.
        LakeError: the lake cannot be read.
    """
    if tickers is not None:
        return Universe(parse_symbols(tickers), "tickers")
    spec_text = universe
    if spec_text is None and not settings.has_explicit_tickers:
        spec_text = settings.universe
    if spec_text is None:
        return Universe(settings.tickers, "tickers")
    variable = "universe" if universe else "STOCKS_ELT_UNIVERSE"
    spec = parse_universe(spec_text, variable=variable)
    lake = open_lake(settings)
    entries: dict[str, ListedEntry] = {}
    keys: list[str] = []
    left_out = 0
    examples: list[str] = []
    for state in spec.lists:
        key = _newest_listing(settings, lake, state)
        keys.append(key)
        listing = parse_listing_status(lake.get(key), object_key=key)
        for row in listing.rows:
            if (row.status or "Active").lower() == state:
                # A ticker in both lists is one symbol (first its active listing).
                entries.setdefault(
                    row.symbol, ListedEntry(row.symbol, row.exchange, row.asset_type)
                )
        left_out += len(listing.rejected)
        examples += [str(r.row_key) for r in listing.rejected[:5]]
    symbols = select_universe(spec, entries.values(), variable=variable)
    logger.info(
        "universe spec=%s listings=%s listed=%d chosen=%d left_out=%d",
        spec.text,
        ",".join(keys),
        len(entries),
        len(symbols),
        left_out,
    )
    if left_out:
        logger.warning(
            "universe left out %d listing rows the symbol rule refuses "
            "(for example %s)",
            left_out,
            ", ".join(examples[:5]),
        )
    return Universe(tuple(symbols), spec.text, keys[0], left_out)


def _newest_listing(settings: Settings, lake: Lake, state: ListingState) -> str:
    """The newest LISTING_STATUS answer of the ``state`` list in the lake,
    fetched first when none is."""
    variant = {"state": state}
    with api_session(settings, lake, uuid.uuid4()) as (client, answers):
        found = answers.newest(LISTING_STATUS, None, variant)
        if found is not None:
            return found
        logger.info(
            "universe fetches LISTING_STATUS state=%s: the lake holds none", state
        )
        answer = client.listing_status(state=state)
        key = answers.store(answer)
        newest = key or answers.newest(LISTING_STATUS, None, variant)
    if newest is None:
        raise LakeError(
            f"the LISTING_STATUS {state} answer could not be stored in {lake.url}"
        )
    return newest
