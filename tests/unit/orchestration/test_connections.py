"""Airflow connections become settings, and settings become connections."""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr

from stocks_elt.config import load_settings
from stocks_elt.orchestration import connections
from stocks_elt.orchestration.connections import ConnectionFields


def _connection(**fields: Any) -> ConnectionFields:
    """An Airflow ``Connection`` as the tasks read it."""
    from airflow.sdk import Connection

    if "extra" in fields:
        fields["extra"] = json.dumps(fields["extra"])
    return ConnectionFields.of(
        Connection(conn_id=fields.pop("conn_id", "test"), **fields)
    )


def test_an_aws_connection_becomes_the_lake_settings() -> None:
    lake = _connection(
        conn_type="aws",
        login="access-id",
        password="secret-key",
        extra={
            "endpoint_url": "http://minio:9000",
            "region_name": "eu-west-1",
            "lake_url": "s3://stocks-lake/raw",
        },
    )

    overrides = connections.settings_overrides(lake=lake)
    settings = load_settings(**overrides)

    assert settings.aws_access_key_id is not None
    assert settings.aws_access_key_id.get_secret_value() == "access-id"
    assert settings.aws_secret_access_key is not None
    assert settings.aws_secret_access_key.get_secret_value() == "secret-key"
    assert settings.s3_endpoint_url == "http://minio:9000"
    assert settings.aws_default_region == "eu-west-1"
    assert settings.resolved_lake_url == "s3://stocks-lake/raw"


def test_a_postgres_connection_becomes_the_warehouse_url() -> None:
    warehouse = _connection(
        conn_type="postgres",
        host="db.internal",
        port=5433,
        login="loader",
        password="p@ss:w/rd",
        schema="stocks",
        extra={"sslmode": "require"},
    )

    url = connections.postgres_url(warehouse)

    assert url == (
        "postgresql://loader:p%40ss%3Aw%2Frd@db.internal:5433/stocks?sslmode=require"
    )
    settings = load_settings(**connections.settings_overrides(warehouse=warehouse))
    assert settings.warehouse_url is not None
    assert settings.warehouse_url.get_secret_value() == url


def test_a_postgres_connection_to_a_socket_directory_keeps_it_as_host() -> None:
    warehouse = _connection(
        conn_type="postgres",
        host="/srv/pgdata",
        port=5432,
        login="postgres",
        schema="stocks",
    )

    assert connections.postgres_url(warehouse) == (
        "postgresql://postgres@/stocks?host=%2Fsrv%2Fpgdata&port=5432"
    )


def test_the_api_connection_gives_key_and_base_url_and_beats_the_variable() -> None:
    api = _connection(
        conn_type="http", host="http://127.0.0.1:8765", password="CONN-KEY-123"
    )

    overrides = connections.settings_overrides(alpha_vantage=api, api_key="VAR-KEY-456")

    assert overrides == {
        "alpha_vantage_base_url": "http://127.0.0.1:8765",
        "alpha_vantage_api_key": "CONN-KEY-123",
    }


def test_the_variable_gives_the_key_when_the_connection_has_none() -> None:
    api = _connection(conn_type="http", host="www.alphavantage.co", schema="https")

    overrides = connections.settings_overrides(alpha_vantage=api, api_key="VAR-KEY-456")

    assert overrides == {
        "alpha_vantage_base_url": "https://www.alphavantage.co",
        "alpha_vantage_api_key": "VAR-KEY-456",
    }


def test_without_connections_nothing_is_overridden() -> None:
    assert connections.settings_overrides() == {}


def test_an_smtp_connection_becomes_the_email_settings() -> None:
    smtp = _connection(
        conn_type="smtp",
        host="mail.example.com",
        port=587,
        login="alerts@example.com",
        password="p@ss:word",
        extra={"from_email": "airflow@example.com", "to": "a@example.com,b@x.org"},
    )

    settings = load_settings(**connections.settings_overrides(smtp=smtp))

    assert settings.smtp_url is not None
    # The provider's default is SSL (smtps) unless the extra disables it.
    assert settings.smtp_url.get_secret_value() == (
        "smtps://alerts%40example.com:p%40ss%3Aword@mail.example.com:587"
    )
    assert settings.notify_email_from == "airflow@example.com"
    assert settings.notify_email_to == ("a@example.com", "b@x.org")
    assert "p@ss:word" in connections.secrets_of(settings)


def test_settings_become_an_smtp_connection_and_back() -> None:
    settings = load_settings(
        smtp_url="smtp://relay.internal:2525",
        notify_email_to="ops@example.com",
        notify_email_from="stocks@example.com",
        notify_timeout_seconds=7,
    )

    with_warehouse = settings.model_copy(
        update={"warehouse_url": SecretStr("postgresql://u:p@h:5432/d")}
    )
    fields = connections.airflow_connections(with_warehouse)["stocks_smtp"]

    assert fields.conn_type == "smtp"
    assert (fields.host, fields.port, fields.login) == ("relay.internal", 2525, None)
    # smtp:// without a login: plain, as the URL says; one try, our timeout.
    assert fields.extra["disable_ssl"] is True
    assert fields.extra["disable_tls"] is True
    assert (fields.extra["retry_limit"], fields.extra["timeout"]) == (0, 7)
    back = load_settings(
        **connections.settings_overrides(smtp=_connection(**_as_kwargs(fields)))
    )
    assert back.smtp_url == settings.smtp_url
    assert back.notify_email_to == settings.notify_email_to


def _as_kwargs(fields: ConnectionFields) -> dict[str, Any]:
    return {
        "conn_type": fields.conn_type,
        "host": fields.host,
        "port": fields.port,
        "login": fields.login,
        "password": fields.password,
        "extra": fields.extra,
    }


def test_a_webhook_connection_becomes_the_webhook_url_and_is_masked() -> None:
    secret = "https://hooks.slack.com/services/T0/B0/abc123"
    in_password = _connection(conn_type="http", password=secret)
    in_host = _connection(conn_type="http", host="https://hooks.example.com/x/y")

    settings = load_settings(**connections.settings_overrides(webhook=in_password))
    from_host = load_settings(**connections.settings_overrides(webhook=in_host))

    assert settings.notify_webhook_url is not None
    assert settings.notify_webhook_url.get_secret_value() == secret
    assert secret in connections.secrets_of(settings)
    assert "/services/T0/B0/abc123" in connections.secrets_of(settings)
    assert from_host.notify_webhook_url is not None
    assert from_host.notify_webhook_url.get_secret_value() == (
        "https://hooks.example.com/x/y"
    )
