"""Getting the marts into backtesters and notebooks: the Parquet export.

This module imports nothing heavy, so the command line can name the tables
without loading pyarrow.
"""

from __future__ import annotations

#: The marts an export holds by default, in manifest order.
EXPORTABLE_TABLES = (
    "dim_symbols",
    "fct_daily_bars",
    "fct_daily_indicators",
    "fct_weekly_bars",
    "fct_monthly_bars",
    "fct_universe_membership",
    "fct_forward_returns",
)
