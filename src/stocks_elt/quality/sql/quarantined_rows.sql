-- Rows sent to quarantine, by symbol: in the runs in scope when there are.
select
    symbol,
    count(*) as observed,
    string_agg(distinct reason_code, ', ') as details
from raw.quarantine
where
    reason_code is distinct from 'refused_object'
    and (%(run_ids)s::uuid[] is null or run_id = any(%(run_ids)s::uuid[]))
    and (%(symbols)s::text[] is null or symbol = any(%(symbols)s::text[]))
group by symbol
