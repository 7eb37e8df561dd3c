from __future__ import annotations

from pathlib import Path

import pytest

from stocks_elt.config import load_settings, redact_url
from stocks_elt.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("STOCKS_ELT_", "ALPHA_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env file


def test_an_empty_environment_runs_on_embedded_defaults() -> None:
    settings = load_settings()
    assert settings.alpha_vantage_api_key.get_secret_value() == "demo"
    assert settings.is_demo_key
    assert settings.tickers == ("IBM",)
    assert settings.warehouse_url is None
    assert settings.resolved_lake_url.startswith("file:///")
    assert settings.resolved_lake_url.endswith("/.stocks_elt/lake")


def test_the_proof_of_concepts_misspelt_key_variable_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALPHA_ADVANTAGE_API_KEY", "POC-KEY-123")
    assert load_settings().alpha_vantage_api_key.get_secret_value() == "POC-KEY-123"


def test_the_documented_key_variable_wins_over_the_misspelt_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALPHA_ADVANTAGE_API_KEY", "OLD")
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", "NEW")
    assert load_settings().alpha_vantage_api_key.get_secret_value() == "NEW"


def test_the_key_is_hidden_when_settings_are_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", "SECRET-KEY-XYZ")
    settings = load_settings()
    assert "SECRET-KEY-XYZ" not in repr(settings)
    assert "SECRET-KEY-XYZ" not in str(settings.model_dump())


def test_tickers_are_split_normalised_and_deduplicated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STOCKS_ELT_TICKERS", " ibm, BRK.B,IBM,tsco.lon,")
    assert load_settings().tickers == ("IBM", "BRK.B", "TSCO.LON")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("STOCKS_ELT_TICKERS", "IBM;DROP", "STOCKS_ELT_TICKERS='IBM;DROP'"),
        ("STOCKS_ELT_EXTRACT_CONCURRENCY", "lots", "STOCKS_ELT_EXTRACT_CONCURRENCY"),
        ("STOCKS_ELT_LAKE_URL", "ftp://x/y", "STOCKS_ELT_LAKE_URL='ftp://x/y'"),
        ("STOCKS_ELT_WAREHOUSE_URL", "mysql://h/db", "STOCKS_ELT_WAREHOUSE_URL"),
        ("ALPHA_VANTAGE_API_KEY", "  ", "ALPHA_VANTAGE_API_KEY=<hidden>"),
        ("STOCKS_ELT_ALPHA_VANTAGE_BASE_URL", "localhost", "BASE_URL='localhost'"),
    ],
)
def test_a_bad_value_names_the_variable_and_gives_an_example(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert expected in message
    assert "for example" in message


def test_a_bad_warehouse_url_never_shows_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STOCKS_ELT_WAREHOUSE_URL", "mysql://u:hunter2@h/db")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)


def test_redact_url_hides_only_the_password() -> None:
    assert (
        redact_url("postgresql://alice:s3cret@db.example:5433/stocks")
        == "postgresql://alice:***@db.example:5433/stocks"
    )
    assert redact_url("postgresql://db/stocks") == "postgresql://db/stocks"


# -- notifications and the freshness deadline ------------------------------------


def test_notifications_are_off_by_default() -> None:
    settings = load_settings()
    assert not settings.notifies
    assert settings.smtp_url is None
    assert settings.notify_webhook_url is None
    assert settings.freshness_deadline.isoformat() == "21:00:00"


def test_notification_settings_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STOCKS_ELT_SMTP_URL", "smtps://alerts:pw@mail.example.com:465")
    monkeypatch.setenv("STOCKS_ELT_NOTIFY_EMAIL_TO", "a@example.com, b@example.org")
    monkeypatch.setenv("STOCKS_ELT_NOTIFY_WEBHOOK_URL", "https://hooks.example/T/B/X")
    monkeypatch.setenv("STOCKS_ELT_FRESHNESS_DEADLINE", "20:45")
    settings = load_settings()

    assert settings.notifies
    assert settings.notify_email_to == ("a@example.com", "b@example.org")
    assert settings.freshness_deadline.isoformat() == "20:45:00"
    # The form settings_environment hands to Airflow's tasks reads back the same.
    assert load_settings(freshness_deadline="20:45:00").freshness_deadline == (
        settings.freshness_deadline
    )


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("STOCKS_ELT_FRESHNESS_DEADLINE", "25:00", "not a time of day"),
        ("STOCKS_ELT_FRESHNESS_DEADLINE", "9pm", "not a time of day"),
        ("STOCKS_ELT_SMTP_URL", "mail.example.com", "not an smtp://"),
        ("STOCKS_ELT_SMTP_URL", "smtp://u:pw-77@mail:99999", "bad port"),
        ("STOCKS_ELT_NOTIFY_WEBHOOK_URL", "hooks.example/secret-77", "not an http"),
        ("STOCKS_ELT_NOTIFY_EMAIL_TO", "ops at example", "not an e-mail address"),
        ("STOCKS_ELT_NOTIFY_DEFERRED_DAYS", "0", "1 to 365"),
        ("STOCKS_ELT_NOTIFY_TIMEOUT_SECONDS", "inf", "finite"),
    ],
)
def test_a_bad_notification_setting_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, said: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"bad configuration: {variable}=")
    assert said in message
    assert caught.value.exit_code == 2
    # Neither the SMTP password nor a webhook's secret path is echoed.
    assert "pw-77" not in message
    assert "secret-77" not in message


def test_email_recipients_without_a_server_are_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STOCKS_ELT_NOTIFY_EMAIL_TO", "ops@example.com")
    with pytest.raises(ConfigError, match="STOCKS_ELT_SMTP_URL is not"):
        load_settings()
