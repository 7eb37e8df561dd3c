"""Fixtures of the load tests: a lake, the emulated market, settings naming both."""

from __future__ import annotations

from tests.fixtures.lakes import lake, market, settings

__all__ = ["lake", "market", "settings"]
