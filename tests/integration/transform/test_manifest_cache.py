"""The cached dbt manifest against a real warehouse: reused, never stale, shared."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import psycopg
import pytest

from stocks_elt.config import Settings
from stocks_elt.emulator.universe import universe_for_symbols
from stocks_elt.transform import dbt, packaged_project_dir
from stocks_elt.transform import manifest as cache
from stocks_elt.transform.dbt import run_dbt_build

from .conftest import fetch_rows, load_market

TODAY = date(2024, 3, 28)
STAGING_VIEW = "stg_alpha_vantage__symbols"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the packaged dbt project that the test changes."""
    copy = tmp_path / "project"
    shutil.copytree(
        packaged_project_dir(), copy, ignore=shutil.ignore_patterns("target")
    )
    return copy


@pytest.fixture
def settings(warehouse: str, tmp_path: Path) -> Settings:
    """Settings with a data dir (and so a manifest cache) of this test's own."""
    cache.forget_warm_manifests()
    return Settings(warehouse_url=warehouse, data_dir=tmp_path / "data")


def _view_columns(url: str, view: str) -> list[str]:
    rows = fetch_rows(
        url,
        "select column_name from information_schema.columns"
        " where table_schema = 'staging' and table_name = %s order by column_name",
        view,
    )
    return [row[0] for row in rows]


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    parses: list[int] = []
    parse = dbt._parse_project

    def counting(*args: object, **kwargs: object) -> object:
        parses.append(1)
        return parse(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(dbt, "_parse_project", counting)
    return parses


def test_a_changed_model_is_parsed_again_and_built_as_changed(
    settings: Settings,
    warehouse: str,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    load_market(warehouse, universe_for_symbols(["IBM"]), TODAY)
    parses = _count_parses(monkeypatch)
    run_dbt_build(settings, select=["staging"], project_dir=project)
    run_dbt_build(settings, select=["staging"], project_dir=project)
    assert len(parses) == 1
    assert "probe_column" not in _view_columns(warehouse, STAGING_VIEW)

    model = project / "models" / "staging" / f"{STAGING_VIEW}.sql"
    text = model.read_text()
    assert text.rstrip().endswith("select * from renamed"), "the model's tail moved"
    model.write_text(
        text.rstrip().removesuffix("select * from renamed")
        + "select *, 1 as probe_column from renamed\n"
    )
    run_dbt_build(settings, select=["staging"], project_dir=project)
    assert len(parses) == 2
    assert "probe_column" in _view_columns(warehouse, STAGING_VIEW)


def test_a_new_process_builds_from_the_cached_manifest_without_parsing(
    settings: Settings, warehouse: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_market(warehouse, universe_for_symbols(["IBM"]), TODAY)
    run_dbt_build(settings, select=["staging"])
    cache.forget_warm_manifests()  # what a new process starts with

    def refuse() -> None:
        raise AssertionError("the project was parsed again")

    monkeypatch.setattr(dbt, "_parse_project", lambda *args: refuse())
    with psycopg.connect(warehouse) as conn:
        conn.execute("drop schema staging cascade")
    result = run_dbt_build(settings, select=["staging"])
    assert result.models_built == 4
    assert _view_columns(warehouse, STAGING_VIEW)


_WRITER = textwrap.dedent(
    """
    import logging
    import sys
    from pathlib import Path
    from stocks_elt.transform import manifest as cache

    warnings = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = warnings.append
    logging.getLogger(cache.__name__).addHandler(handler)

    def parse():
        from dbt.contracts.graph.manifest import Manifest
        from dbt.parser.manifest import extended_mashumuro_decoder
        return Manifest.from_msgpack(
            Path(sys.argv[2]).read_bytes(), decoder=extended_mashumuro_decoder
        )

    folder = Path(sys.argv[1])
    for _ in range(int(sys.argv[3])):
        cache.forget_warm_manifests()
        (folder / "shared.msgpack").unlink(missing_ok=True)
        manifest = cache.cached_manifest("shared", folder, parse, {})
        assert manifest.nodes, "a manifest without its nodes"
    assert not warnings, [record.getMessage() for record in warnings]
    """
)


def test_two_processes_sharing_the_cache_never_read_a_torn_manifest(
    settings: Settings, warehouse: str, tmp_path: Path
) -> None:
    run_dbt_build(settings, select=["staging"])
    (parsed,) = (settings.data_dir / "dbt" / "manifests").glob("*.msgpack")
    shared = tmp_path / "shared"
    shared.mkdir()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(shared), str(parsed), "15"],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    errors = [writer.communicate(timeout=300)[1] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0], errors
    assert [path.name for path in shared.iterdir()] == ["shared.msgpack"]
    cache.forget_warm_manifests()
    read = cache.cached_manifest("shared", shared, lambda: None, {})
    assert sorted(read.nodes) == sorted(cache._read(parsed).nodes)
