"""Run manifests: written once, read back, and refused when they are not one."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from stocks_elt.errors import LakeError
from stocks_elt.lake.local import LocalLake
from stocks_elt.lake.manifests import manifest_key, read_manifest, write_manifest

RUN = uuid.UUID("0f0e0d0c-0b0a-4908-8706-050403020100")


def test_a_manifest_names_its_objects_and_is_written_once(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    key = manifest_key("ingest_stocks", RUN)
    objects = [
        f"raw/alpha_vantage/function=SPLITS/symbol=S{n}/x.json" for n in range(3)
    ]

    write_manifest(lake, key, "scheduled__2024-06-21", list(reversed(objects)))
    write_manifest(lake, key, "scheduled__2024-06-21", ["raw/other.json"])

    assert key == f"manifests/ingest_stocks/run={RUN}.json"
    assert read_manifest(lake, key) == objects  # sorted, and the first one kept
    assert [item.key for item in lake.list()] == []  # not among the answers


def test_a_key_outside_the_manifests_is_refused(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    with pytest.raises(LakeError, match="not a manifest key"):
        read_manifest(lake, "raw/alpha_vantage/x.json")
