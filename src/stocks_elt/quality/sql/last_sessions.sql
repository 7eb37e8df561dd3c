-- The last loaded session of every symbol the staleness check watches, except
-- symbols the listing calls delisted. Null when none was ever loaded.
select
    watched.symbol,
    (
        select max(prices.trade_date)
        from raw.daily_prices as prices
        where prices.symbol = watched.symbol
    ) as last_session
from pg_temp.gate_symbols as watched
where
    not exists (
        select 1
        from raw.symbols
        where
            symbols.symbol = watched.symbol
            and (symbols.status = 'Delisted' or symbols.delisting_date is not null)
    )
