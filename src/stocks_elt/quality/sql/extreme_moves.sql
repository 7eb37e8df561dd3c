-- Close-to-close moves beyond %(threshold)s (0.40 = 40 %%) in scope, on a day
-- with no split in raw.splits nor a split coefficient on the row. The session
-- before the scope is read too, for the first move. One row per symbol:
-- observed = the largest move (a fraction).
with

bounds as materialized (

    select
        scope.symbol,
        scope.last_date,
        coalesce(
            (
                select max(prices.trade_date)
                from raw.daily_prices as prices
                where
                    prices.symbol = scope.symbol
                    and prices.trade_date < scope.first_date
            ),
            scope.first_date
        ) as first_date
    from pg_temp.gate_scope as scope

),

closes as (

    select
        prices.symbol,
        prices.trade_date,
        prices.close,
        prices.split_coefficient,
        lag(prices.close) over (
            partition by prices.symbol order by prices.trade_date
        ) as previous_close
    from bounds
    cross join lateral (
        select *
        from raw.daily_prices
        where
            daily_prices.symbol = bounds.symbol
            and daily_prices.trade_date
            between bounds.first_date and bounds.last_date
        offset 0  -- a fence: read each symbol's range through the key
    ) as prices

),

moves as (

    select
        symbol,
        trade_date,
        close / previous_close - 1 as daily_return
    from closes
    where
        previous_close > 0
        and abs(close / previous_close - 1) > %(threshold)s
        and coalesce(split_coefficient, 1) = 1
        and not exists (
            select 1
            from raw.splits
            where
                splits.symbol = closes.symbol
                and splits.effective_date = closes.trade_date
        )

)

select
    symbol,
    max(abs(daily_return)) as observed,
    string_agg(
        trade_date || ' ' || round(daily_return * 100, 1) || '%%',
        ', ' order by trade_date
    ) as details
from moves
group by symbol
