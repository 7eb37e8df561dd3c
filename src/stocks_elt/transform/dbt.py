"""
Run the dbt project against the warehouse, in-process.

The project ships inside the package (``stocks_elt/transform/dbt_project``, found
through ``importlib.resources``), so an installed wheel runs the transform as a
checkout does; pass ``project_dir`` to use another copy. Its ``profiles.yml`` reads
the connection from ``STOCKS_ELT_DBT_*`` variables, which this module sets from the
settings for the duration of a call (the password goes in
``DBT_ENV_SECRET_STOCKS_ELT_PASSWORD``, which dbt scrubs from its logs). dbt's
target and log folders go under ``<data dir>/dbt``, so a read-only installation
works.

dbt does not parse the project on every call: the parsed manifest is kept in this
process and in ``<data dir>/dbt/manifests``, keyed by the project's files, dbt's
version and the profile (``stocks_elt.transform.manifest``), and handed to
``dbtRunner(manifest=...)``.

dbt's runner is not thread-safe: run one transform per process at a time.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stocks_elt.config import Settings
from stocks_elt.errors import TransformError
from stocks_elt.results import TransformResult
from stocks_elt.transform import packaged_project_dir
from stocks_elt.transform.manifest import cached_manifest, manifest_key
from stocks_elt.warehouse.connection import connection_parameters, warehouse_url

logger = logging.getLogger(__name__)


_MODEL = "model"
_TESTS = frozenset({"test", "unit_test"})
_FAILED = frozenset({"error", "fail"})
_LOCK = threading.Lock()


def dbt_project_dir(project_dir: Path | None = None) -> Path:
    """Return the dbt project folder: ``project_dir``, or the one this package ships.

    Raises:
        TransformError: the folder holds no ``dbt_project.yml`` (or the package is
            installed somewhere that is not a folder on disk, such as a zip file).
    """
    folder = (project_dir or packaged_project_dir()).resolve()
    if not (folder / "dbt_project.yml").is_file():
        raise TransformError(
            f"no dbt project in {folder}: dbt_project.yml is missing; reinstall "
            "stocks-elt or pass the project folder"
        )
    return folder


def dbt_environment(settings: Settings) -> dict[str, str]:
    """Return the variables ``dbt/profiles.yml`` reads, for the settings' warehouse.

    Starts the embedded Postgres when no warehouse URL is configured.

    Raises:
        WarehouseError: the embedded Postgres could not be started.
    """
    parameters = connection_parameters(warehouse_url(settings))
    return {
        "STOCKS_ELT_DBT_HOST": str(parameters["host"]),
        "STOCKS_ELT_DBT_PORT": str(parameters["port"]),
        "STOCKS_ELT_DBT_USER": str(parameters["user"]),
        "DBT_ENV_SECRET_STOCKS_ELT_PASSWORD": str(parameters["password"]),
        "STOCKS_ELT_DBT_DBNAME": str(parameters["dbname"]),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    *,
    project_dir: Path | None = None,
) -> Any:
    """Invoke dbt in-process with ``args`` against the settings' warehouse.

    Project, profiles, target and log folders are added to ``args``. dbt starts
    from the cached manifest of this project and profile; the project is parsed
    only when none fits (a first run, a changed file, another warehouse).

    Args:
        settings: where the warehouse and the data dir are.
        args: the dbt command and its options, e.g. ``["docs", "generate"]``.
        project_dir: another dbt project folder (default: the checkout's).

    Returns:
        dbt's ``dbtRunnerResult`` (``success``, ``result``, ``exception``).

    Raises:
        TransformError: no dbt project was found, or dbt could not parse it.
        WarehouseError: the embedded Postgres could not be started.
    """
    from dbt.cli.main import dbtRunner

    folder = dbt_project_dir(project_dir)
    work = settings.data_dir.resolve() / "dbt"
    common = [
        "--project-dir",
        str(folder),
        "--profiles-dir",
        str(folder),
        "--log-path",
        str(work / "logs"),
    ]
    if not logger.isEnabledFor(logging.DEBUG):
        common.append("--quiet")
    environment = dbt_environment(settings)
    with _LOCK, _environment(environment):
        manifest = cached_manifest(
            manifest_key(folder, environment),
            work / "manifests",
            lambda: _parse_project(common, work),
            environment,
        )
        return dbtRunner(manifest=manifest).invoke(
            [*args, *common, "--target-path", str(work / "target")]
        )


def _parse_project(common: Sequence[str], work: Path) -> Any:
    """Parse the project in a target folder of its own; return dbt's manifest.

    Raises:
        TransformError: dbt could not parse the project (the message says why).
    """
    from dbt.cli.main import dbtRunner

    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="parse-", dir=work) as target:
        outcome = dbtRunner().invoke(["parse", *common, "--target-path", target])
    if not outcome.success or outcome.result is None:
        raise TransformError(
            f"dbt could not parse the project: {outcome.exception or 'see the dbt log'}"
        )
    return outcome.result


def run_dbt_build(
    settings: Settings,
    *,
    select: Sequence[str] | None = None,
    full_refresh: bool = False,
    project_dir: Path | None = None,
) -> TransformResult:
    """Run ``dbt build`` (models, then their unit and data tests, in DAG order).

    Daily marts are incremental: a run costs in proportion to the new raw rows, and
    a new split or dividend rebuilds that symbol's history.

    Args:
        settings: where the warehouse and the data dir are.
        select: dbt node selectors (``["fct_daily_bars+"]``); None builds all.
        full_refresh: rebuild the incremental marts from scratch.
        project_dir: another dbt project folder (default: the checkout's).

    Returns:
        Counts of models built and tests passed, failed and warned.

    Raises:
        TransformError: dbt could not run, a model failed or a test failed; the
            message names every failing node.
        WarehouseError: the embedded Postgres could not be started.
    """
    args = ["build"]
    if select:
        args += ["--select", *select]
    if full_refresh:
        args.append("--full-refresh")
    logger.info(
        "dbt build starting select=%s full_refresh=%s",
        " ".join(select) if select else "all",
        full_refresh,
    )
    started = time.perf_counter()
    outcome = run_dbt(settings, args, project_dir=project_dir)
    duration = time.perf_counter() - started
    if outcome.result is None:
        reason = outcome.exception or "no result"
        raise TransformError(f"dbt build did not run: {reason}")
    result = _summarise(outcome.result.results, duration)
    logger.info(
        "dbt build finished models=%d tests_passed=%d tests_failed=%d "
        "tests_warned=%d seconds=%.1f",
        result.models_built,
        result.tests_passed,
        result.tests_failed,
        result.tests_warned,
        result.duration,
    )
    if result.failures or not outcome.success:
        raise TransformError(
            "dbt build failed: "
            + ("; ".join(result.failures) or str(outcome.exception or "unknown"))
        )
    return result


def generate_docs(settings: Settings, *, project_dir: Path | None = None) -> Path:
    """Run ``dbt docs generate`` and return the folder holding ``index.html``.

    Raises:
        TransformError: dbt failed to compile the project or read the catalog.
        WarehouseError: the embedded Postgres could not be started.
    """
    outcome = run_dbt(settings, ["docs", "generate"], project_dir=project_dir)
    if not outcome.success:
        raise TransformError(
            f"dbt docs generate failed: {outcome.exception or 'see the dbt log'}"
        )
    return settings.data_dir.resolve() / "dbt" / "target"


def _summarise(results: Sequence[Any], duration: float) -> TransformResult:
    models = passed = failed = warned = 0
    failures: list[str] = []
    for item in results:
        kind = str(item.node.resource_type)
        status = str(item.status)
        if kind == _MODEL and status == "success":
            models += 1
        elif kind in _TESTS and status == "pass":
            passed += 1
        elif kind in _TESTS and status == "warn":
            warned += 1
        elif kind in _TESTS and status in _FAILED:
            failed += 1
        if status in _FAILED:
            message = " ".join(str(item.message or status).split())
            failures.append(f"{item.node.unique_id}: {message}")
        elif status == "skipped":
            logger.warning("dbt skipped node=%s", item.node.unique_id)
    return TransformResult(
        models_built=models,
        tests_passed=passed,
        tests_failed=failed,
        tests_warned=warned,
        duration=duration,
        failures=tuple(failures),
    )


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block, then restore what was there."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
