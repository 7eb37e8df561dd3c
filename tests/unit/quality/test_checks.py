"""The gate's pieces that need no database: the checks and the summaries."""

from __future__ import annotations

from decimal import Decimal

from stocks_elt.quality.checks import BLOCKING, CHECKS, Check, Finding
from stocks_elt.quality.gate import summarize_findings
from stocks_elt.results import FAIL, PASS, WARN, QualityResult


def check(name: str) -> Check:
    (found,) = [c for c in CHECKS if c.name == name]
    return found


def test_blocking_checks_are_the_four_the_chain_stops_on() -> None:
    assert [c.name for c in CHECKS if c.severity == BLOCKING] == [
        "duplicate_keys",
        "ohlc_consistency",
        "non_negative_volume",
        "row_count_reconciliation",
    ]


def test_a_blocking_finding_fails_and_a_warning_warns() -> None:
    findings = [Finding("MSFT", Decimal(1), "x"), Finding("IBM", Decimal(2), "y")]

    blocking = summarize_findings(check("ohlc_consistency"), findings)
    warning = summarize_findings(check("missing_sessions"), findings)
    clean = summarize_findings(check("missing_sessions"), [])

    assert (blocking.status, blocking.observed, blocking.symbols) == (
        FAIL,
        3.0,
        ("IBM", "MSFT"),
    )
    assert blocking.details == "IBM: y; MSFT: x"
    assert warning.status == WARN
    assert (clean.status, clean.observed) == (PASS, 0.0)


def test_extreme_moves_report_the_largest_move_not_a_sum() -> None:
    findings = [Finding("IBM", Decimal("0.5"), ""), Finding("KO", Decimal("0.45"), "")]

    assert summarize_findings(check("extreme_moves"), findings).observed == 0.5


def test_the_failure_message_names_each_failed_check_symbols_and_counts() -> None:
    failed = summarize_findings(
        check("non_negative_volume"),
        [Finding("IBM", Decimal(3), "first: 2024-06-18")],
    )
    warned = summarize_findings(check("stale_symbols"), [Finding("KO", Decimal(9), "")])
    result = QualityResult("r", 8, 1, 1, (failed, warned))

    assert result.failure_message() == (
        "quality gate failed: non_negative_volume: 3 in 1 symbol(s) (IBM): "
        "IBM: first: 2024-06-18"
    )
    assert result.as_dict()["checks"][0]["symbols"] == ["IBM"]
