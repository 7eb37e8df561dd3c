"""Two extract processes on one key never exceed the API's limits together.

Each process paces its own calls, but only the shared ledger in the warehouse makes
them pace each other. The emulator enforces the same limits and logs every call it
received, so its log is the proof: no limit notice, no window over its limit.
About 65 s: the test needs calls past the first minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.fixtures.emulator import EMULATOR_TODAY, PREMIUM_KEY, EmulatorFactory
from tests.integration.extract.conftest import most_in_window

KEY = "SHARED-KEY-0123456789"
PER_SECOND = 2
PER_MINUTE = 4
PER_DAY = 6
SYMBOLS = ("IBM", "MSFT", "AAPL", "KO")


def _warm_up(base_url: str) -> None:
    """Render every answer once, so the call log's times are arrival times.

    The emulator stamps a call when it has rendered the answer, and the first
    rendering of a history takes a while; cached answers come back at once.
    """
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for symbol in SYMBOLS:
            for function in ("TIME_SERIES_DAILY", "SPLITS", "DIVIDENDS"):
                params = {"function": function, "symbol": symbol, "apikey": PREMIUM_KEY}
                if function == "TIME_SERIES_DAILY":
                    params["outputsize"] = "compact"
                client.get("/query", params=params).raise_for_status()


def test_two_processes_on_one_key_stay_within_every_limit(
    emulator_factory: EmulatorFactory, warehouse: str, tmp_path: Path
) -> None:
    emulator = emulator_factory(
        per_second_limit=PER_SECOND, per_minute_limit=PER_MINUTE, daily_limit=PER_DAY
    )
    _warm_up(emulator.base_url)
    emulator.clear_calls()
    environment = {
        **os.environ,
        "STOCKS_ELT_WAREHOUSE_URL": warehouse,
        "STOCKS_ELT_LAKE_URL": (tmp_path / "lake").as_uri(),
        "STOCKS_ELT_DATA_DIR": str(tmp_path),
        "STOCKS_ELT_ALPHA_VANTAGE_BASE_URL": emulator.base_url,
        "ALPHA_VANTAGE_API_KEY": KEY,
        "STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_SECOND": str(PER_SECOND),
        "STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_MINUTE": str(PER_MINUTE),
        "STOCKS_ELT_ALPHA_VANTAGE_DAILY_QUOTA": str(PER_DAY),
    }
    environment.pop("STOCKS_ELT_ALPHA_VANTAGE_API_KEY", None)
    command = [sys.executable, "-m", "stocks_elt.cli", "extract", "--json"]
    as_of = ["--as-of", EMULATOR_TODAY.isoformat()]
    processes = [
        subprocess.Popen(
            [*command, "--symbols", symbols, *as_of],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for symbols in (",".join(SYMBOLS[:2]), ",".join(SYMBOLS[2:]))
    ]
    finished = [process.communicate(timeout=240) for process in processes]

    for process, (_, stderr) in zip(processes, finished, strict=True):
        assert process.returncode == 0, stderr
    results = [json.loads(stdout) for stdout, _ in finished]
    outcomes = {o["symbol"]: o["outcome"] for r in results for o in r["outcomes"]}
    # 4 symbols x 3 calls need 12; the day has 6: someone was deferred.
    assert "deferred" in outcomes.values()
    assert sum(r["calls_made"] for r in results) == PER_DAY

    calls = emulator.calls(KEY)
    assert len(calls) == PER_DAY
    assert {c.outcome for c in calls} == {"data"}
    stamps = [c.at for c in calls]
    assert most_in_window(stamps, 1.0) <= PER_SECOND
    assert most_in_window(stamps, 60.0) <= PER_MINUTE
    # One day for both: each process called, or found the day already spent by
    # the other (which one gets the freed slots is a race, so either may).
    called = {c.symbol for c in calls}
    for result in results:
        mine = {o["symbol"]: o["outcome"] for o in result["outcomes"]}
        assert called & set(mine) or set(mine.values()) == {"deferred"}, mine
    # The 5th call had to wait for the first minute to pass.
    assert (sorted(stamps)[PER_MINUTE] - min(stamps)).total_seconds() >= 60.0
