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


def test_every_module_of_the_package_has_a_layer() -> None:
    """A new package outside the layers would escape every contract."""
    import tomllib

    import stocks_elt

    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    layered = {
        name.strip().removeprefix("stocks_elt.")
        for layer in layers
        for name in layer.split("|")
    }
    package = Path(stocks_elt.__file__).parent
    modules = {
        path.stem if path.is_file() else path.name
        for path in package.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    # Leaves every layer may use: no stocks_elt import of their own.
    leaves = {"errors", "log", "_version", "__main__"}
    assert modules - leaves - layered == set()
