"""
Where ``stocks-elt demo`` keeps its data, so that ``status --demo``, ``report
--demo`` and ``history --demo`` look at the same place the demo wrote.

The demo runs on embedded defaults under ``<data dir>/demo`` (its own lake
folder and embedded Postgres), with a premium key of the bundled emulator; these
settings name exactly that, whatever ``STOCKS_ELT_LAKE_URL`` or
``STOCKS_ELT_WAREHOUSE_URL`` say for real runs.
"""

from __future__ import annotations

from pydantic import SecretStr

from stocks_elt.config import Settings

DEMO_SYMBOLS = ("IBM", "AAPL", "MSFT", "NVDA", "JPM", "KO", "XOM", "TSLA", "WMT", "GE")
DEMO_KEY = "DEMO-PREMIUM-KEY"
#: The commands the demo prints at its end, to look at what it loaded.
LOOK_COMMANDS = (
    "stocks-elt status --demo",
    "stocks-elt history --demo",
    "stocks-elt report --demo --out demo-report.html",
)


def demo_settings(base: Settings) -> Settings:
    """Return ``base`` pointed at the demo's data: ``<data dir>/demo``, its own
    lake folder and embedded warehouse, the emulator's premium key (whose quota
    ledger ``status`` reads), and as the tickers the symbols the demo loaded
    (``demo --symbols`` may have chosen a few), or its default universe."""
    settings = base.model_copy(
        update={
            "data_dir": base.data_dir / "demo",
            "lake_url": None,
            "warehouse_url": None,
            "alpha_vantage_api_key": SecretStr(DEMO_KEY),
            "alpha_vantage_daily_quota": 0,
            "tickers": DEMO_SYMBOLS,
        }
    )
    loaded = _loaded_symbols(settings)
    return settings.model_copy(update={"tickers": loaded}) if loaded else settings


def _loaded_symbols(settings: Settings) -> tuple[str, ...]:
    """The symbols with prices in the demo's warehouse, in the demo's order; none
    when the demo never ran (no embedded warehouse is started to find out)."""
    from stocks_elt.status import last_loaded_sessions
    from stocks_elt.warehouse.connection import connect, has_warehouse
    from stocks_elt.warehouse.migrate import migrated_url

    if not has_warehouse(settings):
        return ()
    with connect(migrated_url(settings)) as conn:
        loaded = last_loaded_sessions(conn)
    order = {symbol: index for index, symbol in enumerate(DEMO_SYMBOLS)}
    return tuple(sorted(loaded, key=lambda s: (order.get(s, len(order)), s)))
