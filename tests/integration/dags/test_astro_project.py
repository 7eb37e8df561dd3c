"""The Astro project files, checked statically (no Docker engine needed)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from stocks_elt.orchestration import assets
from tests.integration.dags.conftest import REPO


def _lock_versions() -> dict[str, list[str]]:
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    versions: dict[str, list[str]] = {}
    for package in lock["package"]:
        versions.setdefault(package["name"], []).append(package.get("version", ""))
    return versions


def _yaml(name: str) -> Any:
    return yaml.safe_load((REPO / name).read_text(encoding="utf-8"))


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not on PATH")
def test_requirements_txt_is_what_the_lock_exports(tmp_path: Path) -> None:
    exported = tmp_path / "requirements.txt"
    subprocess.run(
        [str(REPO / "scripts" / "export-requirements"), str(exported)],
        check=True,
        capture_output=True,
    )

    committed = (REPO / "requirements.txt").read_text(encoding="utf-8")

    assert committed == exported.read_text(encoding="utf-8"), (
        "requirements.txt is stale: run scripts/export-requirements"
    )


def test_every_requirement_is_pinned_to_the_version_in_the_lock() -> None:
    versions = _lock_versions()
    pins = [
        line.split(";")[0].strip()
        for line in (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    assert pins
    for pin in pins:
        name, _, version = pin.partition("==")
        assert version, f"{pin} is not pinned"
        assert version in versions.get(name.lower(), []), f"{pin} not in uv.lock"


def test_requirements_leave_airflow_itself_to_the_runtime_image() -> None:
    names = {
        line.split("==")[0]
        for line in (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line
    }

    assert {"apache-airflow", "apache-airflow-core", "apache-airflow-task-sdk"} & (
        names
    ) == set()
    assert {"astronomer-cosmos", "dbt-core", "dbt-postgres"} <= names
    assert {"apache-airflow-providers-amazon", "apache-airflow-providers-postgres"} <= (
        names
    )


def test_the_runtime_image_has_the_airflow_minor_version_of_the_lock() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    match = re.search(
        r"^FROM astrocrpublic\.azurecr\.io/runtime:(\d+)\.(\d+)-\d+$",
        dockerfile,
        re.MULTILINE,
    )
    assert match, "Dockerfile does not start from an Astro Runtime 3 image"
    (airflow,) = _lock_versions()["apache-airflow"]

    assert f"{match[1]}.{match[2]}" == ".".join(airflow.split(".")[:2])


def test_packages_txt_lists_only_package_names() -> None:
    for line in (REPO / "packages.txt").read_text(encoding="utf-8").splitlines():
        assert re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", line.strip()), line


def test_airflow_settings_define_the_connections_and_pool_the_dags_use() -> None:
    settings = _yaml("airflow_settings.yaml")["airflow"]
    connections = {c["conn_id"]: c for c in settings["connections"]}
    pools = {p["pool_name"]: p for p in settings["pools"]}

    assert set(connections) == {
        assets.LAKE_CONN_ID,
        assets.WAREHOUSE_CONN_ID,
        assets.ALPHA_VANTAGE_CONN_ID,
    }
    assert connections[assets.LAKE_CONN_ID]["conn_type"] == "aws"
    assert connections[assets.WAREHOUSE_CONN_ID]["conn_type"] == "postgres"
    assert pools[assets.ALPHA_VANTAGE_POOL]["pool_slot"] >= 1
    # An empty password lets the key come from the Variable or .env.
    assert not connections[assets.ALPHA_VANTAGE_CONN_ID]["conn_password"]


def test_compose_override_adds_minio_its_bucket_and_the_warehouse() -> None:
    compose = _yaml("docker-compose.override.yml")
    services = compose["services"]
    settings = _yaml("airflow_settings.yaml")["airflow"]
    connections = {c["conn_id"]: c for c in settings["connections"]}
    lake, warehouse = connections["stocks_lake"], connections["stocks_warehouse"]

    assert set(services) == {"minio", "minio-setup", "warehouse"}
    for name, service in services.items():
        assert service["networks"] == ["airflow"], name
        assert ":" in service["image"], name
        assert not service["image"].endswith(":latest"), name
    setup = services["minio-setup"]
    assert setup["depends_on"] == {"minio": {"condition": "service_healthy"}}
    bucket = lake["conn_extra"]["lake_url"].removeprefix("s3://").split("/")[0]
    assert f"STOCKS_LAKE_BUCKET:-{bucket}" in setup["environment"]["STOCKS_LAKE_BUCKET"]
    assert "mc mb --ignore-existing" in " ".join(setup["entrypoint"])
    assert lake["conn_extra"]["endpoint_url"] == "http://minio:9000"
    env = services["warehouse"]["environment"]
    assert env["POSTGRES_USER"] == f"${{WAREHOUSE_USER:-{warehouse['conn_login']}}}"
    assert env["POSTGRES_PASSWORD"] == (
        f"${{WAREHOUSE_PASSWORD:-{warehouse['conn_password']}}}"
    )
    assert env["POSTGRES_DB"] == f"${{WAREHOUSE_DB:-{warehouse['conn_schema']}}}"
    assert warehouse["conn_host"] == "warehouse"


def _compose_command() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_accepts_the_override_on_top_of_astro_services(
    tmp_path: Path,
) -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("neither docker compose nor docker-compose is installed")
    # Stand-in for the compose file the Astro CLI generates: its `airflow` network.
    base = tmp_path / "astro-compose.yml"
    base.write_text(
        "services:\n  scheduler:\n    image: astro-runtime\n"
        "    networks: [airflow]\nnetworks:\n  airflow:\n    driver: bridge\n",
        encoding="utf-8",
    )

    result = subprocess.run(
        [
            *command,
            "--project-directory",
            str(REPO),
            "-f",
            str(base),
            "-f",
            str(REPO / "docker-compose.override.yml"),
            "config",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr


def test_the_image_leaves_out_secrets_and_local_state() -> None:
    ignored = set((REPO / ".dockerignore").read_text(encoding="utf-8").split("\n"))

    assert {".env", ".venv", ".git", ".stocks_elt", "airflow_settings.yaml"} <= ignored
