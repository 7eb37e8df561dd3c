"""
The ``stocks-elt`` command line.

Commands live in ``stocks_elt.commands.*`` and ``stocks_elt.emulator.cli`` and are
imported only when called, so ``stocks-elt --help`` stays fast. This is the only
module that configures logging handlers.

Exit codes: 0 success; 1 a blocking data or pipeline failure; 2 bad input or
configuration.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import warnings
from typing import Any

import click

from stocks_elt import __version__
from stocks_elt.errors import StocksEltError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

#: command name -> "module:attribute" of its click command
COMMANDS: dict[str, str] = {
    "run": "stocks_elt.commands.run:run_command",
    "demo": "stocks_elt.commands.run:demo_command",
    "extract": "stocks_elt.commands.extract:extract_command",
    "quota": "stocks_elt.commands.extract:quota_command",
    "load": "stocks_elt.commands.load:load_command",
    "transform": "stocks_elt.commands.transform:transform_command",
    "status": "stocks_elt.commands.status:status_command",
    "history": "stocks_elt.commands.history:history_command",
    "report": "stocks_elt.commands.report:report_command",
    "export": "stocks_elt.commands.export:export_command",
    "emulator": "stocks_elt.emulator.cli:emulator_command",
    "airflow": "stocks_elt.commands.airflow:airflow_command",
}


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(
            name
            for name, target in COMMANDS.items()
            if _module_exists(target.partition(":")[0])
        )

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        if not _module_exists(module_name):
            return None
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command


def configure_logging(verbose: int) -> None:
    """Send log records to stderr: warnings by default, info with -v, debug -vv."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("botocore", "boto3", "urllib3", "httpx", "httpcore", "s3transfer"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stocks-elt")
@click.option(
    "-v", "--verbose", count=True, help="More log lines (-v info, -vv debug)."
)
def cli(verbose: int) -> None:
    """Daily stock prices from Alpha Vantage into your Postgres warehouse."""
    configure_logging(verbose)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``stocks-elt`` script; maps errors to exit codes."""
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    # platformdirs (pulled in by dbt and pgserver) warns on every import in
    # containers and CI runners that have no XDG_RUNTIME_DIR; it is harmless.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    try:
        return cli.main(args=argv, prog_name="stocks-elt", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {_one_line(exc)}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_FAILURE)
    except StocksEltError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


def _one_line(exc: click.ClickException) -> str:
    """A click error as one line, with where to look for help."""
    message = " ".join(exc.format_message().split())
    context = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and context is not None:
        return f"{context.command_path}: {message} (see {context.command_path} --help)"
    return message


if __name__ == "__main__":
    sys.exit(main())
