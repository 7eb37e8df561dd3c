"""The API key never leaves the request: not in logs, errors, the lake or the warehouse.

The run uses a distinctive key and hits every path that could leak it: dropped and
truncated connections (httpx exceptions), HTTP 503 pages, burst notices, and the
daily-cap notice that echoes the key back.
"""

from __future__ import annotations

import json
import logging

import pytest

from stocks_elt.alpha_vantage.client import AlphaVantageClient
from stocks_elt.errors import ExtractError
from stocks_elt.stages.extract import extract
from tests.fixtures.emulator import EMULATOR_TODAY, EmulatorFactory
from tests.integration.extract.conftest import (
    SettingsFactory,
    lake_objects,
    table_rows,
)

KEY = "XYZZY7SECRET4242PLUGH"
SCANNED_TABLES = (
    "audit.api_calls",
    "audit.extract_outcomes",
    "raw.daily_prices",
    "raw.symbols",
)


def _every_log_line(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    lines = []
    for record in caplog.records:
        lines.append(formatter.format(record))  # message, args and traceback
        lines.append(repr(record.args))
    return lines


def test_the_key_appears_in_no_log_error_object_metadata_or_table(
    emulator_factory: EmulatorFactory,
    make_settings: SettingsFactory,
    warehouse: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    for library in ("httpx", "httpcore"):  # the CLI turns these down in-process
        caplog.set_level(logging.DEBUG, logger=library)
    for name in ("httpx", "httpcore", "stocks_elt"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    emulator = emulator_factory(per_second_limit=2, daily_limit=14)
    emulator.set_faults(
        "drop:first=1@IBM,truncate:first=1@MSFT,503:first=1@AAPL,"
        "malformed:first=1@DIVIDENDS"
    )
    settings = make_settings(
        emulator, KEY, alpha_vantage_calls_per_second=4, alpha_vantage_max_retries=6
    )

    result = extract(
        settings, ["IBM", "MSFT", "AAPL", "KO", "XOM"], as_of=EMULATOR_TODAY
    )

    seen = {c.outcome for c in emulator.calls(KEY)}
    # The run went through the paths that could leak the key.
    assert {"fault:drop", "fault:truncate", "fault:503", "burst", "daily_cap"} <= seen
    assert "deferred" in {o.outcome for o in result.outcomes}
    texts = _every_log_line(caplog)
    texts.append(json.dumps(result.as_dict()))
    texts.append(repr(result))
    texts.extend(capsys.readouterr())
    for table in SCANNED_TABLES:
        texts.append(repr(table_rows(warehouse, table)))
    objects = lake_objects(settings)
    assert objects
    for key, (body, metadata) in objects.items():
        texts.extend([key, json.dumps(metadata)])
        assert KEY.encode() not in body, key
    leaks = [text for text in texts if KEY in text]
    assert leaks == []
    # The daily-cap notice quoted the key; the recorded reason shows it redacted.
    reasons = " ".join(o.reason or "" for o in result.outcomes)
    assert "detected your API key as ***" in reasons


def test_exceptions_from_a_refused_connection_do_not_carry_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for library in ("httpx", "httpcore"):  # the CLI turns these down in-process
        caplog.set_level(logging.DEBUG, logger=library)
    # Nothing listens on port 9 of loopback: every call is refused.
    client = AlphaVantageClient(
        KEY, base_url="http://127.0.0.1:9", max_retries=1, sleep=lambda _: None
    )
    with client, pytest.raises(ExtractError) as caught:
        client.daily("IBM")

    error = caught.value
    assert "ConnectError" in str(error)
    chain = [error, error.__cause__, error.__context__]
    assert all(KEY not in repr(item) for item in chain)
    assert all(KEY not in line for line in _every_log_line(caplog))
