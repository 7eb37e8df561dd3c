from __future__ import annotations

import pytest

from stocks_elt.emulator.faults import (
    FaultDecision,
    FaultPlan,
    FaultSpecError,
    parse_fault_spec,
)
from stocks_elt.emulator.render import FUNCTIONS


def _plan(spec: str, seed: int = 0) -> FaultPlan:
    return FaultPlan(parse_fault_spec(spec, FUNCTIONS), seed)


def _kinds(plan: FaultPlan, calls: int, symbol: str = "MSFT") -> list[str | None]:
    return [plan.decide("TIME_SERIES_DAILY", symbol).kind for _ in range(calls)]


def test_first_n_fails_the_first_calls_of_the_target_then_succeeds() -> None:
    plan = _plan("503:first=2@MSFT")
    assert plan.decide("TIME_SERIES_DAILY", "IBM").kind is None
    assert _kinds(plan, 4) == ["503", "503", None, None]


def test_after_every_and_nth_count_matching_calls() -> None:
    assert _kinds(_plan("drop:after=2"), 4) == [None, None, "drop", "drop"]
    assert _kinds(_plan("empty:every=3"), 6) == [None, None, "empty"] * 2
    assert _kinds(_plan("truncate:nth=2"), 3) == [None, "truncate", None]


def test_targets_can_be_a_function_or_a_symbol_and_function() -> None:
    plan = _plan("500:1@SPLITS,502:1@ibm/DIVIDENDS")
    assert plan.decide("SPLITS", "AAPL").kind == "500"
    assert plan.decide("DIVIDENDS", "AAPL").kind is None
    assert plan.decide("DIVIDENDS", "IBM").kind == "502"
    assert plan.decide("TIME_SERIES_DAILY", "IBM").kind is None


def test_latencies_add_up_and_the_first_failing_rule_wins() -> None:
    plan = _plan("latency=300ms:1,latency=1.5s:1@MSFT,malformed:1,503:1")
    assert plan.decide("GLOBAL_QUOTE", "MSFT") == FaultDecision("malformed", 1.8)
    assert _plan("latency=20ms:1").decide("SPLITS", None) == FaultDecision(None, 0.02)


def test_probabilities_are_reproducible_for_a_seed_and_near_their_rate() -> None:
    first = _kinds(_plan("503:0.2", seed=3), 2000)
    again = _kinds(_plan("503:0.2", seed=3), 2000)
    other = _kinds(_plan("503:0.2", seed=4), 2000)
    assert first == again
    assert first != other
    assert 0.16 < first.count("503") / 2000 < 0.24


def test_no_rules_means_no_fault() -> None:
    assert _plan("").decide("TIME_SERIES_DAILY", "IBM") == FaultDecision()
    assert _plan(" , ").rules == ()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("404:1", "unknown kind '404'"),
        ("503", "does not parse"),
        ("503:1.5", r"probability 1.5 is not in \(0, 1\]"),
        ("503:0", "is not in"),
        ("latency:1", "needs one"),
        ("503=2s:1", "only latency takes a duration"),
        ("503:sometimes=2", "unknown trigger 'sometimes'"),
        ("503:every=0", "every needs N >= 1"),
        ("503:1@IBM/NOPE", "unknown function 'NOPE'"),
    ],
)
def test_a_bad_spec_is_refused_with_the_rule_and_the_reason(
    spec: str, message: str
) -> None:
    with pytest.raises(FaultSpecError, match=message):
        parse_fault_spec(spec, FUNCTIONS)
