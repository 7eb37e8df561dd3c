"""
The report and status on marts built by the real pipeline: the emulator serves
IBM and V, then extract, load, the quality gate and ``dbt build`` run as in
production, and the report reads what dbt wrote.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import sql

from stocks_elt import pipeline
from stocks_elt.config import Settings, load_settings
from stocks_elt.emulator import EmulatorConfig, start_emulator
from stocks_elt.report import build_report
from stocks_elt.stages.extract import extract
from stocks_elt.status import collect_status
from stocks_elt.warehouse.migrate import migrate
from tests.integration.report.chromium import Browser, find_chromium, launch

TODAY = date(2024, 6, 21)  # a Friday session
NEW_YORK = ZoneInfo("America/New_York")
KEY = "report-premium-key"
SYMBOLS = ("IBM", "V")


@dataclass(frozen=True)
class Built:
    """Settings pointing at a warehouse whose marts dbt built from the emulator."""

    settings: Settings
    url: str


@pytest.fixture(scope="module")
def built(
    postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    name = f"stocks_test_{uuid.uuid4().hex[:12]}"
    url = urlunsplit(urlsplit(postgres_admin_url)._replace(path=f"/{name}"))
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        with psycopg.connect(url) as conn:
            migrate(conn)
        config = EmulatorConfig(today=TODAY, premium_keys=frozenset({KEY}))
        with start_emulator(config) as emulator:
            settings = load_settings(
                warehouse_url=url,
                data_dir=tmp_path_factory.mktemp("pipeline"),
                alpha_vantage_api_key=KEY,
                alpha_vantage_base_url=emulator.base_url,
                alpha_vantage_is_premium=True,
                alpha_vantage_calls_per_second=50,
                alpha_vantage_daily_quota=0,
                tickers=",".join(SYMBOLS),
            )
            extracted = extract(settings, SYMBOLS, as_of=TODAY)
        pipeline.load_objects(list(extracted.object_keys), settings=settings)
        pipeline.run_quality_gate(settings=settings, symbols=SYMBOLS)
        pipeline.transform(settings=settings)
        yield Built(settings, url)
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(
                    sql.Identifier(name)
                )
            )


def _chart_data(page: str) -> list[dict[str, list[object]]]:
    match = re.search(r'id="report-data">(.*?)</script>', page, re.DOTALL)
    assert match is not None
    symbols: list[dict[str, list[object]]] = json.loads(match.group(1))["symbols"]
    return symbols


def test_report_charts_what_dbt_built(built: Built) -> None:
    page = build_report(built.settings, SYMBOLS, sessions=300)

    charts = _chart_data(page)
    with psycopg.connect(built.url) as conn:
        expected = conn.execute(
            """
            select b.trade_date, b.adjusted_close_price, i.sma_200
            from marts.fct_daily_bars as b
            join marts.fct_daily_indicators as i using (symbol, trade_date)
            where symbol = 'IBM'
            order by trade_date desc
            limit 300
            """
        ).fetchall()[::-1]
        checks = [
            row[0]
            for row in conn.execute(
                "select distinct check_name from audit.dq_results"
            ).fetchall()
        ]
    ibm = charts[0]
    assert ibm["time"] == [row[0].isoformat() for row in expected]
    assert ibm["time"][-1] == TODAY.isoformat()
    assert ibm["close"] == pytest.approx([row[1] for row in expected], abs=5e-5)
    assert ibm["sma_200"] == pytest.approx([row[2] for row in expected], abs=5e-5)
    assert None not in ibm["sma_200"]  # IBM has traded since 1999
    assert page.count('data-chart-index="') == 2
    assert checks
    assert all(f"<tr><td>{check}</td>" in page for check in checks)


def test_status_on_the_built_warehouse(built: Built) -> None:
    friday_evening = datetime(2024, 6, 21, 18, 0, tzinfo=NEW_YORK)

    report = collect_status(built.settings, as_of=friday_evening)

    assert [s.symbol for s in report.symbols] == list(SYMBOLS)
    assert all(s.last_session == TODAY for s in report.symbols)
    assert all(s.sessions_behind == 0 for s in report.symbols)
    assert all(s.extract is not None and s.extract.is_healthy for s in report.symbols)
    assert report.quality_run is not None
    # The calls were made today (the database clock), not on the emulator's day.
    assert collect_status(built.settings).quota.calls_used > 0


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium binary on PATH")
def test_report_from_the_pipeline_renders_in_a_browser(
    built: Built, tmp_path: Path
) -> None:
    binary = find_chromium()
    assert binary is not None
    path = tmp_path / "report.html"
    path.write_text(build_report(built.settings, SYMBOLS), encoding="utf-8")
    browser: Browser
    with launch(binary) as browser:
        page = browser.open(path.resolve().as_uri())
        page.wait_until("document.documentElement.dataset.reportReady === 'true'")

        assert page.evaluate("document.documentElement.dataset.chartsRendered") == "2"
        log = page.log()
    assert log.errors == []
    assert log.requests == [path.resolve().as_uri()]
