-- What the loader and the quality gate need beyond 0001.

-- A lake object that is not data (a notice, an error, a foreign symbol's answer, a
-- body whose checksum does not match its key) is recorded once as 'refused', so it
-- is neither retried on every run nor ever loaded. first_date and last_date bound
-- the dates the object carried: the quality gate checks only those rows.
alter table raw.load_ledger
    add column status text not null default 'loaded',
    add column reason text,
    add column first_date date,
    add column last_date date,
    add constraint load_ledger_status_check
        check (status in ('loaded', 'refused'));
create index load_ledger_run_idx on raw.load_ledger (run_id);
create index load_ledger_symbol_idx on raw.load_ledger (symbol, last_date);

-- The machine-readable half of the reason (missing_field, high_below_low, ...);
-- reason keeps the sentence a person reads.
alter table raw.quarantine add column reason_code text;
create index quarantine_run_idx on raw.quarantine (run_id);

-- The gate reads the history-gap flags of one run.
create index if not exists extract_outcomes_run_id_idx
    on audit.extract_outcomes (run_id);
