"""
What the three stocks DAGs share: the Assets that chain them, default_args, and the
few helpers their tasks call.

Importing this module is cheap and does no I/O: it defines Assets and a retry policy
and nothing else at import time. The helpers import ``stocks_elt`` and Airflow's
runtime pieces inside their bodies, so they run only inside a task. It is listed in
``.airflowignore``: the DAG processor never parses it as a DAG file.

    ingest_stocks ──LAKE_RAW──▶ load_stocks_from_minio ──WAREHOUSE_RAW──▶ dbt_run_models
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

import pendulum
from airflow.sdk import Asset
from airflow.sdk.definitions.retry_policy import (
    ExceptionRetryPolicy,
    RetryAction,
    RetryRule,
)

if TYPE_CHECKING:
    from stocks_elt.config import Settings

logger = logging.getLogger(__name__)

#: Raw API answers in the lake; the event's extra lists the new objects.
LAKE_RAW = Asset(uri="s3://stocks-lake/raw/alpha_vantage")

#: raw.* tables in the warehouse, loaded and past the quality gate.
WAREHOUSE_RAW = Asset("warehouse_raw_daily_prices")

NEW_YORK = "America/New_York"

#: Airflow connection ids (``AIRFLOW_CONN_<ID>`` in the environment works too).
LAKE_CONN_ID = "stocks_lake"
WAREHOUSE_CONN_ID = "stocks_warehouse"
ALPHA_VANTAGE_CONN_ID = "alpha_vantage"
#: Variable holding the API key when there is no ``alpha_vantage`` connection.
API_KEY_VARIABLE = "alpha_vantage_api_key"
#: Pool bounding concurrent extract tasks; size it to the API key's quota.
ALPHA_VANTAGE_POOL = "alpha_vantage"

#: Errors that retrying cannot fix: bad input, bad configuration, bad data. They
#: fail the task at once; anything else is retried with exponential backoff.
NOT_RETRYABLE = [
    "stocks_elt.errors.ConfigError",
    "stocks_elt.errors.InvalidSymbol",
    "stocks_elt.errors.QualityGateFailed",
]

RETRY_POLICY = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=list(NOT_RETRYABLE),
            action=RetryAction.FAIL,
            reason="bad input, configuration or data: retrying cannot fix it",
        )
    ]
)

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "stocks-elt",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
    "retry_policy": RETRY_POLICY,
}


def fit_batches(batches: Sequence[Sequence[str]], limit: int) -> list[list[str]]:
    """Merge batches so that there are at most ``limit`` of them, order kept.

    Dynamic task mapping refuses more than ``[core] max_map_length`` mapped task
    instances (1024 by default); a universe of 5,000 tickers in batches of 1 would
    break it. Nothing changes when the batches already fit.

    Args:
        batches: symbol batches in extraction order.
        limit: the largest number of batches allowed (at least 1).

    Returns:
        At most ``limit`` batches holding the same symbols in the same order.

    Raises:
        ValueError: ``limit`` is below 1.
    """
    if limit < 1:
        raise ValueError(f"max_map_length must be at least 1, got {limit}")
    if len(batches) <= limit:
        return [list(batch) for batch in batches]
    symbols = [symbol for batch in batches for symbol in batch]
    size = math.ceil(len(symbols) / limit)
    return [symbols[start : start + size] for start in range(0, len(symbols), size)]


def summarize_extracts(results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Combine the XCom summaries of the mapped extract tasks.

    Args:
        results: one ``{"objects": [...], "deferred": [...], "failed": {symbol:
            reason}, "outcomes": {outcome: count}}`` per batch, as
            ``extract_batch`` returns it.

    Returns:
        ``{"objects": sorted new lake keys, "deferred": sorted symbols, "failed":
        {symbol: reason} by symbol, "outcomes": {outcome: count}, "batches": n}``.
    """
    objects: set[str] = set()
    deferred: set[str] = set()
    failed: dict[str, str] = {}
    outcomes: dict[str, int] = {}
    batches = 0
    for result in results:
        batches += 1
        objects.update(result.get("objects", ()))
        deferred.update(result.get("deferred", ()))
        failed.update(result.get("failed", {}))
        for outcome, count in result.get("outcomes", {}).items():
            outcomes[outcome] = outcomes.get(outcome, 0) + int(count)
    return {
        "objects": sorted(objects),
        "deferred": sorted(deferred),
        "failed": dict(sorted(failed.items())),
        "outcomes": dict(sorted(outcomes.items())),
        "batches": batches,
    }


def objects_from_events(
    triggering_asset_events: Mapping[Any, Sequence[Any]] | None, asset: Asset
) -> list[str] | None:
    """Return the lake keys the triggering events of ``asset`` list.

    Args:
        triggering_asset_events: Airflow's ``{asset: [event, ...]}`` of the run;
            each event's ``extra`` may hold ``"objects": [key, ...]``.
        asset: the asset whose events count (others are ignored).

    Returns:
        The union of the listed keys, sorted; None when the run has no event or an
        event lists no objects (a manual run, or an event posted through the REST
        API): then the load takes every object the ledger has not seen.

    Raises:
        ValueError: an event's ``objects`` is not a list of strings; the message
            names the event's source run.
    """
    keys: set[str] = set()
    seen_event = False
    for event_asset, events in (triggering_asset_events or {}).items():
        if _asset_uri(event_asset) != asset.uri:
            continue
        for event in events:
            seen_event = True
            extra = getattr(event, "extra", None) or {}
            listed = extra.get("objects")
            if listed is None:
                return None
            if not isinstance(listed, list) or not all(
                isinstance(key, str) for key in listed
            ):
                source = getattr(event, "source_run_id", None) or "?"
                raise ValueError(
                    f"asset event from run {source} has extra.objects={listed!r:.200}; "
                    "expected a list of lake keys"
                )
            keys.update(listed)
    return sorted(keys) if seen_event else None


def _asset_uri(asset: Any) -> str | None:
    uri = getattr(asset, "uri", None)
    if uri is None and isinstance(asset, str):
        return asset
    return uri


def trading_date(dag_run: Any) -> date:
    """Return the New York date a DAG run is for: its data interval's end.

    A scheduled run at 18:30 New York time is for that day's session; a manual run
    without a logical date is for the day it was triggered.
    """
    moment = getattr(dag_run, "data_interval_end", None) or dag_run.run_after
    return pendulum.instance(moment).in_timezone(NEW_YORK).date()


def settings_overrides(
    *,
    lake: Any | None = None,
    warehouse: Any | None = None,
    alpha_vantage: Any | None = None,
    api_key: str | None = None,
) -> dict[str, Any]:
    """Translate Airflow connections into ``stocks_elt`` settings overrides.

    Each argument is optional; what is missing keeps its value from the environment.

    Args:
        lake: an ``aws`` connection: login/password are the access key pair; extra
            ``endpoint_url`` (MinIO), ``region_name`` and ``lake_url``
            (``s3://bucket/prefix``).
        warehouse: a ``postgres`` connection; ``schema`` is the database name, a
            host starting with ``/`` is a socket directory, extra ``sslmode`` is
            passed on.
        alpha_vantage: a connection whose password (or extra ``api_key``) is the API
            key and whose host, when set, is the API's base URL.
        api_key: the key from the ``alpha_vantage_api_key`` Variable; the
            connection's key wins over it.

    Returns:
        Keyword arguments for ``stocks_elt.config.load_settings``.
    """
    overrides: dict[str, Any] = {}
    if lake is not None:
        extra = lake.extra_dejson
        if lake.login:
            overrides["aws_access_key_id"] = lake.login
        if lake.password:
            overrides["aws_secret_access_key"] = lake.password
        for field, name in (
            ("s3_endpoint_url", "endpoint_url"),
            ("aws_default_region", "region_name"),
            ("lake_url", "lake_url"),
        ):
            if extra.get(name):
                overrides[field] = extra[name]
    if warehouse is not None:
        overrides["warehouse_url"] = postgres_url(warehouse)
    key = api_key
    if alpha_vantage is not None:
        key = alpha_vantage.password or alpha_vantage.extra_dejson.get("api_key") or key
        base_url = _base_url(alpha_vantage)
        if base_url:
            overrides["alpha_vantage_base_url"] = base_url
    if key:
        overrides["alpha_vantage_api_key"] = key
    return overrides


def postgres_url(conn: Any) -> str:
    """Return the ``postgresql://`` URL of an Airflow ``postgres`` connection."""
    user = quote(conn.login or "", safe="")
    password = quote(conn.password or "", safe="")
    userinfo = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    query: dict[str, str] = {}
    host = conn.host or ""
    if host.startswith("/"):  # a Unix socket directory, e.g. the embedded Postgres
        query["host"] = host
        host = ""
    if conn.port and host:
        host = f"{host}:{conn.port}"
    elif conn.port:
        query["port"] = str(conn.port)
    sslmode = conn.extra_dejson.get("sslmode")
    if sslmode:
        query["sslmode"] = str(sslmode)
    database = quote(conn.schema or "postgres", safe="")
    url = f"postgresql://{userinfo}{host}/{database}"
    return f"{url}?{urlencode(query)}" if query else url


def _base_url(conn: Any) -> str | None:
    host = (conn.host or "").rstrip("/")
    if not host:
        return None
    if "://" in host:
        return str(host)
    scheme = conn.schema or "https"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{host}{port}"


def task_settings() -> Settings:
    """Read the settings inside a task: the environment, overridden by Airflow.

    Connections ``stocks_lake``, ``stocks_warehouse`` and ``alpha_vantage`` and the
    Variable ``alpha_vantage_api_key`` are used when they exist; the API key is
    registered with Airflow's secrets masker so that no task log shows it.

    Raises:
        ConfigError: a value (from a connection or the environment) is malformed.
    """
    from airflow.sdk import Connection, Variable
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.log import mask_secret

    from stocks_elt.config import load_settings

    def connection(conn_id: str) -> Any | None:
        try:
            return Connection.get(conn_id)
        except AirflowNotFoundException:
            return None

    overrides = settings_overrides(
        lake=connection(LAKE_CONN_ID),
        warehouse=connection(WAREHOUSE_CONN_ID),
        alpha_vantage=connection(ALPHA_VANTAGE_CONN_ID),
        api_key=Variable.get(API_KEY_VARIABLE, default=None),
    )
    settings = load_settings(**overrides)
    secrets = [settings.alpha_vantage_api_key.get_secret_value()]
    if settings.is_demo_key:  # Alpha Vantage's public key: nothing to hide
        secrets.clear()
    if settings.aws_secret_access_key is not None:
        secrets.append(settings.aws_secret_access_key.get_secret_value())
    if settings.warehouse_url is not None:
        secrets.append(urlsplit(settings.warehouse_url.get_secret_value()).password)
    for secret in secrets:
        if secret:
            mask_secret(secret)
    return settings
