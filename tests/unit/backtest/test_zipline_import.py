"""Without the ``backtest`` extra, importing the zipline bundle says what to install."""

from __future__ import annotations

import importlib
import sys

import pytest

MODULE = "stocks_elt.backtest.zipline"


def test_importing_the_bundle_without_zipline_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # None in sys.modules makes `import zipline` fail as if it were not installed;
    # its submodules too, which an earlier test in the process may have imported
    for name in [n for n in sys.modules if n == "zipline" or n.startswith("zipline.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "zipline", None)
    monkeypatch.delitem(sys.modules, MODULE, raising=False)

    with pytest.raises(ImportError) as raised:
        importlib.import_module(MODULE)

    assert str(raised.value) == (
        "stocks_elt.backtest.zipline needs zipline-reloaded: "
        "pip install 'stocks-elt[backtest]'"
    )
    assert isinstance(raised.value.__cause__, ImportError)
    assert MODULE not in sys.modules
