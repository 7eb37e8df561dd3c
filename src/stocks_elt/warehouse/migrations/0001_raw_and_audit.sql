-- The raw layer (what the lake held, merged) and the audit layer (what happened).
-- Prices are numeric(18,4) from the API's strings; nothing passes through a float.

create schema if not exists raw;
create schema if not exists audit;

-- One row per symbol and session, as traded. Adjusted close, dividend and split
-- coefficient come only from TIME_SERIES_DAILY_ADJUSTED objects (premium keys).
create table raw.daily_prices (
    symbol text not null,
    trade_date date not null,
    open numeric(18, 4) not null,
    high numeric(18, 4) not null,
    low numeric(18, 4) not null,
    close numeric(18, 4) not null,
    volume bigint not null,
    adjusted_close numeric(28, 12),
    dividend_amount numeric(18, 6),
    split_coefficient numeric(18, 6),
    source_object text not null,
    loaded_at timestamptz not null default now(),
    updated_at timestamptz,
    primary key (symbol, trade_date)
);

create table raw.splits (
    symbol text not null,
    effective_date date not null,
    split_factor numeric(18, 6) not null,
    source_object text not null,
    loaded_at timestamptz not null default now(),
    updated_at timestamptz,
    primary key (symbol, effective_date)
);

create table raw.dividends (
    symbol text not null,
    ex_dividend_date date not null,
    amount numeric(18, 6) not null,
    declaration_date date,
    record_date date,
    payment_date date,
    source_object text not null,
    loaded_at timestamptz not null default now(),
    updated_at timestamptz,
    primary key (symbol, ex_dividend_date)
);

-- The universe: LISTING_STATUS rows, completed by OVERVIEW where fetched.
create table raw.symbols (
    symbol text primary key,
    name text,
    exchange text,
    asset_type text,
    currency text,
    country text,
    sector text,
    industry text,
    ipo_date date,
    delisting_date date,
    status text,
    source_object text not null,
    loaded_at timestamptz not null default now(),
    updated_at timestamptz
);

-- One row per lake object loaded, written in the same transaction as its rows.
create table raw.load_ledger (
    object_key text primary key,
    sha256 text not null,
    function text not null,
    symbol text,
    fetched_at timestamptz,
    rows_parsed integer not null,
    rows_inserted integer not null,
    rows_updated integer not null,
    rows_unchanged integer not null,
    rows_quarantined integer not null,
    run_id uuid,
    loaded_at timestamptz not null default now()
);

create table raw.quarantine (
    quarantine_id bigint generated always as identity primary key,
    object_key text not null,
    symbol text,
    row_key text,
    raw_values jsonb,
    reason text not null,
    run_id uuid,
    quarantined_at timestamptz not null default now()
);
create index quarantine_object_key_idx on raw.quarantine (object_key);

-- Old values of a row that a later answer changed (vendor corrections).
create table raw.revisions (
    revision_id bigint generated always as identity primary key,
    table_name text not null,
    symbol text not null,
    row_key text not null,
    old_values jsonb not null,
    new_values jsonb not null,
    object_key text not null,
    revised_at timestamptz not null default now()
);
create index revisions_symbol_idx on raw.revisions (symbol, row_key);

create table audit.pipeline_runs (
    run_id uuid primary key,
    command text not null,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    outcome text,
    stages jsonb not null default '[]'::jsonb,
    message text
);

create table audit.dq_results (
    dq_result_id bigint generated always as identity primary key,
    run_id uuid,
    check_name text not null,
    severity text not null check (severity in ('blocking', 'warning')),
    symbol text,
    status text not null check (status in ('pass', 'warn', 'fail')),
    observed_value numeric,
    threshold numeric,
    details text,
    checked_at timestamptz not null default now()
);
create index dq_results_run_idx on audit.dq_results (run_id);

-- The quota ledger: one row per call made (or reserved) with a key, shared by every
-- process and worker that uses the key. The key itself is never stored: key_hash is
-- a salted sha256 prefix.
create table audit.api_calls (
    api_call_id bigint generated always as identity primary key,
    key_hash text not null,
    api_day date not null,
    called_at timestamptz not null default clock_timestamp(),
    function text not null,
    symbol text,
    outcome text
);
create index api_calls_key_day_idx on audit.api_calls (key_hash, api_day);
create index api_calls_key_time_idx on audit.api_calls (key_hash, called_at);

-- What extract decided per symbol and run: fetched, not found, deferred, failed, and
-- whether the stored history has a gap the key could not fill.
create table audit.extract_outcomes (
    extract_outcome_id bigint generated always as identity primary key,
    run_id uuid,
    symbol text not null,
    outcome text not null,
    reason text,
    object_keys text[] not null default '{}',
    has_history_gap boolean not null default false,
    recorded_at timestamptz not null default now()
);
create index extract_outcomes_symbol_idx on audit.extract_outcomes (symbol, recorded_at);
