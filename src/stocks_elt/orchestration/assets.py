"""
The names the DAGs share: the Assets that chain them, the Airflow connection ids
they read, the pool that bounds API calls.
"""

from __future__ import annotations

from airflow.sdk import Asset

#: Raw API answers in the lake; an event's extra names what is new.
LAKE_RAW = Asset(uri="s3://stocks-lake/raw/alpha_vantage")

#: raw.* tables in the warehouse, loaded and past the quality gate.
WAREHOUSE_RAW = Asset("warehouse_raw_daily_prices")

#: Airflow connection ids (``AIRFLOW_CONN_<ID>`` in the environment works too).
LAKE_CONN_ID = "stocks_lake"
WAREHOUSE_CONN_ID = "stocks_warehouse"
ALPHA_VANTAGE_CONN_ID = "alpha_vantage"
#: Notifications: an SMTP server (sent through the smtp provider's hook) and a
#: webhook; both optional, the STOCKS_ELT_* variables work too.
SMTP_CONN_ID = "stocks_smtp"
WEBHOOK_CONN_ID = "stocks_webhook"
#: Variable holding the API key when there is no ``alpha_vantage`` connection.
API_KEY_VARIABLE = "alpha_vantage_api_key"
#: Pool bounding concurrent extract tasks; size it to the API key's quota.
ALPHA_VANTAGE_POOL = "alpha_vantage"
#: The three DAGs, in the order they chain.
DAG_IDS = ("ingest_stocks", "load_stocks_from_minio", "dbt_run_models")
#: The DAG that checks, at the freshness deadline, that the chain finished.
FRESHNESS_DAG_ID = "check_freshness"
