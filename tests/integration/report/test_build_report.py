"""build_report against a real Postgres warehouse with synthetic marts."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import psycopg
import pytest

from stocks_elt.errors import InvalidSymbol, UnknownSymbol, WarehouseError
from stocks_elt.report import DEFAULT_SESSIONS, build_report, collect_report_data
from tests.integration.report.conftest import (
    HOSTILE_NAME,
    LATEST_RUN,
    ReportWarehouse,
)

GENERATED_AT = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)


def _chart_data(page: str) -> dict[str, object]:
    match = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>',
        page,
        re.DOTALL,
    )
    assert match is not None
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def test_report_charts_the_latest_sessions_of_each_symbol_oldest_first(
    report_warehouse: ReportWarehouse,
) -> None:
    page = build_report(report_warehouse.settings, ["IBM", "msft"], sessions=250)

    symbols = _chart_data(page)["symbols"]
    assert [s["symbol"] for s in symbols] == ["IBM", "MSFT"]  # type: ignore[index]
    with psycopg.connect(report_warehouse.url) as conn:
        expected = [
            row[0].isoformat()
            for row in conn.execute(
                "select trade_date from marts.fct_daily_bars where symbol = 'IBM' "
                "order by trade_date desc limit 250"
            ).fetchall()
        ][::-1]
    assert symbols[0]["time"] == expected  # type: ignore[index]
    assert page.count('data-chart-index="') == 2


def test_chart_values_are_the_mart_values_rounded_to_four_decimals(
    report_warehouse: ReportWarehouse,
) -> None:
    page = build_report(report_warehouse.settings, ["IBM"], sessions=5)

    ibm = _chart_data(page)["symbols"][0]  # type: ignore[index]
    with psycopg.connect(report_warehouse.url) as conn:
        row = conn.execute(
            """
            select b.adjusted_close_price, i.sma_200, i.rsi_14, b.adjusted_volume
            from marts.fct_daily_bars as b
            join marts.fct_daily_indicators as i using (symbol, trade_date)
            where symbol = 'IBM'
            order by trade_date desc
            limit 1
            """
        ).fetchone()
    assert row is not None
    close, sma_200, rsi_14, volume = row
    # The marts hold doubles; the page rounds their shortest text half up.
    assert isinstance(close, float)
    assert ibm["close"][-1] == _rounded(close, "0.0001")
    assert ibm["sma_200"][-1] == _rounded(sma_200, "0.0001")
    assert ibm["rsi_14"][-1] == _rounded(rsi_14, "0.01")
    assert ibm["volume"][-1] == int(Decimal(volume).to_integral_value())


def _rounded(value: float, step: str) -> float:
    return float(Decimal(repr(value)).quantize(Decimal(step), rounding=ROUND_HALF_UP))


def test_default_window_is_five_hundred_sessions(
    report_warehouse: ReportWarehouse,
) -> None:
    page = build_report(report_warehouse.settings, ["MSFT"])

    assert DEFAULT_SESSIONS == 500
    assert report_warehouse.sessions["MSFT"] > 500
    assert len(_chart_data(page)["symbols"][0]["time"]) == 500  # type: ignore[index]


def test_young_symbol_shows_gaps_where_sma_200_has_no_history(
    report_warehouse: ReportWarehouse,
) -> None:
    page = build_report(report_warehouse.settings, ["NEWCO"])

    newco = _chart_data(page)["symbols"][0]  # type: ignore[index]
    assert len(newco["time"]) == report_warehouse.sessions["NEWCO"] < 200
    assert set(newco["sma_200"]) == {None}
    # SMA 50 starts on the 50th session: 49 gaps, then values.
    assert newco["sma_50"][:49] == [None] * 49
    assert None not in newco["sma_50"][49:]


def test_hostile_name_is_escaped_in_the_page(
    report_warehouse: ReportWarehouse,
) -> None:
    page = build_report(report_warehouse.settings, ["NEWCO"])

    assert HOSTILE_NAME not in page
    assert "window.pwned" in page  # the text is there, escaped
    assert page.count("<script") == 3
    assert page.count("</script>") == 3


def test_symbol_without_sessions_gets_an_empty_section_with_its_extract_outcome(
    report_warehouse: ReportWarehouse,
) -> None:
    page = build_report(report_warehouse.settings, ["IBM", "NODATA", "TSLA"])

    assert page.count('data-chart-index="') == 1
    assert "No sessions for NODATA in the marts yet. Last extract: deferred" in page
    assert "No sessions for TSLA in the marts yet. Last extract: failed" in page
    data = _chart_data(page)
    assert [s["time"] for s in data["symbols"][1:]] == [[], []]  # type: ignore[index]


def test_quality_section_comes_from_the_latest_gate_run(
    report_warehouse: ReportWarehouse,
) -> None:
    with psycopg.connect(report_warehouse.url) as conn:
        data = collect_report_data(
            conn, ["IBM", "MSFT"], sessions=10, generated_at=GENERATED_AT
        )

    assert data.quality_run is not None
    assert data.quality_run.run_id == LATEST_RUN
    assert {(f.check_name, f.symbol, f.status) for f in data.findings} == {
        ("stale_prices", "MSFT", "warn"),
        ("volume_spike", "IBM", "warn"),
    }
    assert data.quarantine_total == 3
    assert [(q.symbol, q.reason, q.rows) for q in data.quarantine] == [
        ("MSFT", "high below low", 2),
        ("IBM", "negative volume", 1),
    ]
    assert [(o.symbol, o.outcome) for o in data.extract_problems] == [
        ("NODATA", "deferred"),
        ("TSLA", "failed"),
    ]
    assert [s.quarantined_rows for s in data.symbols] == [1, 2]


def test_quality_text_from_the_warehouse_is_escaped(
    report_warehouse: ReportWarehouse,
) -> None:
    page = build_report(report_warehouse.settings, ["IBM"])

    assert "ApiError: &lt;Invalid API call&gt;" in page
    assert "&lt;older than 1 session&gt;" in page
    assert "<Invalid API call>" not in page


def test_unknown_symbol_is_refused_with_the_known_ones_named(
    report_warehouse: ReportWarehouse,
) -> None:
    with pytest.raises(UnknownSymbol) as raised:
        build_report(report_warehouse.settings, ["IBM", "ZZZZ", "QQQ"])

    message = str(raised.value)
    assert message.startswith("ZZZZ, QQQ: not in the warehouse")
    assert "IBM, MSFT, NEWCO, NODATA" in message
    assert raised.value.exit_code == 2


def test_malformed_symbol_is_refused_before_the_warehouse_is_read(
    report_warehouse: ReportWarehouse,
) -> None:
    with pytest.raises(InvalidSymbol, match="IB M"):
        build_report(report_warehouse.settings, ["IB M"])


def test_warehouse_without_marts_asks_for_a_transform(warehouse: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from stocks_elt.config import load_settings

    settings = load_settings(warehouse_url=warehouse, data_dir=tmp_path)

    with pytest.raises(WarehouseError, match="stocks-elt transform"):
        build_report(settings, ["IBM"])
