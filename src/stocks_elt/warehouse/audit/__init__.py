"""
The ``audit`` schema: what every run did. Every statement on ``audit.*`` lives in
this package, one module per table:

    runs        audit.pipeline_runs     runs, their stages and outcomes;
                                        ``as_run_uuid``, the one run-id -> UUID map
    extract     audit.extract_outcomes  per-symbol extract outcomes
    quality     audit.dq_results        data-quality check results
    api_calls   audit.api_calls         the quota ledger shared by every caller of
                                        a key (``WarehouseQuota``)

Run ids are UUIDs in the warehouse. Any other text (every Airflow run id, such as
``scheduled__2026-11-27T23:30:00+00:00``) maps to the same UUID in every table,
through ``as_run_uuid`` alone, so the rows of one run join.
"""

from __future__ import annotations

from stocks_elt.warehouse.audit.runs import PipelineRunRecorder, as_run_uuid

__all__ = ["PipelineRunRecorder", "as_run_uuid"]
