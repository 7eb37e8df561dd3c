"""
``stocks-elt airflow``: a local Apache Airflow 3 running this project's DAGs, no
Docker needed.

Four Airflow processes (api-server, scheduler, dag-processor, triggerer) run as
subprocesses, each in a session of its own, with LocalExecutor and a metadata
database under ``<data dir>/airflow`` (SQLite unless
``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` names another). The workers get the same
configuration as ``stocks-elt run``: every setting is passed on as its environment
variable, and the lake, the warehouse (the embedded Postgres when none is
configured) and the API are also passed as the Airflow connections the DAGs read
(``stocks_lake``, ``stocks_warehouse``, ``alpha_vantage``). Any ``AIRFLOW__*`` or
``AIRFLOW_CONN_*`` variable already set wins over these defaults.

This module never imports Airflow: Airflow runs only in the subprocesses, so the
package stays importable without it.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import click
import httpx
from pydantic import SecretStr

from stocks_elt.config import Settings, check_writable_paths, load_settings
from stocks_elt.errors import StocksEltError

logger = logging.getLogger(__name__)

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
#: Imported once by the LocalExecutor's forkserver and shared by every task.
_PRELOADED_MODULES = (
    "airflow.executors.local_executor",
    "airflow.sdk.execution_time.task_runner",
    "cosmos.operators.local",
    "dbt.cli.main",
    "dbt.adapters.postgres",
)
POOL_NAME = "alpha_vantage"
DAG_IDS = ("ingest_stocks", "load_stocks_from_minio", "dbt_run_models")


class AirflowError(StocksEltError):
    """The local Airflow could not be started or did not become healthy."""


@dataclass
class LocalAirflow:
    """A local Airflow for this project: prepare, start, wait, stop.

    Use it as a context manager (``with LocalAirflow(settings) as airflow:``) to
    start it, wait until all four components report healthy and stop it on exit.

    Attributes:
        settings: the pipeline's configuration, passed on to every task.
        port: where the UI, the REST API and the task execution API listen.
        host: the address they bind (loopback by default).
        dags_folder: the project's ``dags/``; found next to the package by default.
        parallelism: task slots of the LocalExecutor.
        pool_slots: slots of the ``alpha_vantage`` pool when it is created.
        log_server_ports: ports of the worker's and the triggerer's log servers.
        stop_timeout: seconds the components get to stop before SIGKILL.
        extra_env: more environment variables for the processes (they win).
    """

    settings: Settings
    port: int = 8080
    host: str = "127.0.0.1"
    dags_folder: Path | None = None
    parallelism: int = 8
    pool_slots: int = 4
    log_server_ports: tuple[int, int] = (8793, 8794)
    stop_timeout: float = 30.0
    extra_env: Mapping[str, str] = field(default_factory=dict)
    _processes: dict[str, subprocess.Popen[bytes]] = field(
        default_factory=dict, init=False, repr=False
    )
    _log_files: list[IO[bytes]] = field(default_factory=list, init=False, repr=False)
    _password: str | None = field(default=None, init=False, repr=False)
    _resolved: Settings | None = field(default=None, init=False, repr=False)
    _api: httpx.Client | None = field(default=None, init=False, repr=False)

    @property
    def home(self) -> Path:
        """AIRFLOW_HOME: ``<data dir>/airflow``."""
        return self.settings.data_dir.resolve() / "airflow"

    @property
    def base_url(self) -> str:
        """The URL of the UI and the REST API."""
        return f"http://{self.host}:{self.port}"

    @property
    def user(self) -> str:
        """The login name (``STOCKS_ELT_AIRFLOW_USER``)."""
        return self.settings.airflow_user

    @property
    def password(self) -> str:
        """The login password, known once :meth:`prepare` ran."""
        if self._password is None:
            raise AirflowError("the local Airflow is not prepared yet")
        return self._password

    # -- preparing -----------------------------------------------------------

    def prepare(self) -> bool:
        """Create the home, the login and the metadata database.

        Returns:
            True when a password was generated (it is then shown once).

        Raises:
            AirflowError: ``airflow db migrate`` failed; the message has its output.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "run").mkdir(exist_ok=True)
        generated = self._write_password_file()
        self._run_once(["db", "migrate"], "db-migrate")
        return generated

    def _write_password_file(self) -> bool:
        path = self.home / "passwords.json"
        stored: dict[str, str] = {}
        if path.exists():
            with suppress(ValueError):
                stored = dict(json.loads(path.read_text(encoding="utf-8")))
        generated = False
        if self.settings.airflow_password is not None:
            password = self.settings.airflow_password.get_secret_value()
        elif self.user in stored:
            password = stored[self.user]
        else:
            password = secrets.token_urlsafe(18)
            generated = True
        self._password = password
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(json.dumps({self.user: password}), encoding="utf-8")
        return generated

    def environment(self) -> dict[str, str]:
        """Return the environment every Airflow process (and task) runs with."""
        if self._resolved is None:
            self._resolved = resolve_settings(self.settings)
        env = dict(os.environ)
        env.update(settings_environment(self._resolved))
        home = self.home
        dags = (self.dags_folder or find_dags_folder()).resolve()
        defaults = {
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.user}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
                home / "passwords.json"
            ),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API__HOST": self.host,
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.log_server_ports[0]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.log_server_ports[1]),
            # LocalExecutor workers start from a forkserver that imported dbt and
            # Cosmos once; every task process forks from a worker and inherits them
            # instead of importing dbt again (about 4 s of CPU per dbt task).
            "AIRFLOW__SCHEDULER__MP_START_METHOD": "forkserver",
            "AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD": ",".join(_PRELOADED_MODULES),
            # A busy laptop answers the task execution API slowly (default 5 s).
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            # Cosmos lists the dbt project with dbt ls when its cache is cold.
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "180",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DO_NOT_TRACK": "1",
            "PYTHONUNBUFFERED": "1",
        }
        defaults.update(airflow_connections(self._resolved))
        for name, value in defaults.items():
            env.setdefault(name, value)
        # dbt (run by Cosmos) and airflow live next to this interpreter.
        bin_dir = str(Path(sys.executable).parent)
        if bin_dir not in env.get("PATH", "").split(os.pathsep):
            env["PATH"] = os.pathsep.join(filter(None, [bin_dir, env.get("PATH")]))
        env["AIRFLOW_HOME"] = str(home)
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
        env.update(self.extra_env)
        return env

    # -- running -------------------------------------------------------------

    def start(self) -> None:
        """Start the four components, each in a session (process group) of its own.

        Raises:
            AirflowError: already running.
        """
        if self._processes:
            raise AirflowError("the local Airflow is already running")
        env = self.environment()
        for component in COMPONENTS:
            log = (self.home / "run" / f"{component}.log").open("ab")
            self._log_files.append(log)
            self._processes[component] = subprocess.Popen(
                [sys.executable, "-m", "airflow", component],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            logger.info(
                "started component=%s pid=%d", component, self._processes[component].pid
            )

    def wait_healthy(self, timeout: float = 180.0) -> None:
        """Wait until ``/api/v2/monitor/health`` reports every component healthy.

        Raises:
            AirflowError: a component exited, or the timeout passed; the message
                names it and quotes the end of its log.
        """
        deadline = time.monotonic() + timeout
        last: Any = None
        with httpx.Client(base_url=self.base_url, timeout=5.0) as client:
            while time.monotonic() < deadline:
                self._raise_if_exited()
                with suppress(httpx.HTTPError, ValueError):
                    last = client.get("/api/v2/monitor/health").json()
                    states = {
                        name: (last.get(name) or {}).get("status")
                        for name in (
                            "metadatabase",
                            "scheduler",
                            "triggerer",
                            "dag_processor",
                        )
                    }
                    if all(state == "healthy" for state in states.values()):
                        logger.info("airflow healthy url=%s", self.base_url)
                        return
                time.sleep(0.5)
        raise AirflowError(
            f"Airflow at {self.base_url} not healthy after {timeout:.0f} s; "
            f"last health answer: {last}; logs in {self.home / 'run'}"
        )

    def _raise_if_exited(self) -> None:
        for component, process in self._processes.items():
            code = process.poll()
            if code is not None:
                raise AirflowError(
                    f"airflow {component} exited with code {code}:\n"
                    + self.log_tail(component)
                )

    def log_tail(self, component: str, lines: int = 30) -> str:
        """Return the last ``lines`` lines a component printed."""
        path = self.home / "run" / f"{component}.log"
        if not path.exists():
            return ""
        text = path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def running(self) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
        """Yield the components that are still running."""
        for component, process in self._processes.items():
            if process.poll() is None:
                yield component, process

    def stop(self, timeout: float | None = None) -> None:
        """Stop every component: SIGTERM to each process group, then SIGKILL.

        The process groups are signalled together, so stopping takes as long as
        the slowest component, at most ``timeout`` (default ``stop_timeout``)
        seconds before SIGKILL.
        """
        if timeout is None:
            timeout = self.stop_timeout
        for _component, process in self.running():
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for component, process in self._processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("killing component=%s after %.0f s", component, timeout)
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            # Task processes forked by the component live in its group too.
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        self._processes.clear()
        if self._api is not None:
            self._api.close()
            self._api = None
        for log in self._log_files:
            log.close()
        self._log_files.clear()

    def __enter__(self) -> LocalAirflow:
        self.prepare()
        self.start()
        try:
            self.wait_healthy()
            self.ensure_pool()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- REST API ------------------------------------------------------------

    def client(self) -> httpx.Client:
        """An HTTP client for ``/api/v2`` with a fresh token of the configured user.

        Raises:
            AirflowError: the login was refused.
        """
        response = httpx.post(
            f"{self.base_url}/auth/token",
            json={"username": self.user, "password": self.password},
            timeout=10.0,
        )
        if response.status_code >= 400:
            raise AirflowError(
                f"Airflow refused the login of user {self.user!r}: "
                f"HTTP {response.status_code} {response.text[:200]}"
            )
        token = response.json()["access_token"]
        return httpx.Client(
            base_url=f"{self.base_url}/api/v2",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,
        )

    @property
    def api(self) -> httpx.Client:
        """A client for ``/api/v2``, logged in once (tokens last 24 hours)."""
        if self._api is None:
            self._api = self.client()
        return self._api

    def wait_for_dags(
        self, dag_ids: tuple[str, ...] = DAG_IDS, timeout: float = 120.0
    ) -> None:
        """Wait until the DAG processor has parsed ``dag_ids``.

        Raises:
            AirflowError: a DAG file has an import error (quoted), or the timeout
                passed.
        """
        deadline = time.monotonic() + timeout
        missing = list(dag_ids)
        while time.monotonic() < deadline:
            self._raise_if_exited()
            errors = self.api.get("/importErrors").json().get("import_errors", [])
            if errors:
                raise AirflowError(
                    "DAG import errors:\n"
                    + "\n".join(f"{e['filename']}: {e['stack_trace']}" for e in errors)
                )
            missing = [
                d for d in dag_ids if self.api.get(f"/dags/{d}").status_code != 200
            ]
            if not missing:
                return
            time.sleep(1.0)
        raise AirflowError(f"DAGs {missing} not parsed after {timeout:.0f} s")

    def trigger_dag(
        self,
        dag_id: str,
        conf: Mapping[str, Any] | None = None,
        logical_date: datetime | None = None,
    ) -> str:
        """Start a run of ``dag_id`` now; return its run id.

        Args:
            dag_id: the DAG.
            conf: the run's params (``{"tickers": [...]}`` for ingest_stocks).
            logical_date: the moment the run is for (timezone-aware); None: none,
                the run is for the moment it was triggered.

        Raises:
            AirflowError: Airflow refused (for example a param failed validation).
        """
        response = self.api.post(
            f"/dags/{dag_id}/dagRuns",
            json={
                "logical_date": logical_date.isoformat() if logical_date else None,
                "conf": dict(conf or {}),
            },
        )
        if response.status_code >= 400:
            raise AirflowError(
                f"could not trigger {dag_id}: HTTP {response.status_code} "
                f"{response.text[:500]}"
            )
        run_id: str = response.json()["dag_run_id"]
        logger.info("triggered dag=%s run=%s", dag_id, run_id)
        return run_id

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Return the runs of ``dag_id``, oldest first."""
        response = self.api.get(
            f"/dags/{dag_id}/dagRuns", params={"order_by": "run_after", "limit": 100}
        )
        response.raise_for_status()
        runs: list[dict[str, Any]] = response.json()["dag_runs"]
        return runs

    def wait_for_dag_run(
        self, dag_id: str, run_id: str, timeout: float = 300.0
    ) -> dict[str, Any]:
        """Wait until a run finished; return it (its ``state`` says how).

        Raises:
            AirflowError: still running after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"
        while time.monotonic() < deadline:
            self._raise_if_exited()
            run: dict[str, Any] = self.api.get(path).json()
            if run.get("state") in ("success", "failed"):
                return run
            time.sleep(1.0)
        raise AirflowError(f"{dag_id} run {run_id} not finished after {timeout:.0f} s")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Return the task instances of one run (mapped ones one per index)."""
        path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        response = self.api.get(path, params={"limit": 1000})
        response.raise_for_status()
        instances: list[dict[str, Any]] = response.json()["task_instances"]
        return instances

    def ensure_pool(self) -> None:
        """Create the ``alpha_vantage`` pool unless it exists (its size is kept)."""
        api = self.api
        found = api.get(f"/pools/{POOL_NAME}")
        if found.status_code == 200:
            return
        created = api.post(
            "/pools",
            json={
                "name": POOL_NAME,
                "slots": self.pool_slots,
                "description": "Concurrent Alpha Vantage extract tasks; "
                "size it to the API key's quota.",
                "include_deferred": False,
            },
        )
        if created.status_code >= 400:
            raise AirflowError(
                f"could not create pool {POOL_NAME}: HTTP {created.status_code} "
                f"{created.text[:200]}"
            )
        logger.info("created pool=%s slots=%d", POOL_NAME, self.pool_slots)

    def _run_once(self, args: list[str], name: str) -> None:
        log_path = self.home / "run" / f"{name}.log"
        with log_path.open("wb") as log:
            code = subprocess.call(
                [sys.executable, "-m", "airflow", *args],
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if code != 0:
            raise AirflowError(
                f"airflow {' '.join(args)} failed with code {code}:\n"
                + self.log_tail(name)
            )


def find_dags_folder() -> Path:
    """Return the project's ``dags/``: in the working directory, or the source tree.

    Raises:
        AirflowError: neither has ``dags/ingest_stocks.py``.
    """
    candidates = [Path.cwd() / "dags", Path(__file__).resolve().parents[3] / "dags"]
    for candidate in candidates:
        if (candidate / "ingest_stocks.py").is_file():
            return candidate
    raise AirflowError(
        "no dags/ folder with ingest_stocks.py in "
        + " or ".join(str(c) for c in candidates)
        + "; pass --dags-folder"
    )


def resolve_settings(settings: Settings) -> Settings:
    """Return ``settings`` with the data dir, the lake and the warehouse made explicit.

    Every Airflow process then agrees on them whatever its working directory; the
    embedded Postgres is started when no warehouse is configured.

    Raises:
        WarehouseError: the embedded Postgres could not be started.
    """
    from stocks_elt.warehouse.connection import warehouse_url

    return settings.model_copy(
        update={
            "data_dir": settings.data_dir.resolve(),
            "lake_url": settings.resolved_lake_url,
            "warehouse_url": SecretStr(warehouse_url(settings)),
        }
    )


#: Settings that stay with the command: a task has no use for the admin login.
_NOT_PASSED_ON = frozenset({"airflow_user", "airflow_password"})


def settings_environment(settings: Settings) -> dict[str, str]:
    """Return every setting as the environment variable that sets it.

    Args:
        settings: resolved settings (see :func:`resolve_settings`).
    """
    env: dict[str, str] = {}
    for name, info in Settings.model_fields.items():
        value = getattr(settings, name)
        if value is None or name in _NOT_PASSED_ON:
            continue
        alias = info.validation_alias
        choices = getattr(alias, "choices", None)
        variable = str(choices[0]) if choices else f"STOCKS_ELT_{name.upper()}"
        env[variable] = _as_env_value(value)
    return env


def _as_env_value(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    return str(value)


def airflow_connections(settings: Settings) -> dict[str, str]:
    """Return ``AIRFLOW_CONN_*`` variables for the lake, warehouse and API.

    Args:
        settings: resolved settings (see :func:`resolve_settings`); the lake
            connection exists only for an ``s3://`` lake.
    """
    from stocks_elt.warehouse.connection import connection_parameters, warehouse_url

    params = connection_parameters(warehouse_url(settings))
    connections: dict[str, dict[str, Any]] = {
        "stocks_warehouse": {
            "conn_type": "postgres",
            "host": params["host"],
            "port": params["port"],
            "login": params["user"],
            "password": params["password"] or None,
            "schema": params["dbname"],
        },
        "alpha_vantage": {
            "conn_type": "http",
            "host": settings.alpha_vantage_base_url,
            "password": settings.alpha_vantage_api_key.get_secret_value(),
        },
    }
    lake_url = settings.resolved_lake_url
    if lake_url.startswith("s3://"):
        extra: dict[str, str] = {
            "lake_url": lake_url,
            "region_name": settings.aws_default_region,
        }
        if settings.s3_endpoint_url:
            extra["endpoint_url"] = settings.s3_endpoint_url
        connections["stocks_lake"] = {
            "conn_type": "aws",
            "login": _secret(settings.aws_access_key_id),
            "password": _secret(settings.aws_secret_access_key),
            "extra": extra,
        }
    return {
        f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(
            {key: value for key, value in conn.items() if value is not None}
        )
        for conn_id, conn in connections.items()
    }


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


@click.command("airflow")
@click.option("--port", default=8080, show_default=True, help="Port of the UI/API.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--dags-folder",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The DAGs to run (default: this project's dags/).",
)
@click.option(
    "--parallelism", default=8, show_default=True, help="LocalExecutor task slots."
)
@click.option(
    "--pool-slots",
    default=4,
    show_default=True,
    help="Slots of the alpha_vantage pool when it is first created.",
)
def airflow_command(
    port: int, host: str, dags_folder: Path | None, parallelism: int, pool_slots: int
) -> None:
    """Run Apache Airflow locally with this project's DAGs (Ctrl-C stops it)."""
    settings = load_settings()
    check_writable_paths(settings)
    airflow = LocalAirflow(
        settings,
        port=port,
        host=host,
        dags_folder=dags_folder,
        parallelism=parallelism,
        pool_slots=pool_slots,
    )
    click.echo(f"Airflow home: {airflow.home}; preparing the metadata database ...")
    generated = airflow.prepare()

    def request_stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a shell starts background jobs with SIGINT ignored, and Python
    # then installs no KeyboardInterrupt handler of its own.
    previous = {
        signum: signal.signal(signum, request_stop)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        airflow.start()
        airflow.wait_healthy()
        airflow.ensure_pool()
        click.echo(f"Airflow is up: {airflow.base_url}")
        if generated:
            click.echo(
                f"login: {airflow.user} / {airflow.password} (generated once, kept in "
                f"{airflow.home / 'passwords.json'}; set STOCKS_ELT_AIRFLOW_PASSWORD "
                "to choose one)"
            )
        else:
            click.echo(
                f"login: {airflow.user} (STOCKS_ELT_AIRFLOW_PASSWORD, or the password "
                f"kept in {airflow.home / 'passwords.json'})"
            )
        click.echo("DAGs: " + ", ".join(DAG_IDS) + ". Ctrl-C stops Airflow.")
        while True:
            airflow._raise_if_exited()
            time.sleep(1.0)
    except KeyboardInterrupt:
        click.echo("stopping Airflow ...", err=True)
    finally:
        # Stopping is bounded (SIGKILL after stop_timeout): let it finish.
        for signum in previous:
            signal.signal(signum, signal.SIG_IGN)
        airflow.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    click.echo("Airflow stopped.", err=True)
