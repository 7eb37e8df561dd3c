"""What the ingest and load tasks report as their lineage datasets."""

from __future__ import annotations

from stocks_elt.orchestration.lineage import (
    lake_object_uris,
    raw_tables_of,
    warehouse_table_uris,
)
from tests.fixtures.lineage import LineageGraph

DAILY = (
    "raw/alpha_vantage/function=TIME_SERIES_DAILY/symbol=IBM/ingest_date=2024-06-21/"
    "20240621T223015123456Z-3f2a9c1b7d4e.json"
)
SPLITS = (
    "raw/alpha_vantage/function=SPLITS/symbol=IBM/ingest_date=2024-06-21/"
    "20240621T223016123456Z-0a2a9c1b7d4e.json"
)
ADJUSTED = (
    "raw/alpha_vantage/function=TIME_SERIES_DAILY_ADJUSTED/symbol=KO/"
    "ingest_date=2024-06-21/20240621T223017123456Z-1b2a9c1b7d4e.json"
)


def test_each_lake_object_is_a_dataset_under_the_lake_url() -> None:
    # Sorted by key (function=SPLITS before function=TIME_SERIES_DAILY), once each.
    assert lake_object_uris("s3://stocks-lake/prod/", [DAILY, SPLITS, DAILY]) == [
        f"s3://stocks-lake/prod/{SPLITS}",
        f"s3://stocks-lake/prod/{DAILY}",
    ]


def test_past_the_limit_one_dataset_per_answer_kind_stands_for_the_objects() -> None:
    uris = lake_object_uris("file:///data/lake", [DAILY, SPLITS, ADJUSTED], limit=2)

    assert uris == [
        "file:///data/lake/raw/alpha_vantage/function=SPLITS",
        "file:///data/lake/raw/alpha_vantage/function=TIME_SERIES_DAILY",
        "file:///data/lake/raw/alpha_vantage/function=TIME_SERIES_DAILY_ADJUSTED",
    ]


def test_the_raw_tables_follow_the_answer_kinds_the_loader_merges() -> None:
    assert raw_tables_of([DAILY]) == ["raw.daily_prices"]
    assert raw_tables_of([SPLITS, DAILY]) == ["raw.daily_prices", "raw.splits"]
    # The adjusted series carries dividends and splits too.
    assert raw_tables_of([ADJUSTED]) == [
        "raw.daily_prices",
        "raw.dividends",
        "raw.splits",
    ]


def test_tables_are_named_as_dbt_names_them() -> None:
    url = "postgresql://u:pw@10.0.0.5:6543/stocks"
    assert warehouse_table_uris(url, ["raw.splits", "raw.daily_prices"]) == [
        "postgres://10.0.0.5:6543/stocks/raw/daily_prices",
        "postgres://10.0.0.5:6543/stocks/raw/splits",
    ]
    socket = "postgresql://postgres:@/stocks?host=/data/postgres&port=5432"
    assert warehouse_table_uris(socket, ["raw.symbols"]) == [
        "postgres://localhost:5432/stocks/raw/symbols"
    ]


def test_the_lineage_graph_finds_a_path_through_jobs() -> None:
    lake = ("s3://lake", "raw/x.json")
    raw = ("postgres://h:5432", "db.raw.daily_prices")
    staged = ("postgres://h:5432", "db.staging.stg_alpha_vantage__daily_prices")
    mart = ("postgres://h:5432", "db.marts.fct_daily_indicators")

    def event(
        job: str, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]
    ) -> dict[str, object]:
        return {
            "eventType": "COMPLETE",
            "job": {"name": job},
            "inputs": [{"namespace": n, "name": m} for n, m in inputs],
            "outputs": [{"namespace": n, "name": m} for n, m in outputs],
        }

    graph = LineageGraph.of(
        [
            event("ingest.extract_batch", [], [lake]),
            event("load.load_new_objects", [lake], [raw]),
            {"eventType": "START", "job": {"name": "x"}, "inputs": [], "outputs": []},
            event("dbt.stg", [raw], [staged]),
            event("dbt.fct", [staged], [mart]),
        ]
    )

    assert graph.path(lambda d: d == lake, mart) == [lake, raw, staged, mart]
    assert graph.path(lambda d: d == mart, lake) is None
    assert graph.written_by[lake] == {"ingest.extract_batch"}
