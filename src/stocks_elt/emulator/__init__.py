"""
An Alpha Vantage-compatible HTTP server with a deterministic synthetic market.

    from stocks_elt.emulator import EmulatorConfig, start_emulator

    with start_emulator(EmulatorConfig(today=date(2024, 6, 21))) as emulator:
        httpx.get(f"{emulator.base_url}/query", params={...})

Modules: ``calendar`` (NYSE sessions), ``universe`` (listed symbols), ``market``
(the generator, usable without the server), ``render`` (the exact response bytes),
``notices`` (the real service's texts), ``limits``, ``faults``, ``service`` (keys,
limits, faults, call log), ``server`` (HTTP), ``cli`` (``stocks-elt emulator``).
Importing this package is cheap: the calendar loads on first use.
"""

from __future__ import annotations

from stocks_elt.emulator.config import EmulatorConfig
from stocks_elt.emulator.faults import FaultSpecError
from stocks_elt.emulator.market import Bar, Market, SymbolHistory, symbol_history
from stocks_elt.emulator.render import Response, render_response
from stocks_elt.emulator.server import RunningEmulator, start_emulator
from stocks_elt.emulator.service import CallRecord
from stocks_elt.emulator.universe import (
    ListedSymbol,
    default_universe,
    synthetic_universe,
)

__all__ = [
    "Bar",
    "CallRecord",
    "EmulatorConfig",
    "FaultSpecError",
    "ListedSymbol",
    "Market",
    "Response",
    "RunningEmulator",
    "SymbolHistory",
    "default_universe",
    "render_response",
    "start_emulator",
    "symbol_history",
    "synthetic_universe",
]
