"""
What the reliability suites share: the run they repeat and the clean result they
compare against (fixtures ``shared_emulator`` and ``clean_run`` in conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.fixtures.emulator import EMULATOR_TODAY

SYMBOLS = "IBM,KO"


def run_args(*extra: str, symbols: str = SYMBOLS) -> list[str]:
    """``stocks-elt [extra] run`` for the reliability suites' two symbols."""
    return [*extra, "run", "--symbols", symbols, "--as-of", str(EMULATOR_TODAY)]


@dataclass(frozen=True)
class CleanRun:
    """What an uninterrupted ``run`` stores, and how long each of its stages took."""

    checksums: dict[str, tuple[int, str]]
    durations: dict[str, float]
