-- Lake objects that were not data, by symbol: in the runs in scope when there are.
select
    symbol,
    count(*) as observed,
    string_agg(object_key || ': ' || coalesce(reason, ''), '; ') as details
from raw.load_ledger
where
    status = 'refused'
    and (%(run_ids)s::uuid[] is null or run_id = any(%(run_ids)s::uuid[]))
    and (%(symbols)s::text[] is null or symbol = any(%(symbols)s::text[]))
group by symbol
