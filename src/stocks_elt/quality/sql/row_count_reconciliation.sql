-- Ledger rows in scope whose counts do not add up: parsed must equal
-- inserted + updated + unchanged + quarantined, and the quarantined count must
-- equal the object's rows in raw.quarantine. One row per symbol.
with

ledger as (

    select *
    from raw.load_ledger
    where
        status = 'loaded'
        and (%(run_ids)s::uuid[] is null or run_id = any(%(run_ids)s::uuid[]))
        and (%(symbols)s::text[] is null or symbol = any(%(symbols)s::text[]))

),

checked as (

    select
        ledger.symbol,
        ledger.object_key,
        ledger.rows_parsed,
        ledger.rows_inserted
        + ledger.rows_updated
        + ledger.rows_unchanged
        + ledger.rows_quarantined as rows_accounted,
        ledger.rows_quarantined,
        quarantined.row_count as rows_in_quarantine
    from ledger
    cross join lateral (
        select count(*) as row_count
        from raw.quarantine
        where
            quarantine.object_key = ledger.object_key
            and quarantine.reason_code is distinct from 'refused_object'
    ) as quarantined

)

select
    symbol,
    count(*) as observed,
    string_agg(
        object_key
        || ' parsed ' || rows_parsed
        || ' accounted ' || rows_accounted
        || ' quarantined ' || rows_quarantined
        || ' in quarantine ' || rows_in_quarantine,
        '; '
    ) as details
from checked
where
    rows_parsed <> rows_accounted
    or rows_quarantined <> rows_in_quarantine
group by symbol
