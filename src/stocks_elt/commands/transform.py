"""
``stocks-elt transform``: run the dbt project (models and tests) on the warehouse.
"""

from __future__ import annotations

import json

import click

from stocks_elt.config import check_writable_paths, load_settings


@click.command("transform")
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Rebuild the incremental marts from scratch instead of the new rows only.",
)
@click.option(
    "--select",
    "-s",
    "select",
    multiple=True,
    metavar="SELECTOR",
    help="dbt node selector (repeatable), e.g. -s fct_daily_bars+  [default: all]",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def transform_command(
    full_refresh: bool, select: tuple[str, ...], as_json: bool
) -> None:
    """Build staging, intermediate and marts with dbt, then run their tests.

    Exits 1 when a model or a test fails, naming each failing node.
    """
    from stocks_elt import pipeline

    settings = load_settings()
    check_writable_paths(settings)
    result = pipeline.transform(
        settings,
        select=list(select) or None,
        full_refresh=full_refresh,
        on_wait=lambda message: click.echo(message, err=True),
    )
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    click.echo(
        f"transform: {result.models_built} models built, "
        f"{result.tests_passed} tests passed, {result.tests_warned} warned, "
        f"{result.tests_failed} failed in {result.duration:.1f} s"
        + (" (full refresh)" if full_refresh else "")
    )
