"""Fixtures of the quality gate tests: a lake, the market, settings naming both."""

from __future__ import annotations

from tests.fixtures.lakes import lake, market, settings

__all__ = ["lake", "market", "settings"]
