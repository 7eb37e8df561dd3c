"""The notices' content and their three renderings, without sending anything."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest

from stocks_elt.notifications.messages import (
    SHOWN_LINES,
    Deferred,
    FailedCheck,
    Stale,
    deferred_piling_up,
    freshness_missed,
    quality_gate_failed,
    scrub,
    symbols_not_fetched,
    task_failed,
)


def test_scrub_removes_secrets_key_parameters_url_passwords_and_quoted_keys() -> None:
    text = (
        "GET https://api.example/query?function=X&apikey=K-123&symbol=IBM failed; "
        "warehouse postgresql://stocks:pg-pass@db:5432/stocks down; "
        "We have detected your API key as QUOTED99 and our standard API rate limit; "
        "token hooks-tok-1 in (apikey=K-123)"
    )

    clean = scrub(text, ["hooks-tok-1", "pg-pass"])

    for secret in ("K-123", "pg-pass", "QUOTED99", "hooks-tok-1"):
        assert secret not in clean
    assert "apikey=***&symbol=IBM" in clean
    assert "postgresql://stocks:***@db:5432/stocks" in clean
    assert "detected your API key as *** and" in clean
    assert "(apikey=***)" in clean


def test_every_notice_says_what_failed_the_run_and_where_to_look() -> None:
    notice = task_failed(
        source="airflow ingest_stocks.plan_batches",
        what="ingest_stocks.plan_batches",
        error="ConfigError: bad configuration",
        run_id="manual__1",
        audit_run_id="6f1c0000-0000-5000-8000-000000000001",
        where=("task log: http://af/log", "stocks-elt status"),
    )

    text = notice.text()
    assert notice.subject == "[stocks-elt] ingest_stocks.plan_batches failed"
    assert "What failed:\n  - ingest_stocks.plan_batches: ConfigError" in text
    assert "  run id: manual__1\n" in text
    assert "  audit run id: 6f1c0000-0000-5000-8000-000000000001\n" in text
    assert (
        "Where to look:\n  - task log: http://af/log\n  - stocks-elt status\n" in text
    )


def test_the_webhook_payload_is_slack_compatible_json_with_the_facts() -> None:
    notice = symbols_not_fetched(
        {"A<B": "failed: HTTP 503 & more"},
        source="stocks-elt run",
        run_id="r1",
        audit_run_id="r1",
        where=("stocks-elt history --run r1",),
    )

    payload = json.loads(json.dumps(notice.payload()))  # plain JSON types only

    assert payload["text"].startswith("[stocks-elt] 1 symbol(s) could not be fetched")
    header, failed, run, where = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": notice.subject},
    }
    # Slack's control characters are escaped in mrkdwn.
    assert failed["text"]["text"] == "• A&lt;B: failed: HTTP 503 &amp; more"
    assert run["text"]["type"] == "mrkdwn"
    assert "stocks-elt history --run r1" in where["text"]["text"]
    assert payload["stocks_elt"]["failed"] == ["A<B: failed: HTTP 503 & more"]


def test_the_html_body_is_escaped() -> None:
    notice = task_failed(
        source="s", what="<script>", error="x", run_id=None, audit_run_id=None, where=()
    )
    assert "<script>" not in notice.html()
    assert "&lt;script&gt;" in notice.html()


def test_a_quality_failure_lists_check_symbol_observed_and_threshold() -> None:
    notice = quality_gate_failed(
        [
            FailedCheck(
                "extreme_moves", "AAPL", Decimal("0.6200"), Decimal("0.5"), None
            ),
            FailedCheck("row_count_reconciliation", None, 12, 0, "12 rows missing"),
        ],
        source="stocks-elt run",
        run_id="r",
        audit_run_id="r",
        where=(),
    )

    assert notice.failed == (
        "extreme_moves: AAPL observed 0.62 vs threshold 0.5",
        "row_count_reconciliation: all symbols observed 12 vs threshold 0 "
        "(12 rows missing)",
    )
    assert notice.title == (
        "quality gate failed: extreme_moves, row_count_reconciliation; "
        "the transform did not run"
    )


def test_a_quality_failure_without_recorded_results_quotes_the_gate() -> None:
    notice = quality_gate_failed(
        [], source="s", run_id=None, audit_run_id=None, where=(), summary="gate: x"
    )
    assert notice.failed == ("gate: x",)


def test_long_lists_are_capped_with_a_count() -> None:
    failed = {f"S{i:03d}": "not_found: x" for i in range(SHOWN_LINES + 7)}
    notice = symbols_not_fetched(
        failed, source="s", run_id=None, audit_run_id=None, where=()
    )

    assert len(notice.failed) == SHOWN_LINES + 1
    assert notice.failed[-1] == "and 7 more"
    assert notice.title.endswith("S000, S001, S002, S003, S004 ...")


def test_deferrals_and_deadlines_are_announced_once_by_their_key() -> None:
    since = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    deferred = deferred_piling_up(
        [Deferred("MSFT", since, 4, "quota"), Deferred("AAPL", since, 4, None)],
        days=3,
        today=date(2026, 12, 1),
        source="s",
        run_id=None,
        audit_run_id=None,
        where=(),
    )
    missed = freshness_missed(
        [Stale("IBM", None)],
        session=date(2026, 12, 1),
        deadline=time(21, 0),
        checked_at=datetime(2026, 12, 2, 2, 0, tzinfo=UTC),
        source="s",
        run_id=None,
        where=(),
    )

    assert deferred.dedupe_key == "deferred_piling_up:2026-12-01:AAPL,MSFT"
    assert missed.dedupe_key == "freshness_missed:2026-12-01"
    assert missed.failed == ("IBM: marts end at nothing, expected 2026-12-01",)


@pytest.mark.parametrize("error_length", [10, 5000])
def test_an_error_is_quoted_up_to_a_bound(error_length: int) -> None:
    notice = task_failed(
        source="s",
        what="w",
        error="e" * error_length,
        run_id=None,
        audit_run_id=None,
        where=(),
    )
    assert len(notice.failed[0]) <= 1500 + len("w: ") + len(" ...")
