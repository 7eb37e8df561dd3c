"""
``stocks-elt airflow``: a local Apache Airflow 3 running this project's DAGs, no
Docker needed (``stocks_elt.orchestration.local``). Ctrl-C stops it.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import click

from stocks_elt.config import check_writable_paths, load_settings
from stocks_elt.orchestration.assets import DAG_IDS
from stocks_elt.orchestration.local import LocalAirflow


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
@click.option(
    "--executor",
    type=click.Choice(["local", "celery"]),
    default="local",
    show_default=True,
    help="LocalExecutor, or CeleryExecutor with --workers workers (needs an S3 "
    "lake, a Postgres warehouse and metadata database, a broker).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Celery workers to start (--executor celery).",
)
@click.option(
    "--worker-concurrency",
    type=click.IntRange(1, 256),
    default=4,
    show_default=True,
    help="Task slots of each Celery worker.",
)
def airflow_command(
    port: int,
    host: str,
    dags_folder: Path | None,
    parallelism: int,
    pool_slots: int,
    executor: str,
    workers: int,
    worker_concurrency: int,
) -> None:
    """Run Apache Airflow locally with this project's DAGs (Ctrl-C stops it).

    With --executor celery, the tasks run on --workers Celery workers (broker:
    STOCKS_ELT_AIRFLOW_BROKER_URL), as they would on several machines.
    """
    settings = load_settings()
    airflow = LocalAirflow(
        settings,
        port=port,
        host=host,
        dags_folder=dags_folder,
        parallelism=parallelism,
        pool_slots=pool_slots,
        executor=executor,
        workers=workers,
        worker_concurrency=worker_concurrency,
    )
    airflow.check()  # before anything is written or started
    check_writable_paths(settings)
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
        if executor == "celery":
            click.echo(f"CeleryExecutor: {workers} worker(s) of {worker_concurrency}")
        click.echo("DAGs: " + ", ".join(DAG_IDS) + ". Ctrl-C stops Airflow.")
        while True:
            airflow.check_running()
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
