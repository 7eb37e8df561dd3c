"""
The report opened in headless Chromium, as a person would open the file.

Skipped when no Chromium binary is on PATH (Debian: ``apt-get install chromium``;
``STOCKS_ELT_CHROMIUM`` names another). Set ``STOCKS_ELT_REPORT_SCREENSHOT`` to a
path to keep the screenshot of the demo-like report.
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from stocks_elt.report import build_report
from tests.integration.report.chromium import Browser, Page, find_chromium, launch
from tests.integration.report.conftest import ReportWarehouse

pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="no Chromium binary on PATH (apt-get install chromium)",
)

READY = "document.documentElement.dataset.reportReady === 'true'"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    binary = find_chromium()
    assert binary is not None
    with launch(binary) as started:
        yield started


def _open(browser: Browser, html: str, path: Path) -> Page:
    path.write_text(html, encoding="utf-8")
    page = browser.open(path.resolve().as_uri())
    page.wait_until(READY)
    return page


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_every_chart_renders_with_no_console_error_and_no_network(
    browser: Browser, report_warehouse: ReportWarehouse, tmp_path: Path
) -> None:
    html = build_report(
        report_warehouse.settings, ["IBM", "MSFT", "NEWCO", "NODATA", "TSLA"]
    )
    path = tmp_path / "report.html"

    page = _open(browser, html, path)

    assert page.evaluate("document.documentElement.dataset.chartsExpected") == "3"
    assert page.evaluate("document.documentElement.dataset.chartsRendered") == "3"
    sizes = page.evaluate(
        "[...document.querySelectorAll('[data-chart-index]')].map(c => {"
        " const r = c.querySelector('canvas').getBoundingClientRect();"
        " return [r.width, r.height]; })"
    )
    assert all(width > 300 and height > 100 for width, height in sizes)
    log = page.log()
    assert log.errors == []
    assert log.warnings == []
    assert log.requests == [path.resolve().as_uri()]


def test_hostile_name_stays_text_and_runs_nothing(
    browser: Browser, report_warehouse: ReportWarehouse, tmp_path: Path
) -> None:
    from tests.integration.report.conftest import HOSTILE_NAME

    page = _open(
        browser, build_report(report_warehouse.settings, ["NEWCO"]), tmp_path / "r.html"
    )

    assert page.evaluate("typeof window.pwned") == "undefined"
    assert (
        page.evaluate("document.querySelector('h2 .name').textContent") == HOSTILE_NAME
    )
    assert page.evaluate("document.documentElement.dataset.chartsRendered") == "1"
    assert page.log().errors == []


def test_legend_follows_the_crosshair(
    browser: Browser, report_warehouse: ReportWarehouse, tmp_path: Path
) -> None:
    page = _open(
        browser,
        build_report(report_warehouse.settings, ["IBM"], sessions=100),
        tmp_path / "r.html",
    )
    first = "document.querySelector('[data-legend-index=\"0\"] b').textContent"
    latest = page.evaluate(first)
    box = page.evaluate(
        "(() => { const r = document.querySelector('[data-chart-index=\"0\"]')"
        ".getBoundingClientRect(); return [r.left, r.top, r.width]; })()"
    )

    page.mouse_move(box[0] + 40, box[1] + 100)

    page.wait_until(f"{first} !== {latest!r}", timeout=5)
    hovered = page.evaluate(first)
    assert hovered < latest  # an earlier session, ISO dates compare as text
    assert page.log().errors == []


def test_the_browser_check_notices_errors_and_blocked_loads(
    browser: Browser, tmp_path: Path
) -> None:
    # The harness itself must be able to fail: a console error, an uncaught
    # exception and a load the report's policy forbids are all reported.
    html = (
        "<!DOCTYPE html><html><head><meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'; script-src 'unsafe-inline'\"></head><body>"
        "<img src='https://example.invalid/x.png'>"
        "<script>console.error('boom'); setTimeout(() => { throw new Error('bang') });"
        "document.documentElement.dataset.reportReady = 'true';</script></body></html>"
    )

    page = _open(browser, html, tmp_path / "bad.html")
    page.wait_until("new Promise(r => setTimeout(() => r(true), 100))")

    errors = "\n".join(page.log().errors)
    assert "console.error: boom" in errors
    assert "bang" in errors
    assert "Content Security Policy" in errors


def test_demo_like_report_screenshot_reads_well(
    browser: Browser, report_warehouse: ReportWarehouse, tmp_path: Path
) -> None:
    html = build_report(report_warehouse.settings, ["IBM", "MSFT", "NODATA"])
    page = _open(browser, html, tmp_path / "demo.html")
    shot = tmp_path / "report.png"

    page.screenshot(shot)

    assert _png_size(shot) == (1400, 2400)
    # A blank or failed page compresses to almost nothing; three charts do not.
    pixels = zlib.decompress(b"".join(_png_chunks(shot.read_bytes(), b"IDAT")))
    assert len(set(pixels[: 1400 * 4 * 600])) > 16
    keep = os.environ.get("STOCKS_ELT_REPORT_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)


def _png_chunks(data: bytes, kind: bytes) -> Iterator[bytes]:
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        chunk_type = data[offset + 4 : offset + 8]
        if chunk_type == kind:
            yield data[offset + 8 : offset + 8 + length]
        offset += 12 + length
