-- Symbols whose extract recorded a history gap (older sessions the key could
-- not fetch): in the runs in scope when there are, else in each symbol's latest
-- extract outcome.
with

latest as (

    select distinct on (symbol)
        symbol,
        has_history_gap,
        reason
    from audit.extract_outcomes
    where
        (%(run_ids)s::uuid[] is null or run_id = any(%(run_ids)s::uuid[]))
        and (%(symbols)s::text[] is null or symbol = any(%(symbols)s::text[]))
    order by symbol asc, recorded_at desc

)

select
    symbol,
    1 as observed,
    coalesce(reason, 'history gap recorded by extract') as details
from latest
where has_history_gap
