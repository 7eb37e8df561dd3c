-- XNYS sessions (passed in as %(sessions)s) in each symbol's scope that have no
-- row: the scope lies between the symbol's first and last loaded session.
-- One row per symbol; details list the first missing dates.
select
    scope.symbol,
    count(*) as observed,
    'first missing: '
    || array_to_string((array_agg(session order by session))[1:5], ', ')
    as details
from pg_temp.gate_scope as scope
cross join lateral unnest(%(sessions)s::date []) as session
where
    session between scope.first_date and scope.last_date
    and not exists (
        select 1
        from raw.daily_prices as prices
        where
            prices.symbol = scope.symbol
            and prices.trade_date = session
    )
group by scope.symbol
