-- Rows in scope whose prices contradict each other or are not positive:
-- low > 0 and low <= open, close <= high. One row per symbol.
select
    prices.symbol,
    count(*) as observed,
    'first: ' || (array_agg(prices.trade_date order by prices.trade_date))[1]
    as details
from pg_temp.gate_scope as scope
cross join lateral (
    select *
    from raw.daily_prices
    where
        daily_prices.symbol = scope.symbol
        and daily_prices.trade_date between scope.first_date and scope.last_date
    offset 0  -- a fence: read each symbol's range through the key
) as prices
where
    not (
        prices.low > 0
        and prices.low <= least(prices.open, prices.close)
        and prices.high >= greatest(prices.open, prices.close)
    )
group by prices.symbol
