"""
The package as users install it: a wheel built from this checkout, installed into a
fresh virtual environment outside the checkout (the way a worker image or
``pip install stocks-elt`` gets it), runs the whole demo, dbt transform included:
the dbt project ships inside the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args[:3]}: {done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel and the locked runtime dependencies."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not on PATH: scripts/test puts it there (bootstrap.sh)")
    root = tmp_path_factory.mktemp("wheel")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("VIRTUAL_ENV", "UV_PROJECT", "PYTHONPATH"))
    }
    _run([uv, "build", "--wheel", "-o", str(root / "dist")], REPO, env, 300)
    (wheel,) = (root / "dist").glob("stocks_elt-*.whl")
    requirements = root / "requirements.txt"
    requirements.write_text(
        _run(
            [
                uv,
                "export",
                "--frozen",
                "--no-dev",
                "--no-emit-project",
                "--no-hashes",
                "--format",
                "requirements-txt",
            ],
            REPO,
            env,
            120,
        )
    )
    venv = root / "venv"
    _run([uv, "venv", str(venv), "--python", sys.executable], root, env, 120)
    python = venv / "bin" / "python"
    _run(
        [uv, "pip", "install", "--python", str(python), "-r", str(requirements)],
        root,
        env,
        900,
    )
    _run(
        [uv, "pip", "install", "--python", str(python), "--no-deps", str(wheel)],
        root,
        env,
        300,
    )
    return venv


def test_the_installed_wheel_runs_the_demo_outside_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("STOCKS_ELT_", "ALPHA_", "AWS_", "PYTHONPATH"))
    }
    env["STOCKS_ELT_DATA_DIR"] = str(tmp_path / "data")
    stocks_elt = installed / "bin" / "stocks-elt"

    summary = json.loads(
        _run(
            [str(stocks_elt), "demo", "--symbols", "IBM,KO", "--json"],
            tmp_path,  # not the checkout: nothing of it is on the path
            env,
            900,
        )
    )

    assert summary["outcome"] == "success"
    assert summary["stages"]["transform"]["models_built"] > 0
    assert summary["stages"]["transform"]["tests_failed"] == 0
    assert (tmp_path / "data" / "demo" / "report.html").is_file()
    shipped = list(
        installed.glob(
            "lib/python*/site-packages/stocks_elt/transform/dbt_project/dbt_project.yml"
        )
    )
    assert shipped, "the wheel holds no dbt project"
