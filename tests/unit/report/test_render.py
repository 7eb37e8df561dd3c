"""render_report and its helpers, on hand-made data (no database, no browser)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from stocks_elt.report.data import (
    DailyRow,
    QuarantineCount,
    ReportData,
    SymbolProfile,
    SymbolSection,
)
from stocks_elt.report.render import (
    CHART_COLUMNS,
    _inline_script,
    chart_payload,
    render_report,
    script_json,
)
from stocks_elt.warehouse.audit.extract import ExtractOutcome
from stocks_elt.warehouse.audit.quality import QualityRun, RecordedCheck

NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
HOSTILE = "</script><script>alert(1)</script><!-- & 'quoted' \"double\""


def _row(day: date, close: str, **values: str | None) -> DailyRow:
    fields: dict[str, object] = dict.fromkeys(DailyRow.__dataclass_fields__)
    price = Decimal(close)
    fields.update(
        trade_date=day,
        open=price - 1,
        high=price + 2,
        low=price - 2,
        close=price,
        volume=1_000_000,
    )
    fields.update({k: None if v is None else Decimal(v) for k, v in values.items()})
    return DailyRow(**fields)  # type: ignore[arg-type]


def _section(
    symbol: str,
    rows: tuple[DailyRow, ...],
    name: str = "Example Corp",
    extract: ExtractOutcome | None = None,
) -> SymbolSection:
    profile = SymbolProfile(
        name=name,
        exchange="NYSE",
        asset_type="Stock",
        currency="USD",
        sector="Technology",
        industry="Software",
        status="Active",
        first_trade_date=rows[0].trade_date if rows else None,
        last_trade_date=rows[-1].trade_date if rows else None,
        session_count=len(rows),
    )
    return SymbolSection(symbol, profile, rows, extract, quarantined_rows=0)


def _data(
    *sections: SymbolSection,
    run: QualityRun | None = None,
    quarantine: tuple[QuarantineCount, ...] = (),
    problems: tuple[ExtractOutcome, ...] = (),
) -> ReportData:
    return ReportData(
        generated_at=NOW,
        sessions=500,
        symbols=sections,
        quality_run=run,
        quarantine=quarantine,
        quarantine_total=sum(q.rows for q in quarantine),
        extract_problems=problems,
    )


def _days(count: int) -> list[date]:
    return [date(2025, 1, 1) + timedelta(days=i) for i in range(count)]


def _json_element(page: str) -> str:
    match = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>',
        page,
        re.DOTALL,
    )
    assert match is not None
    return match.group(1)


def _scripts(page: str) -> list[str]:
    return re.findall(r"<script>(.*?)</script>", page, re.DOTALL)


def test_script_json_cannot_close_the_script_element() -> None:
    text = script_json({"name": HOSTILE, "line": "a\u2028b"})

    assert "<" not in text
    assert ">" not in text
    assert "&" not in text
    assert "\u2028" not in text
    assert json.loads(text) == {"name": HOSTILE, "line": "a\u2028b"}


def test_script_json_refuses_nan_rather_than_writing_invalid_json() -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        script_json({"value": float("nan")})


def test_hostile_name_and_texts_are_escaped_everywhere() -> None:
    outcome = ExtractOutcome("IBM", "fetched", HOSTILE, False, NOW)
    finding = RecordedCheck(
        "stale<b>", "warning", "IBM", "warn", Decimal(3), Decimal(1), HOSTILE, NOW
    )
    data = _data(
        _section("IBM", (_row(date(2025, 1, 2), "10"),), name=HOSTILE, extract=outcome),
        run=QualityRun("run-1", NOW, (finding,)),
        quarantine=(QuarantineCount("IBM", HOSTILE, 2, NOW),),
        problems=(ExtractOutcome("TSLA", "failed", HOSTILE, False, NOW),),
    )

    page = render_report(data)

    assert HOSTILE not in page
    assert "stale<b>" not in page
    assert page.count("&lt;/script&gt;&lt;script&gt;alert(1)") == 5
    assert page.count("<script") == 3
    assert page.count("</script>") == 3
    assert "<!--" not in page


def test_chart_data_survives_the_page_exactly() -> None:
    rows = (
        _row(date(2025, 1, 2), "10.1234", sma_50="9.87654321", rsi_14="55.555"),
        _row(date(2025, 1, 3), "10.5", sma_50=None, rsi_14="60"),
    )
    data = _data(_section("BRK.B", rows, name=HOSTILE))

    payload = json.loads(_json_element(render_report(data)))

    assert payload == chart_payload(data)
    brk = payload["symbols"][0]
    assert brk["symbol"] == "BRK.B"
    assert brk["time"] == ["2025-01-02", "2025-01-03"]
    assert brk["close"] == [10.1234, 10.5]
    assert brk["sma_50"] == [9.8765, None]
    assert brk["rsi_14"] == [55.56, 60.0]
    assert brk["volume"] == [1_000_000, 1_000_000]
    assert set(brk) == {"symbol", "time", *CHART_COLUMNS}


def test_too_little_history_for_sma_200_leaves_nulls_and_a_dash() -> None:
    rows = tuple(
        _row(day, "20", sma_50="19" if i >= 49 else None, sma_200=None)
        for i, day in enumerate(_days(60))
    )
    data = _data(_section("NEWCO", rows))

    payload = chart_payload(data)["symbols"][0]
    page = render_report(data)

    assert payload["sma_200"] == [None] * 60
    assert payload["sma_50"] == [None] * 49 + [19.0] * 11
    latest = re.search(r"<th>SMA 200</th><td>(.*?)</td>", page)
    assert latest is not None
    assert latest.group(1) == '<span class="na">–</span>'


def test_non_finite_numbers_become_gaps() -> None:
    rows = (_row(date(2025, 1, 2), "10", macd="NaN", sma_20="Infinity"),)

    payload = chart_payload(_data(_section("IBM", rows)))["symbols"][0]

    assert payload["macd"] == [None]
    assert "sma_20" not in payload  # not charted at all
    assert script_json(payload)  # and the JSON is valid


def test_symbol_without_sessions_gets_no_chart_but_a_reason() -> None:
    deferred = ExtractOutcome("NODATA", "deferred", "daily quota spent", False, NOW)
    data = _data(
        _section("IBM", (_row(date(2025, 1, 2), "10"),)),
        _section("NODATA", (), extract=deferred),
    )

    page = render_report(data)

    assert page.count('data-chart-index="') == 1
    assert 'data-chart-index="0"' in page
    assert (
        "No sessions for NODATA in the marts yet. Last extract: deferred "
        "(daily quota spent), 2025-07-01 12:00 UTC." in page
    )
    assert chart_payload(data)["symbols"][1]["time"] == []


def test_latest_values_are_formatted_with_their_meaning() -> None:
    row = _row(
        date(2025, 6, 30),
        "110",
        daily_return="0.0125",
        drawdown="-0.05",
        sma_200="100",
        rsi_14="72.34",
        volatility_20="0.0139",
    )

    page = render_report(_data(_section("IBM", (row,))))

    assert '<span class="change up">+1.25%</span>' in page
    assert "<th>Drawdown from peak</th><td>-5.00%</td>" in page
    # (110 - 100) / 100 = 10 % above the 200-session average.
    assert '<td>100.00<span class="hint">close 10.00% above</span></td>' in page
    assert '<td>72.3<span class="hint">overbought (≥ 70)</span></td>' in page
    assert "<th>Volatility 20</th><td>1.39%</td>" in page


def test_quality_section_summarises_the_latest_run() -> None:
    results = (
        RecordedCheck("ohlc", "blocking", "IBM", "pass", None, None, None, NOW),
        RecordedCheck(
            "ohlc", "blocking", "MSFT", "fail", Decimal(1), Decimal(0), "x", NOW
        ),
        RecordedCheck(
            "stale", "warning", "MSFT", "warn", Decimal(3), Decimal(1), None, NOW
        ),
        RecordedCheck(
            "dupes", "blocking", None, "pass", Decimal(0), Decimal(0), None, NOW
        ),
    )
    page = render_report(_data(run=QualityRun("abcdef12-3456", NOW, results)))

    assert "Latest gate run: run abcdef12, 2025-07-01 12:00 UTC" in page
    assert "2 passed, 1 warning, 1 failure" in page
    assert "2 symbols: 1 pass, 0 warn, 1 fail" in page
    assert "observed 0, threshold 0" in page
    assert '<span class="badge fail">1 failure</span>' in page


def test_page_loads_nothing_from_elsewhere() -> None:
    page = render_report(_data(_section("IBM", (_row(date(2025, 1, 2), "10"),))))

    assert re.search(r"<(script|link|img|iframe)[^>]*\ssrc=", page) is None
    assert "<link" not in page
    assert "@import" not in page
    assert re.search(r"url\(\s*['\"]?(https?:)?//", page) is None
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None
    assert "default-src 'none'" in csp.group(1)


def test_policy_allows_exactly_the_inline_scripts_of_the_page() -> None:
    page = render_report(_data(_section("IBM", (_row(date(2025, 1, 2), "10"),))))

    csp = re.search(r"script-src ([^;\"]+)", page)
    assert csp is not None
    allowed = set(csp.group(1).split())
    hashes = {
        "'sha256-"
        + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        + "'"
        for script in _scripts(page)
    }
    assert len(hashes) == 2
    assert allowed == hashes


@pytest.mark.parametrize("marker", ["</script>", "</SCRIPT >", "<!--", "<script"])
def test_a_script_that_could_break_out_is_not_inlined(marker: str) -> None:
    with pytest.raises(ValueError, match="cannot be inlined"):
        _inline_script(f"var s = '{marker}';", "evil.js")


def test_values_that_round_to_zero_carry_no_minus_sign() -> None:
    row = _row(
        date(2025, 6, 30),
        "10",
        macd="-0.0004",
        macd_signal="-0.0006",
        daily_return="-0.00001",
    )

    page = render_report(_data(_section("IBM", (row,))))

    assert "<th>MACD</th><td>0.000</td>" in page
    assert "<th>MACD signal</th><td>-0.001</td>" in page
    assert "<th>Daily return</th><td>+0.00%</td>" in page
