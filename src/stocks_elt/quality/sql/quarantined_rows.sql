-- Rows sent to quarantine, by symbol: in the run when one is given.
select
    symbol,
    count(*) as observed,
    string_agg(distinct reason_code, ', ') as details
from raw.quarantine
where
    reason_code is distinct from 'refused_object'
    and (%(run_id)s::uuid is null or run_id = %(run_id)s::uuid)
    and (%(symbols)s::text[] is null or symbol = any(%(symbols)s::text[]))
group by symbol
