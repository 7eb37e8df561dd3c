"""Run ids as the audit tables store them."""

from __future__ import annotations

import uuid

from stocks_elt.warehouse.audit import as_run_uuid


def test_a_uuid_run_id_is_kept_as_it_is() -> None:
    run_id = uuid.uuid4()

    assert as_run_uuid(str(run_id)) == run_id
    assert as_run_uuid(run_id) == run_id


def test_an_airflow_run_id_maps_to_the_same_uuid_every_time() -> None:
    airflow_run = "scheduled__2026-11-27T23:30:00+00:00"

    assert as_run_uuid(airflow_run) == as_run_uuid(airflow_run)
    assert as_run_uuid(airflow_run) != as_run_uuid(airflow_run + "x")
    assert as_run_uuid(airflow_run).version == 5


def test_no_run_id_gives_a_new_random_uuid() -> None:
    assert as_run_uuid(None) != as_run_uuid(None)
