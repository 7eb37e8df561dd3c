"""
Airflow connections and settings, both ways, in one place.

Inside a task the settings come from the environment, overridden by three Airflow
connections when they exist; ``stocks-elt airflow`` goes the other way and hands
its settings to the tasks as those same connections (and as environment
variables). Both directions read the one table below, so they cannot drift apart:

===================  =========  ==========================================
connection id        type       fields
===================  =========  ==========================================
``stocks_lake``      aws        login/password: access key pair; extra
                                ``endpoint_url`` (MinIO), ``region_name``,
                                ``lake_url`` (``s3://bucket/prefix``)
``stocks_warehouse`` postgres   host (``/path`` is a socket directory), port,
                                login, password, schema = the database,
                                extra ``sslmode``
``alpha_vantage``    http       password (or extra ``api_key``): the key;
                                host: the API's base URL
``stocks_smtp``      smtp       host, port, login, password; extra
                                ``from_email``, ``to`` (comma-separated),
                                ``disable_ssl`` (then STARTTLS unless
                                ``disable_tls``): e-mail alerts, sent
                                through the smtp provider's ``SmtpHook``
``stocks_webhook``   http       password (masked) or host: the webhook's
                                full URL
===================  =========  ==========================================

The API key may also come from the Variable ``alpha_vantage_api_key`` (the
connection wins), and so from any secrets backend Airflow is configured with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from pydantic import SecretStr

from stocks_elt.orchestration.assets import (
    ALPHA_VANTAGE_CONN_ID,
    API_KEY_VARIABLE,
    LAKE_CONN_ID,
    SMTP_CONN_ID,
    WAREHOUSE_CONN_ID,
    WEBHOOK_CONN_ID,
)

if TYPE_CHECKING:
    from stocks_elt.config import Settings


@dataclass(frozen=True)
class ConnectionFields:
    """The fields of an Airflow connection this module reads or writes."""

    conn_type: str
    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: str | None = None
    schema: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, conn: Any) -> ConnectionFields:
        """Read an Airflow ``Connection`` (anything with its attributes)."""
        return cls(
            conn_type=str(getattr(conn, "conn_type", "") or ""),
            host=conn.host or None,
            port=conn.port or None,
            login=conn.login or None,
            password=conn.password or None,
            schema=conn.schema or None,
            extra=dict(conn.extra_dejson or {}),
        )

    def as_uri_json(self) -> str:
        """The JSON form Airflow reads from ``AIRFLOW_CONN_<ID>``."""
        values: dict[str, Any] = {"conn_type": self.conn_type}
        for name in ("host", "port", "login", "password", "schema"):
            value = getattr(self, name)
            if value is not None:
                values[name] = value
        if self.extra:
            values["extra"] = self.extra
        return json.dumps(values)


# -- Airflow -> settings ------------------------------------------------------------


def settings_overrides(
    *,
    lake: ConnectionFields | None = None,
    warehouse: ConnectionFields | None = None,
    alpha_vantage: ConnectionFields | None = None,
    api_key: str | None = None,
    smtp: ConnectionFields | None = None,
    webhook: ConnectionFields | None = None,
) -> dict[str, Any]:
    """Translate the connections into ``load_settings`` overrides.

    Each argument is optional; what is missing keeps its value from the
    environment.

    Args:
        lake: the ``stocks_lake`` connection.
        warehouse: the ``stocks_warehouse`` connection.
        alpha_vantage: the ``alpha_vantage`` connection.
        api_key: the ``alpha_vantage_api_key`` Variable; the connection's key
            wins over it.
        smtp: the ``stocks_smtp`` connection.
        webhook: the ``stocks_webhook`` connection.

    Returns:
        Keyword arguments for ``stocks_elt.config.load_settings``.
    """
    overrides: dict[str, Any] = {}
    if lake is not None:
        if lake.login:
            overrides["aws_access_key_id"] = lake.login
        if lake.password:
            overrides["aws_secret_access_key"] = lake.password
        for setting, name in _LAKE_EXTRA.items():
            if lake.extra.get(name):
                overrides[setting] = lake.extra[name]
    if warehouse is not None:
        overrides["warehouse_url"] = postgres_url(warehouse)
    key = api_key
    if alpha_vantage is not None:
        key = alpha_vantage.password or alpha_vantage.extra.get("api_key") or key
        base_url = _base_url(alpha_vantage)
        if base_url:
            overrides["alpha_vantage_base_url"] = base_url
    if key:
        overrides["alpha_vantage_api_key"] = key
    if smtp is not None and smtp.host:
        overrides.update(smtp_overrides(smtp))
    if webhook is not None and (webhook.password or webhook.host):
        overrides["notify_webhook_url"] = webhook.password or _base_url(webhook)
    return overrides


def smtp_overrides(conn: ConnectionFields) -> dict[str, Any]:
    """The notification settings a ``stocks_smtp`` connection carries: its
    server as ``smtp_url`` (``smtps://`` unless ``disable_ssl``, as the smtp
    provider reads it), and the extra's ``from_email`` and ``to``."""
    scheme = "smtp" if _is_true(conn.extra.get("disable_ssl")) else "smtps"
    userinfo = ""
    if conn.login:
        userinfo = quote(conn.login, safe="")
        if conn.password:
            userinfo += ":" + quote(conn.password, safe="")
        userinfo += "@"
    port = f":{conn.port}" if conn.port else ""
    values: dict[str, Any] = {"smtp_url": f"{scheme}://{userinfo}{conn.host}{port}"}
    if conn.extra.get("from_email"):
        values["notify_email_from"] = str(conn.extra["from_email"])
    if conn.extra.get("to"):
        values["notify_email_to"] = conn.extra["to"]
    return values


def _is_true(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


#: Settings the lake connection's extra carries, by extra field.
_LAKE_EXTRA = {
    "s3_endpoint_url": "endpoint_url",
    "aws_default_region": "region_name",
    "lake_url": "lake_url",
}


def postgres_url(conn: ConnectionFields) -> str:
    """Return the ``postgresql://`` URL of a ``postgres`` connection."""
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
    sslmode = conn.extra.get("sslmode")
    if sslmode:
        query["sslmode"] = str(sslmode)
    database = quote(conn.schema or "postgres", safe="")
    url = f"postgresql://{userinfo}{host}/{database}"
    return f"{url}?{urlencode(query)}" if query else url


def _base_url(conn: ConnectionFields) -> str | None:
    host = (conn.host or "").rstrip("/")
    if not host:
        return None
    if "://" in host:
        return host
    scheme = conn.schema or "https"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{host}{port}"


def task_settings() -> Settings:
    """Read the settings inside a task: the environment, overridden by Airflow.

    The connections and the Variable are used when they exist; every secret
    (the API key, the lake's secret key, the warehouse password) is registered
    with Airflow's secrets masker, so no task log shows it.

    Raises:
        ConfigError: a value (from a connection or the environment) is malformed.
    """
    from airflow.sdk import Connection, Variable
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.log import mask_secret

    from stocks_elt.config import load_settings

    def connection(conn_id: str) -> ConnectionFields | None:
        try:
            return ConnectionFields.of(Connection.get(conn_id))
        except AirflowNotFoundException:
            return None

    overrides = settings_overrides(
        lake=connection(LAKE_CONN_ID),
        warehouse=connection(WAREHOUSE_CONN_ID),
        alpha_vantage=connection(ALPHA_VANTAGE_CONN_ID),
        api_key=Variable.get(API_KEY_VARIABLE, default=None),
        smtp=connection(SMTP_CONN_ID),
        webhook=connection(WEBHOOK_CONN_ID),
    )
    settings = load_settings(**overrides)
    for secret in secrets_of(settings):
        mask_secret(secret)
    return settings


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value in ``settings`` (the ``demo`` key is public: not one)."""
    from stocks_elt.config import secret_values

    return secret_values(settings)


# -- settings -> Airflow ------------------------------------------------------------


def airflow_connections(settings: Settings) -> dict[str, ConnectionFields]:
    """Return the connections that carry ``settings`` to the tasks.

    Args:
        settings: resolved settings (see ``resolve_settings``); the lake
            connection exists only for an ``s3://`` lake.
    """
    from stocks_elt.warehouse.connection import warehouse_url

    connections = {
        WAREHOUSE_CONN_ID: _postgres_fields(warehouse_url(settings)),
        ALPHA_VANTAGE_CONN_ID: ConnectionFields(
            conn_type="http",
            host=settings.alpha_vantage_base_url,
            password=settings.alpha_vantage_api_key.get_secret_value(),
        ),
    }
    lake_url = settings.resolved_lake_url
    if lake_url.startswith("s3://"):
        values = {
            "lake_url": lake_url,
            "aws_default_region": settings.aws_default_region,
            "s3_endpoint_url": settings.s3_endpoint_url,
        }
        connections[LAKE_CONN_ID] = ConnectionFields(
            conn_type="aws",
            login=_secret(settings.aws_access_key_id),
            password=_secret(settings.aws_secret_access_key),
            extra={
                name: values[setting]
                for setting, name in _LAKE_EXTRA.items()
                if values[setting]
            },
        )
    if settings.smtp_url is not None:
        connections[SMTP_CONN_ID] = smtp_fields(settings)
    return connections


def smtp_fields(settings: Settings) -> ConnectionFields:
    """The ``stocks_smtp`` connection of the SMTP settings (``smtp_overrides``'
    inverse). ``smtp://`` maps to ``disable_ssl``; STARTTLS is then required
    when there is a login (the provider cannot make it optional) and off
    without one; one try within the notification timeout."""
    from urllib.parse import unquote, urlsplit

    assert settings.smtp_url is not None
    parts = urlsplit(settings.smtp_url.get_secret_value())
    is_plain = parts.scheme == "smtp"
    return ConnectionFields(
        conn_type="smtp",
        host=parts.hostname,
        port=parts.port or (25 if is_plain else 465),
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        extra={
            "from_email": settings.notify_email_from,
            "to": ",".join(settings.notify_email_to),
            "disable_ssl": is_plain,
            "disable_tls": is_plain and not parts.username,
            "timeout": int(max(1, settings.notify_timeout_seconds)),
            "retry_limit": 0,
        },
    )


def _postgres_fields(url: str) -> ConnectionFields:
    """The ``postgres`` connection of a warehouse URL (``postgres_url``'s inverse)."""
    from stocks_elt.warehouse.connection import connection_parameters

    params = connection_parameters(url)
    return ConnectionFields(
        conn_type="postgres",
        host=str(params["host"]),
        port=int(params["port"]),
        login=str(params["user"]) or None,
        password=str(params["password"]) or None,
        schema=str(params["dbname"]),
    )


def connection_environment(settings: Settings) -> dict[str, str]:
    """``AIRFLOW_CONN_<ID>`` variables for ``airflow_connections(settings)``."""
    return {
        f"AIRFLOW_CONN_{conn_id.upper()}": fields.as_uri_json()
        for conn_id, fields in airflow_connections(settings).items()
    }


def resolve_settings(settings: Settings) -> Settings:
    """Return ``settings`` with the data dir, the lake and the warehouse explicit.

    Every Airflow process then agrees on them whatever its working directory; the
    embedded Postgres is started when no warehouse is configured.

    Raises:
        WarehouseError: the embedded Postgres could not be started.
    """
    from stocks_elt.warehouse.connection import warehouse_url

    return settings.model_copy(
        update={
            "data_dir": settings.data_dir.resolve(),
            "lake_url": settings.resolved_lake_url,
            "warehouse_url": SecretStr(warehouse_url(settings)),
        }
    )


#: Settings that stay with the command: a task has no use for the admin login.
_NOT_PASSED_ON = frozenset({"airflow_user", "airflow_password", "airflow_broker_url"})


def settings_environment(settings: Settings) -> dict[str, str]:
    """Return every setting as the environment variable that sets it.

    Args:
        settings: resolved settings (see ``resolve_settings``).
    """
    from stocks_elt.config import Settings

    env: dict[str, str] = {}
    for name, info in Settings.model_fields.items():
        value = getattr(settings, name)
        if value is None or name in _NOT_PASSED_ON:
            continue
        if name == "tickers" and not settings.has_explicit_tickers:
            # The default ticker must not outrank STOCKS_ELT_UNIVERSE in the tasks.
            continue
        alias = info.validation_alias
        choices = getattr(alias, "choices", None)
        variable = str(choices[0]) if choices else f"STOCKS_ELT_{name.upper()}"
        env[variable] = _as_env_value(value)
    return env


def _as_env_value(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    return str(value)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
