"""
The HTML report: candlestick charts with indicators per symbol and a data-quality
section, in one self-contained file (``stocks-elt report``).

    build_report       settings, symbols -> HTML text
    render_report      ReportData -> HTML text (no database)
"""

from __future__ import annotations

from stocks_elt.report.build import build_report
from stocks_elt.report.data import DEFAULT_SESSIONS, ReportData, collect_report_data
from stocks_elt.report.render import render_report

__all__ = [
    "DEFAULT_SESSIONS",
    "ReportData",
    "build_report",
    "collect_report_data",
    "render_report",
]
