"""The manifest cache's key and its memory and disk levels, with dbt's own Manifest."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dbt.contracts.graph.manifest import Manifest

from stocks_elt.transform import manifest as cache
from stocks_elt.transform import packaged_project_dir
from stocks_elt.transform.manifest import cached_manifest, manifest_key

PROFILE = {
    "STOCKS_ELT_DBT_HOST": "127.0.0.1",
    "STOCKS_ELT_DBT_PORT": "5432",
    "STOCKS_ELT_DBT_USER": "postgres",
    "STOCKS_ELT_DBT_DBNAME": "stocks",
    "DBT_ENV_SECRET_STOCKS_ELT_PASSWORD": "s3cret",
}


@pytest.fixture(autouse=True)
def _cold_process() -> Iterator[None]:
    cache.forget_warm_manifests()
    yield
    cache.forget_warm_manifests()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the packaged dbt project that a test may change."""
    copy = tmp_path / "project"
    shutil.copytree(
        packaged_project_dir(), copy, ignore=shutil.ignore_patterns("target")
    )
    return copy


class Parser:
    """Stands in for dbt's parse: counts calls, returns a Manifest of dbt's."""

    def __init__(self, env_vars: dict[str, str] | None = None) -> None:
        self.calls = 0
        self.env_vars = env_vars or {}

    def __call__(self) -> Any:
        self.calls += 1
        parsed = Manifest()
        parsed.env_vars = dict(self.env_vars)
        return parsed


def test_changing_any_model_file_changes_the_key(project: Path) -> None:
    before = manifest_key(project, PROFILE)
    model = project / "models" / "marts" / "dim_symbols.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    assert manifest_key(project, PROFILE) != before


def test_adding_or_renaming_a_file_changes_the_key(project: Path) -> None:
    before = manifest_key(project, PROFILE)
    macro = next((project / "macros").glob("*.sql"))
    macro.rename(macro.with_name("renamed_" + macro.name))
    renamed = manifest_key(project, PROFILE)
    (project / "models" / "staging" / "extra.sql").write_text("select 1 as one\n")
    assert len({before, renamed, manifest_key(project, PROFILE)}) == 3


def test_dbt_output_folders_and_the_password_are_not_part_of_the_key(
    project: Path,
) -> None:
    before = manifest_key(project, PROFILE)
    for folder in ("target", "logs"):
        (project / folder).mkdir()
        (project / folder / "manifest.json").write_text("{}")
    assert manifest_key(project, PROFILE) == before
    changed_password = {**PROFILE, "DBT_ENV_SECRET_STOCKS_ELT_PASSWORD": "other"}
    assert manifest_key(project, changed_password) == before


@pytest.mark.parametrize(
    "field", ["STOCKS_ELT_DBT_HOST", "STOCKS_ELT_DBT_PORT", "STOCKS_ELT_DBT_DBNAME"]
)
def test_another_warehouse_is_another_key(project: Path, field: str) -> None:
    assert manifest_key(project, {**PROFILE, field: "other"}) != manifest_key(
        project, PROFILE
    )


def test_another_dbt_version_is_another_key(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = manifest_key(project, PROFILE)
    monkeypatch.setattr(cache, "_version", lambda name: "9.9.9")
    assert manifest_key(project, PROFILE) != before


def test_a_manifest_is_parsed_once_then_reused_from_memory(tmp_path: Path) -> None:
    parse = Parser()
    first = cached_manifest("k1", tmp_path, parse, PROFILE)
    again = cached_manifest("k1", tmp_path, parse, PROFILE)
    assert parse.calls == 1
    assert again is first


def test_a_new_process_reads_the_manifest_from_disk_without_parsing(
    tmp_path: Path,
) -> None:
    cached_manifest("k1", tmp_path, Parser(env_vars={"STOCKS_ELT_X": "1"}), PROFILE)
    cache.forget_warm_manifests()  # as a new process starts
    parse = Parser()
    read = cached_manifest("k1", tmp_path, parse, {**PROFILE, "STOCKS_ELT_X": "1"})
    assert parse.calls == 0
    assert read.env_vars == {"STOCKS_ELT_X": "1"}
    assert [path.name for path in tmp_path.iterdir()] == ["k1.msgpack"]


def test_another_key_is_parsed_again(tmp_path: Path) -> None:
    parse = Parser()
    cached_manifest("k1", tmp_path, parse, PROFILE)
    cached_manifest("k2", tmp_path, parse, PROFILE)
    assert parse.calls == 2


def test_a_changed_env_var_the_parse_read_means_a_new_parse(tmp_path: Path) -> None:
    cached_manifest("k1", tmp_path, Parser(env_vars={"STOCKS_ELT_X": "1"}), PROFILE)
    parse = Parser(env_vars={"STOCKS_ELT_X": "2"})
    cached_manifest("k1", tmp_path, parse, {**PROFILE, "STOCKS_ELT_X": "2"})
    cache.forget_warm_manifests()
    cached_manifest("k1", tmp_path, parse, {**PROFILE, "STOCKS_ELT_X": "3"})
    assert parse.calls == 2


def test_an_unreadable_cache_file_is_parsed_again_and_replaced(
    tmp_path: Path,
) -> None:
    (tmp_path / "k1.msgpack").write_bytes(b"\x93 not a manifest")
    parse = Parser()
    cached_manifest("k1", tmp_path, parse, PROFILE)
    cache.forget_warm_manifests()
    cached_manifest("k1", tmp_path, parse, PROFILE)
    assert parse.calls == 1


def test_the_disk_cache_keeps_the_newest_manifests_only(tmp_path: Path) -> None:
    parse = Parser()
    for number in range(12):
        cached_manifest(f"k{number:02d}", tmp_path, parse, PROFILE)
    kept = sorted(path.name for path in tmp_path.glob("*.msgpack"))
    assert len(kept) == 8
    assert "k11.msgpack" in kept
    assert not list(tmp_path.glob(".*.tmp"))
