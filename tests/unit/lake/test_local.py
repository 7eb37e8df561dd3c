"""What only the local folder backend promises: atomic files, hidden bookkeeping."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from stocks_elt.config import load_settings
from stocks_elt.errors import LakeError
from stocks_elt.lake import open_lake
from stocks_elt.lake.local import LocalLake, path_from_file_url
from stocks_elt.lake.s3 import S3Lake

KEY = "raw/alpha_vantage/function=SPLITS/symbol=IBM/ingest_date=2026-11-27/a.json"


def test_a_file_url_names_an_absolute_or_relative_folder(tmp_path: Path) -> None:
    assert path_from_file_url(tmp_path.as_uri()) == tmp_path
    assert path_from_file_url("file://.lake") == Path(".lake")
    assert path_from_file_url("file:///tmp/a%20b") == Path("/tmp/a b")


def test_a_url_that_is_not_a_file_url_is_refused() -> None:
    with pytest.raises(LakeError, match="not a file://"):
        path_from_file_url("s3://bucket/prefix")


def test_open_lake_picks_the_backend_from_the_url(tmp_path: Path) -> None:
    local = open_lake(load_settings(lake_url=(tmp_path / "l").as_uri()))
    default = open_lake(load_settings(lake_url=None, data_dir=tmp_path))
    remote = open_lake(
        load_settings(
            lake_url="s3://bucket/some/prefix",
            s3_endpoint_url="http://127.0.0.1:9",
            aws_access_key_id="id",
            aws_secret_access_key="secret",
        )
    )

    assert isinstance(local, LocalLake)
    assert local.root == tmp_path / "l"
    assert isinstance(default, LocalLake)
    assert default.root == tmp_path.resolve() / "lake"
    assert isinstance(remote, S3Lake)
    assert (remote.bucket, remote.prefix) == ("bucket", "some/prefix")


def test_bookkeeping_files_stay_hidden_and_unlisted(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path)
    lake.put(KEY, b"{}", {"function": "SPLITS"})
    folder = (tmp_path / KEY).parent
    (folder / ".tmp-leftover-of-a-crash").write_bytes(b"{")

    names = sorted(os.listdir(folder))

    assert names == [".a.json.meta", ".tmp-leftover-of-a-crash", "a.json"]
    assert [item.key for item in lake.list()] == [KEY]


def test_an_object_whose_sidecar_is_missing_has_empty_metadata(
    tmp_path: Path,
) -> None:
    lake = LocalLake(tmp_path)
    lake.put(KEY, b"{}", {"function": "SPLITS"})
    (tmp_path / KEY).with_name(".a.json.meta").unlink()

    found = lake.head(KEY)

    assert found is not None
    assert found.metadata == {}


def test_a_failed_write_leaves_no_object_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = LocalLake(tmp_path)

    def refuse(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "link", refuse)

    with pytest.raises(LakeError, match="No space left"):
        lake.put(KEY, b"{}", {})
    assert lake.head(KEY) is None
    assert os.listdir((tmp_path / KEY).parent) == []


def _race(root: str, key: str, writer: int, start: object) -> bool:
    start.wait()  # type: ignore[attr-defined]
    return LocalLake(root).put(key, f"writer {writer}".encode() * 10_000, {})


def test_of_processes_racing_on_one_key_exactly_one_wins(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Barrier(4)
        with context.Pool(4) as pool:
            results = pool.starmap(
                _race, [(str(tmp_path), KEY, n, start) for n in range(4)]
            )

    assert sorted(results) == [False, False, False, True]
    body = LocalLake(tmp_path).get(KEY)
    winner = results.index(True)
    assert body == f"writer {winner}".encode() * 10_000


def test_the_first_write_removes_what_a_killed_writer_left(tmp_path: Path) -> None:
    scratch = tmp_path / "lake" / ".tmp"
    scratch.mkdir(parents=True)
    stale, fresh = scratch / ".tmp-stale", scratch / ".tmp-fresh"
    stale.write_bytes(b"half a body")
    fresh.write_bytes(b"a body being written right now")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))

    LocalLake(tmp_path / "lake").put(KEY, b"{}", {})

    assert not stale.exists()
    assert fresh.exists()  # another writer's, still at work
    assert sorted(p.name for p in scratch.iterdir()) == [".tmp-fresh"]
