"""
The layers hold: the import-linter contracts in ``pyproject.toml`` pass.

Run with the README's test command, so a stray import (the API client reaching
into the warehouse, a command importing a stage) fails CI, not just a review.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_every_import_linter_contract_is_kept(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from importlinter.cli import lint_imports

    monkeypatch.chdir(REPO)  # where pyproject.toml holds the contracts
    exit_code = lint_imports(no_cache=True)

    report = capsys.readouterr().out
    assert exit_code == 0, report
    assert "0 broken" in report
