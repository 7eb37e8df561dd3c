"""
dbt's parsed project (its manifest), parsed once and reused.

Parsing the project costs dbt about five seconds of CPU; a manifest is reused
instead whenever nothing it depends on changed. It is kept at two levels:

* in this process, the last manifests parsed or read, so a second transform in the
  same process (a test session, a long-lived worker) starts dbt with no parse;
* on disk, ``<cache dir>/<key>.msgpack`` in dbt's own partial-parse format, so a
  new process (``stocks-elt transform``, the demo) reads it in a fraction of a
  second instead of parsing.

The key is a hash of everything the parse reads: every file of the project (path
and bytes), the versions of dbt-core, dbt-adapters and dbt-postgres, and the
profile's connection fields (node names hold the database; the password is left
out). A changed model, macro, profile or dbt upgrade is a new key, so a stale
manifest is never used. A manifest whose recorded ``env_var()`` values differ from
the environment's is parsed again too.

Files are written to a temporary name and renamed into place, so two processes
sharing the cache never read a half-written manifest; the last writer wins, with
the same content.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Folders of a dbt project that hold dbt's output, not its input.
_OUTPUT_FOLDERS = frozenset(
    {"target", "logs", "dbt_packages", "dbt_internal_packages", "__pycache__"}
)
#: Distributions whose code or macros end up in the manifest.
_DISTRIBUTIONS = ("dbt-core", "dbt-adapters", "dbt-postgres")
#: The variable holding the warehouse password: never part of a key.
SECRET_PREFIX = "DBT_ENV_SECRET_"  # noqa: S105 - a prefix, not a secret
#: How many manifests stay in memory, and on disk.
_WARM_LIMIT = 4
_DISK_LIMIT = 8
_SUFFIX = ".msgpack"

_warm: OrderedDict[str, Any] = OrderedDict()


def manifest_key(project_dir: Path, environment: Mapping[str, str]) -> str:
    """Return the cache key of the manifest of ``project_dir`` for this profile.

    Args:
        project_dir: the dbt project folder.
        environment: the variables ``profiles.yml`` reads; secrets are skipped.
    """
    digest = hashlib.sha256()
    for name in _DISTRIBUTIONS:
        digest.update(f"{name}={_version(name)}\0".encode())
    for name in sorted(environment):
        if not name.startswith(SECRET_PREFIX):
            digest.update(f"{name}={environment[name]}\0".encode())
    for path in _project_files(project_dir):
        digest.update(path.relative_to(project_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


def cached_manifest(
    key: str,
    cache_dir: Path,
    parse: Callable[[], Any],
    environment: Mapping[str, str],
) -> Any:
    """Return the manifest for ``key``: from memory, from ``cache_dir``, or parsed.

    Args:
        key: ``manifest_key(...)`` of the project and profile.
        cache_dir: where manifests are kept (created if missing).
        parse: parses the project and returns dbt's ``Manifest``; called on a miss.
        environment: the environment dbt runs in, to check the ``env_var()``
            values a manifest was parsed with.

    Returns:
        dbt's ``Manifest``, ready for ``dbtRunner(manifest=...)``.
    """
    manifest = _warm.get(key)
    if manifest is not None and _env_vars_match(manifest, environment):
        _warm.move_to_end(key)
        return manifest
    path = cache_dir / f"{key}{_SUFFIX}"
    manifest = _read(path)
    if manifest is not None and not _env_vars_match(manifest, environment):
        logger.info("dbt manifest cache stale key=%s reason=env_var changed", key)
        manifest = None
    if manifest is None:
        manifest = parse()
        _write(path, manifest)
        _prune(cache_dir, keep=path)
        logger.info("dbt manifest parsed key=%s nodes=%d", key, len(manifest.nodes))
    _remember(key, manifest)
    return manifest


def forget_warm_manifests() -> None:
    """Drop the manifests kept in this process (the on-disk cache stays)."""
    _warm.clear()


def _project_files(project_dir: Path) -> Iterator[Path]:
    for folder, subfolders, files in os.walk(project_dir):
        subfolders[:] = sorted(
            name
            for name in subfolders
            if name not in _OUTPUT_FOLDERS and not name.startswith(".")
        )
        for name in sorted(files):
            if not name.startswith(".") and not name.endswith(".pyc"):
                yield Path(folder) / name


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "-"


def _env_vars_match(manifest: Any, environment: Mapping[str, str]) -> bool:
    """True when every ``env_var()`` the parse read still has the same value."""
    recorded: Mapping[str, str] = manifest.env_vars or {}
    return all(
        environment.get(name, os.environ.get(name)) == value
        for name, value in recorded.items()
        if not name.startswith(SECRET_PREFIX)
    )


def _read(path: Path) -> Any:
    from dbt.contracts.graph.manifest import Manifest
    from dbt.parser.manifest import extended_mashumuro_decoder
    from dbt.version import __version__

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        manifest: Any = Manifest.from_msgpack(data, decoder=extended_mashumuro_decoder)
    except Exception as exc:  # an unreadable cache is a miss
        logger.warning("dbt manifest cache unreadable file=%s error=%s", path, exc)
        return None
    if manifest.metadata.dbt_version != __version__:
        return None
    # What dbt itself does with a saved parse it can reuse whole.
    manifest.build_parent_and_child_maps()
    manifest.build_group_map()
    manifest.build_flat_graph()
    return manifest


def _write(path: Path, manifest: Any) -> None:
    """Write ``manifest`` under a temporary name, then rename it into place."""
    from dbt.parser.manifest import extended_mashumaro_encoder

    path.parent.mkdir(parents=True, exist_ok=True)
    data = manifest.to_msgpack(extended_mashumaro_encoder)
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _prune(cache_dir: Path, keep: Path) -> None:
    """Keep the newest manifests on disk; another process may prune the same."""
    dated: list[tuple[float, Path]] = []
    for path in cache_dir.glob(f"*{_SUFFIX}"):
        try:
            dated.append((path.stat().st_mtime, path))
        except FileNotFoundError:
            continue
    dated.sort(reverse=True)
    for _, old in dated[_DISK_LIMIT:]:
        if old != keep:
            old.unlink(missing_ok=True)


def _remember(key: str, manifest: Any) -> None:
    _warm[key] = manifest
    _warm.move_to_end(key)
    while len(_warm) > _WARM_LIMIT:
        _warm.popitem(last=False)
