"""``stocks-elt extract`` and ``stocks-elt quota`` end to end, exit codes included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stocks_elt.alpha_vantage.limits import key_hash
from stocks_elt.cli import main
from stocks_elt.emulator import RunningEmulator
from tests.fixtures.emulator import EMULATOR_TODAY, FREE_KEY

AS_OF = ["--as-of", EMULATOR_TODAY.isoformat()]


@pytest.fixture
def environment(
    emulator: RunningEmulator,
    warehouse: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> RunningEmulator:
    """Point the CLI's settings at the emulator, the test warehouse and a tmp lake."""
    values = {
        "STOCKS_ELT_WAREHOUSE_URL": warehouse,
        "STOCKS_ELT_LAKE_URL": (tmp_path / "lake").as_uri(),
        "STOCKS_ELT_DATA_DIR": str(tmp_path),
        "STOCKS_ELT_ALPHA_VANTAGE_BASE_URL": emulator.base_url,
        "STOCKS_ELT_ALPHA_VANTAGE_API_KEY": FREE_KEY,
        "STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_SECOND": "50",
        "STOCKS_ELT_ALPHA_VANTAGE_DAILY_QUOTA": "25",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no stray .env file
    return emulator


def _exit_code(argv: list[str]) -> int:
    """Run the CLI as the ``stocks-elt`` script does: ``sys.exit(main())``."""
    try:
        returned = main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return returned if isinstance(returned, int) else 0


def test_extract_prints_a_table_and_exits_0_when_all_were_fetched(
    environment: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _exit_code(["extract", "--symbols", "IBM,msft", *AS_OF])

    out = capsys.readouterr().out
    assert code == 0
    assert "IBM" in out
    assert "MSFT" in out
    assert out.count("│ fetched │") == 2
    assert "10 API calls" in out


def test_extract_exits_1_when_a_symbol_is_not_found(
    environment: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _exit_code(["extract", "--symbols", "IBM,NOSUCH", "--json", *AS_OF])

    result = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [(o["symbol"], o["outcome"]) for o in result["outcomes"]] == [
        ("IBM", "fetched"),
        ("NOSUCH", "not_found"),
    ]


@pytest.mark.parametrize("bad", ["../etc/passwd", "IBM;DROP TABLE x", "A" * 200])
def test_extract_exits_2_for_a_bad_symbol_without_a_call(
    environment: RunningEmulator, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    code = _exit_code(["extract", "--symbols", f"IBM,{bad}"])

    assert code == 2
    assert "a symbol is" in capsys.readouterr().err
    assert environment.calls() == []


def test_quota_shows_todays_calls_per_function(
    environment: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _exit_code(["extract", "--symbols", "IBM", "--json", *AS_OF])
    capsys.readouterr()

    main(["quota", "--json"])
    usage = json.loads(capsys.readouterr().out)
    main(["quota"])
    text = capsys.readouterr().out

    # IBM's daily series, splits, dividends and overview, and both listings.
    assert usage["calls_used"] == len(environment.calls()) == 6
    assert (usage["daily_quota"], usage["remaining"]) == (25, 19)
    assert usage["per_function"] == {
        "DIVIDENDS": 1,
        "LISTING_STATUS": 2,
        "OVERVIEW": 1,
        "SPLITS": 1,
        "TIME_SERIES_DAILY": 1,
    }
    assert usage["key_hash"] == key_hash(FREE_KEY)
    assert "calls used 6 / quota 25 / remaining 19" in text
    assert FREE_KEY not in text
