"""The vendored chart library: the recorded version, checksum and license."""

from __future__ import annotations

import hashlib
import re
from importlib import resources

from stocks_elt.report.render import CHART_LIBRARY, CHART_LIBRARY_FILE

PACKAGE = resources.files("stocks_elt.report")


def test_vendored_file_is_the_recorded_unmodified_copy() -> None:
    readme = PACKAGE.joinpath("vendor/README.md").read_text("utf-8")
    recorded = re.search(r"sha256 of the file: `([0-9a-f]{64})`", readme)
    assert recorded is not None

    content = PACKAGE.joinpath(CHART_LIBRARY_FILE).read_bytes()

    assert hashlib.sha256(content).hexdigest() == recorded.group(1)


def test_version_named_in_the_page_is_the_vendored_version() -> None:
    header = PACKAGE.joinpath(CHART_LIBRARY_FILE).read_text("utf-8")[:300]
    version = re.search(r"Lightweight Charts™ v(\d+\.\d+\.\d+)", header)
    assert version is not None

    readme = PACKAGE.joinpath("vendor/README.md").read_text("utf-8")

    assert CHART_LIBRARY.endswith(version.group(1))
    assert f"| {version.group(1)} |" in readme


def test_license_and_notice_ship_with_the_library() -> None:
    license_text = PACKAGE.joinpath("vendor/LICENSE").read_text("utf-8")
    notice = PACKAGE.joinpath("vendor/NOTICE").read_text("utf-8")

    assert "Apache License" in license_text
    assert "Version 2.0" in license_text
    assert "TradingView, Inc." in notice
