"""``stocks-elt report`` through the installed entry point (``uv run``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.report.conftest import ReportWarehouse

ROOT = Path(__file__).resolve().parents[3]


def _cli(args: list[str], url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    uv = shutil.which("uv")
    assert uv is not None
    env = {
        **os.environ,
        "STOCKS_ELT_WAREHOUSE_URL": url,
        "STOCKS_ELT_DATA_DIR": str(cwd / "data"),
        "STOCKS_ELT_TICKERS": "MSFT",
    }
    return subprocess.run(
        [uv, "run", "--no-sync", "--project", str(ROOT), "stocks-elt", *args],
        cwd=cwd,  # no .env of the developer's
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_report_command_writes_one_self_contained_file(
    report_warehouse: ReportWarehouse, tmp_path: Path
) -> None:
    done = _cli(
        ["report", "--symbols", "ibm,MSFT", "--out", "out.html", "--sessions", "60"],
        report_warehouse.url,
        tmp_path,
    )

    assert done.returncode == 0, done.stderr
    page = (tmp_path / "out.html").read_text("utf-8")
    size_kb = round(len(page.encode()) / 1024)
    assert done.stdout.strip() == (
        f"wrote out.html ({size_kb:,} KB; IBM, MSFT; up to 60 sessions each)"
    )
    assert page.count('data-chart-index="') == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_report_command_defaults_to_the_configured_tickers(
    report_warehouse: ReportWarehouse, tmp_path: Path
) -> None:
    done = _cli(["report"], report_warehouse.url, tmp_path)

    assert done.returncode == 0, done.stderr
    page = (tmp_path / "report.html").read_text("utf-8")
    assert 'id="symbol-MSFT"' in page
    assert 'id="symbol-IBM"' not in page


def test_unknown_symbol_exits_2_and_writes_nothing(
    report_warehouse: ReportWarehouse, tmp_path: Path
) -> None:
    done = _cli(
        ["report", "--symbols", "IBM,NOPE", "--out", "out.html"],
        report_warehouse.url,
        tmp_path,
    )

    assert done.returncode == 2
    assert "error: NOPE: not in the warehouse" in done.stderr
    assert not (tmp_path / "out.html").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--symbols", "IBM,<script>"], "symbol '<script>' is not allowed"),
        (["--sessions", "0"], "0 is not in the range 1<=x<=20000"),
        (["--out", "missing/out.html"], "the folder missing does not exist"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    report_warehouse: ReportWarehouse,
    tmp_path: Path,
    args: list[str],
    message: str,
) -> None:
    done = _cli(["report", *args], report_warehouse.url, tmp_path)

    assert done.returncode == 2
    assert message in done.stderr
