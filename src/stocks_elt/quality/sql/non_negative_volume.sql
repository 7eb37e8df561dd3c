-- Rows in scope with a negative volume. One row per symbol.
select
    prices.symbol,
    count(*) as observed,
    'first: ' || (array_agg(prices.trade_date order by prices.trade_date))[1]
    as details
from pg_temp.gate_prices as prices
where prices.volume < 0
group by prices.symbol
