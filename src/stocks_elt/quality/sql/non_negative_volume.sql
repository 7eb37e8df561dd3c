-- Rows in scope with a negative volume. One row per symbol.
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
where prices.volume < 0
group by prices.symbol
