"""
A local Apache Airflow 3 running this project's DAGs, no Docker needed
(``stocks-elt airflow``).

Four Airflow processes (api-server, scheduler, dag-processor, triggerer) run as
subprocesses, each in a session of its own, with LocalExecutor and a metadata
database under ``<data dir>/airflow`` (SQLite unless
``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` names another). With
``executor="celery"`` the tasks run on ``workers`` ``airflow celery worker``
processes instead (CeleryExecutor, broker ``STOCKS_ELT_AIRFLOW_BROKER_URL``,
results in the metadata database), each with a Celery hostname and a working
directory of its own, sharing no local disk for data: the lake must be S3/MinIO,
the warehouse and the metadata database Postgres servers, exactly as when the
workers run on other machines (``docs/scale-out.md``). The tasks get the same
configuration as ``stocks-elt run``: every setting is passed on as its environment
variable, and the lake, the warehouse (the embedded Postgres when none is
configured) and the API as the Airflow connections the DAGs read
(``stocks_elt.orchestration.connections``). Any ``AIRFLOW__*`` or
``AIRFLOW_CONN_*`` variable already set wins over these defaults.

This module never imports Airflow: Airflow runs only in the subprocesses. It
talks to the REST API only to wait for health and to create the pool.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from stocks_elt.config import Settings, redact_url
from stocks_elt.errors import ConfigError, StocksEltError
from stocks_elt.orchestration.assets import ALPHA_VANTAGE_POOL
from stocks_elt.orchestration.connections import (
    connection_environment,
    resolve_settings,
    settings_environment,
)

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


EXECUTORS = ("local", "celery")


def worker_hostname() -> str:
    """The hostname a task instance records: the worker's name when
    ``stocks-elt airflow`` started several on one machine, else the host's FQDN
    (Airflow's ``[core] hostname_callable``)."""
    return os.environ.get("STOCKS_ELT_WORKER_NAME") or socket.getfqdn()


class AirflowConfigError(ConfigError):
    """The local Airflow cannot start as asked (exit code 2); nothing was started."""


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
        executor: ``local`` (LocalExecutor) or ``celery`` (CeleryExecutor).
        workers: Celery workers to start (``celery`` only).
        worker_concurrency: task slots of each Celery worker.
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
    executor: str = "local"
    workers: int = 2
    worker_concurrency: int = 4
    _processes: dict[str, subprocess.Popen[bytes]] = field(
        default_factory=dict, init=False, repr=False
    )
    _log_files: list[IO[bytes]] = field(default_factory=list, init=False, repr=False)
    _password: str | None = field(default=None, init=False, repr=False)
    _resolved: Settings | None = field(default=None, init=False, repr=False)
    _api: httpx.Client | None = field(default=None, init=False, repr=False)
    _killed: set[str] = field(default_factory=set, init=False, repr=False)

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
        self.check()
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "run").mkdir(exist_ok=True)
        generated = self._write_password_file()
        self._run_once(["db", "migrate"], "db-migrate")
        return generated

    def check(self) -> None:
        """Refuse, before anything starts, what the executor cannot run with.

        Celery workers share no local disk and may run on other machines: the lake
        must be S3/MinIO, the warehouse and the metadata database Postgres
        servers, and the broker must answer.

        Raises:
            AirflowConfigError: one line naming the setting and an example.
        """
        if self.executor not in EXECUTORS:
            raise AirflowConfigError(
                f"--executor {self.executor!r}: choose {' or '.join(EXECUTORS)}"
            )
        if self.executor != "celery":
            return
        if self.workers < 1:
            raise AirflowConfigError(f"--workers {self.workers}: at least 1")
        lake = self.settings.resolved_lake_url
        if not lake.startswith("s3://"):
            raise AirflowConfigError(
                f"--executor celery: the lake is {lake}, a folder the workers do not "
                "share; set STOCKS_ELT_LAKE_URL=s3://stocks-lake/raw (MinIO or S3)"
            )
        if self.settings.warehouse_url is None:
            raise AirflowConfigError(
                "--executor celery: the warehouse is the embedded Postgres, which "
                "other workers cannot reach; set "
                "STOCKS_ELT_WAREHOUSE_URL=postgresql://user:pass@host:5432/stocks"
            )
        metadata = self.environment()["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        if not metadata.startswith("postgresql"):
            raise AirflowConfigError(
                f"--executor celery: the metadata database is "
                f"{redact_url(metadata)}; Celery needs one every worker reaches: set "
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="
                "postgresql+psycopg2://user:pass@host:5432/airflow"
            )
        _check_broker(self.settings.airflow_broker_url.get_secret_value())

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
        defaults.update(connection_environment(self._resolved))
        for name, value in defaults.items():
            env.setdefault(name, value)
        # dbt (run by Cosmos) and airflow live next to this interpreter.
        bin_dir = str(Path(sys.executable).parent)
        if bin_dir not in env.get("PATH", "").split(os.pathsep):
            env["PATH"] = os.pathsep.join(filter(None, [bin_dir, env.get("PATH")]))
        env["AIRFLOW_HOME"] = str(home)
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
        env.update(self.extra_env)
        if self.executor == "celery":
            env.update(self._celery_environment(env))
        return env

    def _celery_environment(self, env: Mapping[str, str]) -> dict[str, str]:
        """What CeleryExecutor adds: the broker, the result backend, the workers'
        names as task instances' hostnames."""
        metadata = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        backend = "db+" + metadata.replace("postgresql+psycopg2://", "postgresql://")
        celery = {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": (
                self.settings.airflow_broker_url.get_secret_value()
            ),
            "AIRFLOW__CELERY__RESULT_BACKEND": backend,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": (
                "stocks_elt.orchestration.local.worker_hostname"
            ),
        }
        return {name: env.get(name, value) for name, value in celery.items()} | {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"
        }

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
        if self.executor == "celery":
            for number in range(1, self.workers + 1):
                self.start_worker(number, env)

    def start_worker(self, number: int, env: Mapping[str, str] | None = None) -> str:
        """Start Celery worker ``number`` (``worker<number>``); return its name.

        Each worker has a Celery hostname and a working directory of its own and
        records its name as the hostname of the task instances it runs.
        """
        name = f"worker{number}"
        folder = self.home / "workers" / name
        folder.mkdir(parents=True, exist_ok=True)
        log = (self.home / "run" / f"{name}.log").open("ab")
        self._log_files.append(log)
        worker_env = dict(env or self.environment())
        worker_env["STOCKS_ELT_WORKER_NAME"] = name
        self._processes[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airflow",
                "celery",
                "worker",
                "--celery-hostname",
                f"{name}@{socket.gethostname()}",
                "--concurrency",
                str(self.worker_concurrency),
                # One machine: the API server reads every worker's logs from the
                # shared log folder (on other machines, leave serve-logs on).
                "--skip-serve-logs",
            ],
            env=worker_env,
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        logger.info("started worker=%s pid=%d", name, self._processes[name].pid)
        return name

    def kill_worker(self, name: str) -> None:
        """SIGKILL a worker's whole process group (its running tasks die too)."""
        process = self._processes[name]
        self._killed.add(name)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        logger.warning("killed worker=%s pid=%d", name, process.pid)

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
                self.check_running()
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

    def check_running(self) -> None:
        """Raise when a component exited; the message quotes its log."""
        for component, process in self._processes.items():
            if component in self._killed:
                continue
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

    def ensure_pool(self) -> None:
        """Create the ``alpha_vantage`` pool unless it exists (its size is kept)."""
        api = self.api
        found = api.get(f"/pools/{ALPHA_VANTAGE_POOL}")
        if found.status_code == 200:
            return
        created = api.post(
            "/pools",
            json={
                "name": ALPHA_VANTAGE_POOL,
                "slots": self.pool_slots,
                "description": "Concurrent Alpha Vantage extract tasks; "
                "size it to the API key's quota.",
                "include_deferred": False,
            },
        )
        if created.status_code >= 400:
            raise AirflowError(
                f"could not create pool {ALPHA_VANTAGE_POOL}: "
                f"HTTP {created.status_code} {created.text[:200]}"
            )
        logger.info("created pool=%s slots=%d", ALPHA_VANTAGE_POOL, self.pool_slots)

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


def _check_broker(url: str) -> None:
    """Refuse a broker that does not answer (one line, exit code 2).

    Raises:
        AirflowConfigError: no answer within a few seconds.
    """
    from kombu import Connection  # type: ignore[import-untyped]

    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:  # kombu raises transport-specific errors
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise AirflowConfigError(
            f"--executor celery: the broker at {redact_url(url)} does not answer "
            f"({reason}); start it, or set "
            "STOCKS_ELT_AIRFLOW_BROKER_URL=redis://127.0.0.1:6379/0 "
            "(or amqp://user:pass@host:5672//)"
        ) from None


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
