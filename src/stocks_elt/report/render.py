"""
Render :class:`ReportData` as one self-contained HTML page.

The page inlines its styles, the vendored chart library and its own script, so it
opens from a file with no network; a Content-Security-Policy allows nothing else to
load. Text from the warehouse reaches the page two ways, both escaped: as HTML text
(``html.escape``) and as JSON inside a ``<script type="application/json">`` element
with ``<``, ``>`` and ``&`` written as ``\\u003c``, ``\\u003e`` and ``\\u0026``, so
no string can close the element.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from string import Template
from typing import Any

from stocks_elt import __version__
from stocks_elt.report.data import MAX_LISTED, DailyRow, ReportData, SymbolSection
from stocks_elt.warehouse.audit.extract import ExtractOutcome
from stocks_elt.warehouse.audit.quality import RecordedCheck

#: The vendored chart library (see vendor/README.md).
CHART_LIBRARY = "TradingView Lightweight Charts 5.2.1"
CHART_LIBRARY_FILE = "vendor/lightweight-charts.standalone.production.js"
TRADINGVIEW_URL = "https://www.tradingview.com/"

#: Columns of each symbol's chart data, in the names report.js reads.
CHART_COLUMNS = (
    "open",
    "high",
    "low",
    "close",
    "volume",
    "sma_50",
    "sma_200",
    "bollinger_upper",
    "bollinger_middle",
    "bollinger_lower",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_histogram",
)
#: Decimal places kept in the chart data (prices are numeric(18,4) in the warehouse).
_DIGITS = {"rsi_14": 2}
_DEFAULT_DIGITS = 4

_NA = '<span class="na">–</span>'


def render_report(data: ReportData) -> str:
    """Return the report as one HTML document.

    Args:
        data: what to show (see :func:`stocks_elt.report.data.collect_report_data`).

    Returns:
        The HTML text; it loads nothing from the network.
    """
    library = _inline_script(_resource(CHART_LIBRARY_FILE), CHART_LIBRARY_FILE)
    app = _inline_script(_resource("report.js"), "report.js")
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_script_hash(library)} {_script_hash(app)}",
            "style-src 'unsafe-inline'",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    symbols = ", ".join(section.symbol for section in data.symbols)
    return Template(_resource("template.html")).substitute(
        csp=csp,
        version=__version__,
        title=_e(f"Stocks ELT report: {symbols}"),
        style=_resource("report.css"),
        body=_body(data),
        data=script_json(chart_payload(data)),
        chart_library=library,
        app=app,
    )


def chart_payload(data: ReportData) -> dict[str, Any]:
    """Return the chart data: per symbol, one array per column, oldest first.

    Values are floats rounded to the warehouse's four decimals (RSI to two); a
    missing value (an indicator without enough history) is None, which the page
    draws as a gap.
    """
    return {
        "symbols": [
            {
                "symbol": section.symbol,
                "time": [row.trade_date.isoformat() for row in section.rows],
                **{
                    column: [_chart_value(row, column) for row in section.rows]
                    for column in CHART_COLUMNS
                },
            }
            for section in data.symbols
        ]
    }


def script_json(value: Any) -> str:
    """Encode ``value`` as JSON that is safe inside an HTML ``<script>`` element.

    ``<``, ``>`` and ``&`` become ``\\u003c``, ``\\u003e`` and ``\\u0026`` (still the
    same JSON strings), so ``</script>`` or ``<!--`` in the data cannot end or change
    the element; non-ASCII is escaped too, which covers U+2028 and U+2029.

    Raises:
        ValueError: the value holds NaN or infinity, which JSON cannot carry.
    """
    text = json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _chart_value(row: DailyRow, column: str) -> float | int | None:
    value = getattr(row, column)
    if value is None or isinstance(value, int):
        return value
    if not value.is_finite():
        return None
    # Round the Decimal, not a float: 55.555 is 55.56, not float's 55.55.
    digits = _DIGITS.get(column, _DEFAULT_DIGITS)
    return float(value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def _inline_script(text: str, name: str) -> str:
    lowered = text.lower()
    for marker in ("</script", "<!--", "<script"):
        if marker in lowered:
            raise ValueError(f"{name} holds {marker!r} and cannot be inlined safely")
    return text


def _script_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


@cache
def _resource(name: str) -> str:
    return resources.files("stocks_elt.report").joinpath(name).read_text("utf-8")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


# --- the page ----------------------------------------------------------------------


def _body(data: ReportData) -> str:
    return "\n".join(
        [
            _masthead(data),
            "<main>",
            '<noscript><p class="card">The charts need JavaScript; every table below'
            " is complete without it.</p></noscript>",
            *(
                _symbol_card(index, section, data)
                for index, section in enumerate(data.symbols)
            ),
            _quality(data),
            "</main>",
            _footer(),
        ]
    )


def _masthead(data: ReportData) -> str:
    last = max(
        (s.latest.trade_date for s in data.symbols if s.latest is not None),
        default=None,
    )
    through = f" · data through {_e(last.isoformat())}" if last is not None else ""
    chips = "".join(
        f'<a href="#symbol-{_e(section.symbol)}">{_e(section.symbol)}</a>'
        for section in data.symbols
    )
    return (
        '<header class="masthead">'
        f"<h1>Stocks ELT report</h1>"
        f'<p class="meta">Generated {_e(_utc(data.generated_at))} · last '
        f"{data.sessions:,} sessions per symbol · prices adjusted for splits and "
        f"dividends{through}</p>"
        f'<nav aria-label="Sections">{chips}'
        f'<a href="#data-quality">Data quality {_quality_badge(data)}</a></nav>'
        "</header>"
    )


def _quality_badge(data: ReportData) -> str:
    if data.quality_run is None:
        return '<span class="badge info">no gate run</span>'
    counts = Counter(finding.status for finding in data.findings)
    if counts["fail"]:
        return f'<span class="badge fail">{_plural(counts["fail"], "failure")}</span>'
    if counts["warn"]:
        return f'<span class="badge warn">{_plural(counts["warn"], "warning")}</span>'
    return '<span class="badge pass">all checks pass</span>'


def _symbol_card(index: int, section: SymbolSection, data: ReportData) -> str:
    symbol = _e(section.symbol)
    profile = section.profile
    name = (
        f'<span class="name">{_e(profile.name)}</span>'
        if profile is not None and profile.name
        else ""
    )
    head = (
        '<div class="symbol-head"><div>'
        f"<h2>{symbol}{name}</h2>"
        f'<p class="facts">{_facts(section)}</p>'
        f"</div>{_quote(section.latest)}</div>"
    )
    if not section.rows:
        outcome = section.extract
        why = (
            f" Last extract: {_e(outcome.outcome)}"
            + (f" ({_e(outcome.reason)})" if outcome.reason else "")
            + f", {_e(_utc(outcome.recorded_at))}."
            if outcome is not None
            else ""
        )
        return (
            f'<section class="card symbol" id="symbol-{symbol}">{head}'
            f'<p class="empty">No sessions for {symbol} in the marts yet.{why}</p>'
            "</section>"
        )
    label = (
        f"{section.symbol}: adjusted daily candles with SMA 50, SMA 200 and "
        "Bollinger bands; volume; RSI 14; MACD"
    )
    return (
        f'<section class="card symbol" id="symbol-{symbol}">{head}'
        '<div class="symbol-body"><div>'
        f'<div class="legend" data-legend-index="{index}"></div>'
        f'<div class="chart" data-chart-index="{index}" role="img" '
        f'aria-label="{_e(label)}"></div>'
        "</div>"
        f"{_latest(section, data)}"
        "</div></section>"
    )


def _facts(section: SymbolSection) -> str:
    profile = section.profile
    if profile is None:
        return "not in dim_symbols"
    sector = " — ".join(_e(x) for x in (profile.sector, profile.industry) if x)
    parts = [
        _e(x) for x in (profile.exchange, profile.asset_type, profile.currency) if x
    ]
    if sector:
        parts.append(sector)
    if profile.status and profile.status.lower() != "active":
        parts.append(f'<span class="badge warn">{_e(profile.status)}</span>')
    return " · ".join(parts)


def _quote(latest: DailyRow | None) -> str:
    if latest is None:
        return ""
    change = ""
    if latest.daily_return is not None:
        direction = "up" if latest.daily_return >= 0 else "down"
        change = (
            f'<span class="change {direction}">{_percent(latest.daily_return)}</span>'
        )
    return (
        '<div class="quote">'
        f'<span class="price">{_price(latest.close)}</span>{change}'
        f'<span class="as-of">adjusted close, {_e(latest.trade_date.isoformat())}'
        "</span></div>"
    )


def _latest(section: SymbolSection, data: ReportData) -> str:
    row = section.latest
    assert row is not None
    close = row.close
    rows: list[tuple[str, str, str]] = [
        ("Close (adjusted)", _price(close), ""),
        ("Daily return", _percent(row.daily_return), ""),
        ("Drawdown from peak", _percent(row.drawdown, signed=False), ""),
        ("", "Trend", ""),
        ("SMA 20", _price(row.sma_20), _versus(close, row.sma_20)),
        ("SMA 50", _price(row.sma_50), _versus(close, row.sma_50)),
        ("SMA 200", _price(row.sma_200), _versus(close, row.sma_200)),
        ("EMA 12", _price(row.ema_12), ""),
        ("EMA 26", _price(row.ema_26), ""),
        ("", "Momentum", ""),
        ("RSI 14", _number(row.rsi_14, 1), _rsi_hint(row.rsi_14)),
        ("MACD", _number(row.macd, 3), ""),
        ("MACD signal", _number(row.macd_signal, 3), ""),
        ("MACD histogram", _number(row.macd_histogram, 3), ""),
        ("", "Volatility", ""),
        ("Bollinger upper", _price(row.bollinger_upper), ""),
        ("Bollinger middle", _price(row.bollinger_middle), ""),
        ("Bollinger lower", _price(row.bollinger_lower), ""),
        ("Volatility 20", _percent(row.volatility_20, signed=False), ""),
    ]
    body = "".join(
        f'<tr class="group"><th colspan="2">{value}</th></tr>'
        if not label
        else f"<tr><th>{label}</th><td>{value}"
        + (f'<span class="hint">{hint}</span>' if hint else "")
        + "</td></tr>"
        for label, value, hint in rows
    )
    first = section.rows[0].trade_date.isoformat()
    findings = [f for f in data.findings if f.symbol == section.symbol]
    notes = [
        f"{len(section.rows):,} sessions shown, {_e(first)} to "
        f"{_e(row.trade_date.isoformat())}",
        _extract_note(section.extract),
        f"Quarantined rows: {section.quarantined_rows:,}",
        "Open data-quality findings: "
        + (
            ", ".join(f"{_status_badge(f.status)} {_e(f.check_name)}" for f in findings)
            if findings
            else "none"
        ),
    ]
    return (
        '<aside class="latest">'
        f"<h3>Latest, {_e(row.trade_date.isoformat())}</h3>"
        f"<table>{body}</table>"
        '<div class="notes">'
        + "".join(f"<p>{note}</p>" for note in notes)
        + "</div></aside>"
    )


def _extract_note(outcome: ExtractOutcome | None) -> str:
    if outcome is None:
        return "Last extract: none recorded"
    badge = "pass" if outcome.is_healthy else "warn" if outcome.is_deferred else "fail"
    reason = f" ({_e(outcome.reason)})" if outcome.reason else ""
    gap = " · history gap" if outcome.has_history_gap else ""
    return (
        f'Last extract: <span class="badge {badge}">{_e(outcome.outcome)}</span>'
        f"{reason}{gap}, {_e(_utc(outcome.recorded_at))}"
    )


def _versus(close: Decimal | None, average: Decimal | None) -> str:
    if close is None or average is None or average == 0:
        return ""
    gap = (close - average) / average
    side = "above" if gap >= 0 else "below"
    return f"close {_percent(abs(gap), signed=False)} {side}"


def _rsi_hint(rsi: Decimal | None) -> str:
    if rsi is None:
        return ""
    if rsi >= 70:
        return "overbought (≥ 70)"
    if rsi <= 30:
        return "oversold (≤ 30)"
    return ""


# --- data quality ------------------------------------------------------------------


def _quality(data: ReportData) -> str:
    run = data.quality_run
    if run is None:
        summary = '<p class="meta">No data-quality gate has run yet.</p>'
        checks = ""
    else:
        counts = Counter(result.status for result in run.results)
        run_label = f"run {_e(run.run_id[:8])}, " if run.run_id else ""
        summary = (
            f'<p class="meta">Latest gate run: {run_label}{_e(_utc(run.checked_at))} · '
            f"{counts['pass']:,} passed, {_plural(counts['warn'], 'warning')}, "
            f"{_plural(counts['fail'], 'failure')}</p>"
        )
        checks = _checks_table(run.results)
    return (
        '<section class="card quality" id="data-quality">'
        "<h2>Data quality</h2>"
        f"{summary}{checks}"
        f"{_findings_table(data.findings)}"
        f"{_quarantine_table(data)}"
        f"{_extract_table(data.extract_problems)}"
        "</section>"
    )


def _checks_table(results: Sequence[RecordedCheck]) -> str:
    by_check: dict[str, list[RecordedCheck]] = {}
    for result in results:
        by_check.setdefault(result.check_name, []).append(result)
    rows = []
    for name in sorted(by_check):
        group = by_check[name]
        counts = Counter(result.status for result in group)
        worst = "fail" if counts["fail"] else "warn" if counts["warn"] else "pass"
        rows.append(
            f"<tr><td>{_e(name)}</td><td>{_e(group[0].severity)}</td>"
            f"<td>{_status_badge(worst)}</td><td>{_check_result(group)}</td></tr>"
        )
    return (
        "<section><h3>Checks in the latest run</h3>"
        "<table><thead><tr><th>Check</th><th>Severity</th><th>Status</th>"
        "<th>Result</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></section>"
    )


def _check_result(group: Sequence[RecordedCheck]) -> str:
    """One warehouse-wide row: its numbers; one row per symbol: counts by status."""
    if len(group) == 1 and group[0].symbol is None:
        result = group[0]
        if result.observed_value is None:
            return _e(result.details or "")
        return (
            f"observed {_decimal(result.observed_value)}, "
            f"threshold {_decimal(result.threshold)}"
        )
    counts = Counter(result.status for result in group)
    return (
        f"{_plural(len(group), 'symbol')}: {counts['pass']:,} pass, "
        f"{counts['warn']:,} warn, {counts['fail']:,} fail"
    )


def _findings_table(findings: Sequence[RecordedCheck]) -> str:
    if not findings:
        return (
            "<section><h3>Warnings and failures</h3>"
            '<p class="none">No open warnings or failures.</p></section>'
        )
    rows = "".join(
        f"<tr><td>{_status_badge(f.status)}</td><td>{_e(f.check_name)}</td>"
        f"<td>{_e(f.severity)}</td><td>{_e(f.symbol or 'all symbols')}</td>"
        f'<td class="num">{_decimal(f.observed_value)}</td>'
        f'<td class="num">{_decimal(f.threshold)}</td>'
        f"<td>{_e(f.details or '')}</td></tr>"
        for f in findings[:MAX_LISTED]
    )
    return (
        "<section><h3>Warnings and failures</h3>"
        "<table><thead><tr><th>Status</th><th>Check</th><th>Severity</th>"
        '<th>Symbol</th><th class="num">Observed</th><th class="num">Threshold</th>'
        "<th>Details</th></tr></thead><tbody>"
        f"{rows}</tbody></table>{_more(len(findings))}</section>"
    )


def _quarantine_table(data: ReportData) -> str:
    if not data.quarantine:
        return (
            "<section><h3>Quarantined rows</h3>"
            '<p class="none">No row has been quarantined.</p></section>'
        )
    rows = "".join(
        f"<tr><td>{_e(group.symbol or '(none)')}</td><td>{_e(group.reason)}</td>"
        f'<td class="num">{group.rows:,}</td>'
        f"<td>{_e(_utc(group.last_quarantined_at))}</td></tr>"
        for group in data.quarantine
    )
    return (
        "<section><h3>Quarantined rows</h3>"
        f'<p class="meta">{data.quarantine_total:,} rows in raw.quarantine, by symbol '
        "and reason.</p>"
        "<table><thead><tr><th>Symbol</th><th>Reason</th>"
        '<th class="num">Rows</th><th>Last quarantined</th></tr></thead><tbody>'
        f"{rows}</tbody></table></section>"
    )


def _extract_table(problems: Sequence[ExtractOutcome]) -> str:
    if not problems:
        return (
            "<section><h3>Deferred and failed symbols</h3>"
            '<p class="none">Every symbol\'s last extract succeeded.</p></section>'
        )
    rows = "".join(
        f"<tr><td>{_e(p.symbol)}</td>"
        f'<td><span class="badge {"warn" if p.is_deferred else "fail"}">'
        f"{_e(p.outcome)}</span></td>"
        f"<td>{_e(p.reason or '')}</td><td>{'yes' if p.has_history_gap else 'no'}</td>"
        f"<td>{_e(_utc(p.recorded_at))}</td></tr>"
        for p in problems[:MAX_LISTED]
    )
    return (
        "<section><h3>Deferred and failed symbols</h3>"
        '<p class="meta">Symbols whose last extract did not bring them up to date.</p>'
        "<table><thead><tr><th>Symbol</th><th>Outcome</th><th>Reason</th>"
        "<th>History gap</th><th>Recorded</th></tr></thead><tbody>"
        f"{rows}</tbody></table>{_more(len(problems))}</section>"
    )


def _footer() -> str:
    # The library's license asks for its NOTICE and a link to TradingView.
    notice = _e(" ".join(_resource("vendor/NOTICE").split()))
    link = _e(TRADINGVIEW_URL)
    notice = notice.replace(link, f'<a href="{link}">{link}</a>')
    return (
        "<footer>"
        f"<p>Built by stocks-elt {_e(__version__)} from the warehouse marts "
        "(dim_symbols, fct_daily_bars, fct_daily_indicators) and the raw and audit "
        "tables. Indicators follow TA-Lib's definitions on adjusted closes; a gap "
        "means too little history.</p>"
        f"<p>Charts: {_e(CHART_LIBRARY)}, Apache-2.0. {notice}</p>"
        "</footer>"
    )


# --- formatting --------------------------------------------------------------------


def _status_badge(status: str) -> str:
    return f'<span class="badge {_e(status)}">{_e(status)}</span>'


def _more(count: int) -> str:
    if count <= MAX_LISTED:
        return ""
    return f'<p class="more">and {count - MAX_LISTED:,} more not listed.</p>'


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _finite(value: Decimal | None) -> Decimal | None:
    if value is None or not value.is_finite():
        return None
    return value


def _price(value: Decimal | None) -> str:
    value = _finite(value)
    if value is None:
        return _NA
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:,.4f}"


def _number(value: Decimal | None, digits: int) -> str:
    value = _finite(value)
    if value is None:
        return _NA
    text = f"{value:,.{digits}f}"
    return text.removeprefix("-") if set(text) <= set("-0.,") else text  # no "-0.000"


def _percent(value: Decimal | None, *, signed: bool = True) -> str:
    value = _finite(value)
    if value is None:
        return _NA
    percent = value * 100
    if percent.quantize(Decimal("0.01")) == 0:
        percent = Decimal(0)  # no "-0.00%"
    return f"{percent:+.2f}%" if signed else f"{percent:.2f}%"


def _decimal(value: Decimal | None) -> str:
    return _NA if value is None else _e(format(value, "f"))
