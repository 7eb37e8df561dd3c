"""The freshness check's schedule comes from one variable, read at parse time."""

from __future__ import annotations

from datetime import time

import pytest

from stocks_elt.errors import ConfigError
from stocks_elt.orchestration.freshness import (
    DEADLINE_VARIABLE,
    deadline_cron,
    deadline_from_environment,
    deadline_timetable,
)


def test_the_deadline_defaults_to_21_00_new_york(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(DEADLINE_VARIABLE, raising=False)
    assert deadline_from_environment() == time(21, 0)
    assert deadline_cron(time(21, 0)) == "0 21 * * 1-5"


def test_the_deadline_variable_sets_the_schedule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(DEADLINE_VARIABLE, "19:45")
    timetable = deadline_timetable()
    assert timetable.expression == "45 19 * * 1-5"
    assert str(timetable.timezone) == "America/New_York"


@pytest.mark.parametrize("value", ["24:00", "7pm", "21:60", "21"])
def test_a_bad_deadline_is_a_one_line_configuration_error(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(DEADLINE_VARIABLE, value)
    with pytest.raises(ConfigError) as caught:
        deadline_from_environment()
    assert str(caught.value).startswith(f"bad configuration: {DEADLINE_VARIABLE}=")
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2
