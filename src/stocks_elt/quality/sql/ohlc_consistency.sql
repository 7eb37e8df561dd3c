-- Rows in scope whose prices contradict each other or are not positive:
-- low > 0 and low <= open, close <= high. One row per symbol.
select
    prices.symbol,
    count(*) as observed,
    'first: ' || (array_agg(prices.trade_date order by prices.trade_date))[1]
    as details
from pg_temp.gate_prices as prices
where
    not (
        prices.low > 0
        and prices.low <= least(prices.open, prices.close)
        and prices.high >= greatest(prices.open, prices.close)
    )
group by prices.symbol
