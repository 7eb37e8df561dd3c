{#
    One select, no CTEs: Postgres does not flatten a view whose query has a
    WITH clause into the query that reads it, so an ORDER BY ... LIMIT 1 or a
    min() over this view sorted or aggregated every row after the bound
    instead of reading one index entry (dim_symbols' probes took 4 s for 100
    symbols x 25 years, growing with symbols x history). Flattened, each probe
    is one look-up on raw.daily_prices' primary key.
#}
select
    ---------- ids
    symbol,

    ---------- dates
    trade_date,

    ---------- numerics (as traded)
    open as open_price,
    high as high_price,
    low as low_price,
    close as close_price,
    volume,

    ---------- numerics (vendor's adjusted series, premium keys only)
    adjusted_close as vendor_adjusted_close_price,
    dividend_amount as vendor_dividend_amount,
    split_coefficient as vendor_split_coefficient,

    ---------- lineage
    source_object,

    ---------- timestamps
    loaded_at,
    updated_at,
    coalesce(updated_at, loaded_at) as changed_at

from {{ source('alpha_vantage', 'daily_prices') }}
