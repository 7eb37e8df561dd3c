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
