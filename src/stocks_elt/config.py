"""
Settings: the only module that reads the environment.

Every value has an embedded default, so an empty environment runs: the ``demo`` key
(IBM only), a lake folder and an embedded Postgres under ``STOCKS_ELT_DATA_DIR``.
Read once at the edge (``load_settings()`` in the CLI or inside a task) and pass the
object down.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from datetime import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from stocks_elt.errors import ConfigError, InvalidSymbol
from stocks_elt.market.calendar import parse_new_york_time
from stocks_elt.market.symbols import parse_symbols
from stocks_elt.market.universe import UniverseError, parse_universe

_ENV_PREFIX = "STOCKS_ELT_"

#: A good value for each setting, quoted in the message when a value is refused.
_EXAMPLES: dict[str, str] = {
    "alpha_vantage_api_key": "ALPHA_VANTAGE_API_KEY=ABCDEF1234567890",
    "alpha_vantage_base_url": "STOCKS_ELT_ALPHA_VANTAGE_BASE_URL=http://127.0.0.1:8765",
    "alpha_vantage_is_premium": "STOCKS_ELT_ALPHA_VANTAGE_IS_PREMIUM=true",
    "alpha_vantage_calls_per_second": "STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_SECOND=1",
    "alpha_vantage_calls_per_minute": "STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_MINUTE=75",
    "alpha_vantage_daily_quota": "STOCKS_ELT_ALPHA_VANTAGE_DAILY_QUOTA=25",
    "alpha_vantage_timeout_seconds": "STOCKS_ELT_ALPHA_VANTAGE_TIMEOUT_SECONDS=30",
    "alpha_vantage_max_retries": "STOCKS_ELT_ALPHA_VANTAGE_MAX_RETRIES=4",
    "extract_concurrency": "STOCKS_ELT_EXTRACT_CONCURRENCY=4",
    "batch_size": "STOCKS_ELT_BATCH_SIZE=20",
    "tickers": "STOCKS_ELT_TICKERS=IBM,MSFT,BRK.B",
    "universe": "STOCKS_ELT_UNIVERSE=listing:exchange=NYSE,NASDAQ;type=Stock;limit=500",
    "data_dir": "STOCKS_ELT_DATA_DIR=./.stocks_elt",
    "lake_url": "STOCKS_ELT_LAKE_URL=s3://stocks-lake/raw",
    "s3_endpoint_url": "STOCKS_ELT_S3_ENDPOINT_URL=http://127.0.0.1:9000",
    "aws_access_key_id": "AWS_ACCESS_KEY_ID=minioadmin",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY=minioadmin",
    "aws_default_region": "AWS_DEFAULT_REGION=us-east-1",
    "warehouse_url": "STOCKS_ELT_WAREHOUSE_URL=postgresql://user:pass@host:5432/stocks",
    "airflow_user": "STOCKS_ELT_AIRFLOW_USER=admin",
    "airflow_password": "STOCKS_ELT_AIRFLOW_PASSWORD=a-long-random-password",
    "airflow_broker_url": "STOCKS_ELT_AIRFLOW_BROKER_URL=redis://127.0.0.1:6379/0",
    "smtp_url": "STOCKS_ELT_SMTP_URL=smtp://alerts:password@smtp.example.com:587",
    "notify_email_to": "STOCKS_ELT_NOTIFY_EMAIL_TO=data-team@example.com",
    "notify_email_from": "STOCKS_ELT_NOTIFY_EMAIL_FROM=stocks-elt@example.com",
    "notify_webhook_url": (
        "STOCKS_ELT_NOTIFY_WEBHOOK_URL=https://hooks.slack.com/services/T0/B0/XYZ"
    ),
    "notify_timeout_seconds": "STOCKS_ELT_NOTIFY_TIMEOUT_SECONDS=10",
    "notify_deferred_days": "STOCKS_ELT_NOTIFY_DEFERRED_DAYS=3",
    "freshness_deadline": "STOCKS_ELT_FRESHNESS_DEADLINE=21:00",
}

#: An e-mail address as the settings accept it: one local part, one domain.
_EMAIL_ADDRESS = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.?[^@\s,;<>\"]*$")


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Everything stocks_elt reads from the environment (prefix STOCKS_ELT_)."""

    model_config = SettingsConfigDict(
        env_prefix=_ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    alpha_vantage_api_key: SecretStr = Field(
        default=SecretStr("demo"),
        validation_alias=_env(
            "STOCKS_ELT_ALPHA_VANTAGE_API_KEY",
            "ALPHA_VANTAGE_API_KEY",
            "ALPHA_ADVANTAGE_API_KEY",  # the proof of concept's spelling
        ),
    )
    alpha_vantage_base_url: str = "https://www.alphavantage.co"
    alpha_vantage_is_premium: bool = False
    # Finite and in range: 0.01 is one call every 100 s; premium plans top out at
    # 1200 calls a minute (20 a second).
    alpha_vantage_calls_per_second: float = Field(
        default=1.0, ge=0.01, le=100, allow_inf_nan=False
    )
    alpha_vantage_calls_per_minute: int = Field(default=0, ge=0, le=100_000)  # 0: none
    alpha_vantage_daily_quota: int = Field(default=25, ge=0, le=10_000_000)  # 0: none
    alpha_vantage_timeout_seconds: float = Field(
        default=30.0, ge=0.1, le=600, allow_inf_nan=False
    )
    alpha_vantage_max_retries: int = Field(default=4, ge=0, le=20)
    extract_concurrency: int = Field(default=4, ge=1, le=64)
    batch_size: int = Field(default=20, ge=1, le=1000)
    tickers: Annotated[tuple[str, ...], NoDecode] = ("IBM",)
    # A universe chosen from the listing (stocks_elt.market.universe); explicit
    # tickers win when both are set.
    universe: str | None = None
    data_dir: Path = Path(".stocks_elt")
    lake_url: str | None = None
    s3_endpoint_url: str | None = None
    aws_access_key_id: SecretStr | None = Field(
        default=None, validation_alias=_env("AWS_ACCESS_KEY_ID")
    )
    aws_secret_access_key: SecretStr | None = Field(
        default=None, validation_alias=_env("AWS_SECRET_ACCESS_KEY")
    )
    aws_default_region: str = Field(
        default="us-east-1", validation_alias=_env("AWS_DEFAULT_REGION")
    )
    warehouse_url: SecretStr | None = None
    # The login of the local Airflow (`stocks-elt airflow`); None: generated once.
    airflow_user: str = Field(default="admin", pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    airflow_password: SecretStr | None = None
    # The Celery broker of `stocks-elt airflow --executor celery` (Redis or RabbitMQ).
    airflow_broker_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    # Notifications (stocks_elt.notifications): off unless a channel is set.
    # smtp:// (STARTTLS when offered) or smtps://, with the login in the URL.
    smtp_url: SecretStr | None = None
    notify_email_to: Annotated[tuple[str, ...], NoDecode] = ()
    notify_email_from: str = "stocks-elt@localhost"
    # A Slack incoming webhook or any endpoint taking a JSON POST; its URL is a
    # secret (Slack's carries the token in its path).
    notify_webhook_url: SecretStr | None = None
    notify_timeout_seconds: float = Field(
        default=10.0, ge=0.5, le=120, allow_inf_nan=False
    )
    # Alert when a symbol has been deferred (quota spent) for more than this.
    notify_deferred_days: int = Field(default=3, ge=1, le=365)
    # The chain must have built the marts for the last session by this New York
    # time on each session day (the check_freshness DAG runs then).
    freshness_deadline: time = time(21, 0)

    @field_validator("alpha_vantage_api_key", mode="before")
    @classmethod
    def _key_is_not_blank(cls, value: Any) -> Any:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and not text.strip():
            raise ValueError("the API key is empty")
        return value

    @field_validator("tickers", mode="before")
    @classmethod
    def _split_tickers(cls, value: Any) -> tuple[str, ...]:
        try:
            symbols = parse_symbols(value)
        except InvalidSymbol as exc:
            raise ValueError(str(exc)) from None
        if not symbols:
            raise ValueError("no ticker given")
        return symbols

    @field_validator("universe")
    @classmethod
    def _is_universe(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return parse_universe(value).text
        except UniverseError as exc:
            raise ValueError(exc.reason) from None

    @property
    def has_explicit_tickers(self) -> bool:
        """Whether STOCKS_ELT_TICKERS (or a ``tickers`` override) was set."""
        return "tickers" in self.model_fields_set

    @field_validator("smtp_url")
    @classmethod
    def _is_smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("not an smtp://host[:port] or smtps://host[:port] URL")
        try:
            parts.port  # noqa: B018 - urlsplit checks the port when it is read
        except ValueError as exc:
            raise ValueError(f"bad port ({exc})") from None
        return value

    @field_validator("notify_webhook_url")
    @classmethod
    def _is_webhook_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL")
        return value

    @field_validator("notify_email_to", mode="before")
    @classmethod
    def _split_addresses(cls, value: Any) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else list(value or ())
        addresses = tuple(str(item).strip() for item in items if str(item).strip())
        for address in addresses:
            if not _EMAIL_ADDRESS.match(address):
                raise ValueError(f"{address!r} is not an e-mail address")
        return addresses

    @field_validator("notify_email_from")
    @classmethod
    def _is_address(cls, value: str) -> str:
        if not _EMAIL_ADDRESS.match(value.strip()):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value.strip()

    @field_validator("freshness_deadline", mode="before")
    @classmethod
    def _parse_deadline(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_new_york_time(value)
        return value

    @field_validator("alpha_vantage_base_url", "s3_endpoint_url")
    @classmethod
    def _is_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("not an http(s) URL")
        return value.rstrip("/")

    @field_validator("lake_url")
    @classmethod
    def _is_lake_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme == "s3" and parts.netloc:
            return value.rstrip("/")
        if parts.scheme == "file" and (parts.path or parts.netloc):
            return value
        raise ValueError("neither file:///path nor s3://bucket/prefix")

    @field_validator("airflow_broker_url")
    @classmethod
    def _is_broker_url(cls, value: SecretStr) -> SecretStr:
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("redis", "rediss", "amqp", "amqps", "pyamqp"):
            raise ValueError("not a redis:// or amqp:// URL")
        if not parts.netloc:
            raise ValueError("names no host")
        return value

    @field_validator("warehouse_url")
    @classmethod
    def _is_postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("postgresql", "postgres") or not parts.netloc:
            raise ValueError("not a postgresql:// URL")
        return value

    @property
    def resolved_lake_url(self) -> str:
        """The lake's URL: the configured one, or a folder under the data dir."""
        if self.lake_url is not None:
            return self.lake_url
        return (self.data_dir.resolve() / "lake").as_uri()

    @property
    def notifies(self) -> bool:
        """Whether any notification channel is configured."""
        return bool(self.notify_email_to) or self.notify_webhook_url is not None

    @property
    def is_demo_key(self) -> bool:
        """Whether the key is Alpha Vantage's ``demo`` key (IBM only)."""
        return self.alpha_vantage_api_key.get_secret_value() == "demo"


def secret_values(settings: Settings) -> list[str]:
    """Every secret value in ``settings``: the API key (the public ``demo`` key is
    none), the lake's secret key, the warehouse's and the SMTP server's passwords,
    the webhook URL (Slack's carries its token in the path). Messages and logs
    are scrubbed of these; Airflow's secrets masker is given them."""
    found = []
    if not settings.is_demo_key:
        found.append(settings.alpha_vantage_api_key.get_secret_value())
    if settings.aws_secret_access_key is not None:
        found.append(settings.aws_secret_access_key.get_secret_value())
    for url in (settings.warehouse_url, settings.smtp_url):
        if url is not None:
            password = urlsplit(url.get_secret_value()).password
            if password:
                found.append(unquote(password))
    if settings.notify_webhook_url is not None:
        webhook = urlsplit(settings.notify_webhook_url.get_secret_value())
        found.append(settings.notify_webhook_url.get_secret_value())
        if webhook.path.strip("/"):
            found.append(webhook.path)
    return [secret for secret in found if secret]


def redact_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***``, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment (and ``.env``), plus ``overrides``.

    Raises:
        ConfigError: a value is malformed; the message names the variable, says what
            is wrong with the value and gives an example of a good one.
    """
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    if settings.notify_email_to and settings.smtp_url is None:
        raise ConfigError(
            "bad configuration: STOCKS_ELT_NOTIFY_EMAIL_TO is set but "
            "STOCKS_ELT_SMTP_URL is not: e-mail needs a server; for example "
            + _EXAMPLES["smtp_url"]
        )
    return settings


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        loc = str(error["loc"][0]) if error["loc"] else "?"
        field = _field_of(loc)
        variable = _variable_name(field, loc)
        value = error.get("input")
        if any(word in field for word in ("key", "secret", "password", "webhook")):
            shown = "<hidden>"
        elif isinstance(value, str) and "url" in field:
            shown = repr(redact_url(value))
        else:
            shown = repr(value)
        reason = str(error["msg"]).removeprefix("Value error, ")
        allowed = _range_of(field)
        if allowed and allowed not in reason:
            reason = f"{reason} (allowed: {allowed})"
        example = _EXAMPLES.get(field, "")
        lines.append(
            f"{variable}={shown}: {reason}"
            + (f"; for example {example}" if example else "")
        )
    return "bad configuration: " + "; ".join(lines)


def _range_of(field: str) -> str | None:
    """The allowed range of a numeric setting, from its field's bounds."""
    info = Settings.model_fields.get(field)
    if info is None:
        return None
    low = high = None
    for bound in info.metadata:
        low = (
            getattr(bound, "ge", None)
            if getattr(bound, "ge", None) is not None
            else low
        )
        high = (
            getattr(bound, "le", None)
            if getattr(bound, "le", None) is not None
            else high
        )
    if low is None and high is None:
        return None
    if high is None:
        return f"{low} or more"
    if low is None:
        return f"{high} or less"
    return f"{low} to {high}"


def _field_of(loc: str) -> str:
    """Return the field a validation error's location names (a field or an alias)."""
    if loc in Settings.model_fields:
        return loc
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices) and loc in alias.choices:
            return name
    return loc


def _variable_name(field: str, loc: str) -> str:
    """The variable the user set for ``field``: of several spellings (the API key
    has three), the one the environment (or ``.env``) actually holds."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices):
        names = [str(choice) for choice in alias.choices]
        present = _variables_present()
        for name in names:  # pydantic-settings takes the first one present
            if name.upper() in present:
                return name
        return loc if loc in names else names[0]
    return f"{_ENV_PREFIX}{field.upper()}"


def _variables_present() -> set[str]:
    """Upper-cased names of the variables set in the environment or ``.env``."""
    names = {name.upper() for name in os.environ}
    dotenv = Path(".env")
    if dotenv.is_file():
        for line in dotenv.read_text(encoding="utf-8", errors="replace").splitlines():
            name, sep, _ = line.strip().removeprefix("export ").partition("=")
            if sep and not name.startswith("#"):
                names.add(name.strip().upper())
    return names


def check_writable_paths(settings: Settings) -> None:
    """Make sure the data dir (and a lake folder) can be written, before any work.

    Called by the commands that write, so that a folder they cannot use is a
    configuration error at once, not a failure after API calls were spent.

    Raises:
        ConfigError: a folder cannot be created or written; the message names
            the variable that chose it.
    """
    folders = [("STOCKS_ELT_DATA_DIR", settings.data_dir, "data_dir")]
    lake = settings.resolved_lake_url
    if lake.startswith("file:"):
        parts = urlsplit(lake)
        netloc = "" if parts.netloc in ("", "localhost") else parts.netloc
        folder = Path(unquote(netloc + parts.path))
        folders.append(("STOCKS_ELT_LAKE_URL", folder, "lake_url"))
    created: list[Path] = []
    for variable, folder, field in folders:
        problem = _unwritable(folder, created)
        if problem is not None:
            for made in reversed(created):  # leave nothing behind
                with contextlib.suppress(OSError):
                    made.rmdir()
            raise ConfigError(
                f"bad configuration: {variable}: the folder {folder} {problem}; "
                f"for example {_EXAMPLES[field]}"
            )


def _unwritable(folder: Path, created: list[Path]) -> str | None:
    """Why ``folder`` cannot be written (None when it can); the folders made on
    the way are appended to ``created``."""
    missing = [parent for parent in (folder, *folder.parents) if not parent.exists()]
    for parent in reversed(missing):
        try:
            parent.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            return f"cannot be created ({exc.strerror or exc})"
        created.append(parent)
    if not folder.is_dir():
        return "is not a folder"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"cannot be written ({exc.strerror or exc})"
    return None
