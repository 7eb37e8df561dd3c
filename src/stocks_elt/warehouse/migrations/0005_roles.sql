-- Least privilege: three group roles (NOLOGIN) an administrator gives to logins.
-- docs/security.md says how, and what each can do.
--
--   stocks_elt_loader       extract, load and the quality gate: writes raw, audit
--   stocks_elt_transformer  dbt: reads raw, builds staging, intermediate, marts
--   stocks_elt_reader       reads marts, plus the bookkeeping columns that
--                           `stocks-elt status` and `report` show (below)
--
-- Roles are cluster-wide; the migrating user creates them when it may (superuser
-- or CREATEROLE) and they are missing. A database owner without CREATEROLE gets a
-- warning instead of an error: an administrator creates the roles, then the owner
-- runs `select audit.grant_stocks_elt_roles();` to apply the grants. Everything
-- here is idempotent, so that call may be repeated at any time.

create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;

create function audit.grant_stocks_elt_roles() returns text
language plpgsql
as $$
declare
    role_name text;
    missing text[] := '{}';
begin
    foreach role_name in array array[
        'stocks_elt_loader', 'stocks_elt_transformer', 'stocks_elt_reader'
    ] loop
        if not exists (select from pg_roles where rolname = role_name) then
            begin
                execute format('create role %I nologin', role_name);
            exception
                -- another database of the cluster created it meanwhile
                when duplicate_object or unique_violation then
                    null;
                when insufficient_privilege then
                    missing := missing || role_name;
            end;
        end if;
    end loop;
    if cardinality(missing) > 0 then
        raise warning 'stocks_elt roles not created (% needs CREATEROLE): %; '
            'no grants applied. Create them, then run '
            'select audit.grant_stocks_elt_roles(); (docs/security.md)',
            current_user, array_to_string(missing, ', ');
        return 'roles missing: ' || array_to_string(missing, ', ');
    end if;

    -- Whoever runs a stage first checks that the schema is up to date.
    grant select on public.stocks_elt_migrations
        to stocks_elt_loader, stocks_elt_transformer, stocks_elt_reader;

    -- The loader: extract (quota ledger, outcomes, pending objects), load (raw
    -- tables, ledger, quarantine; TRUNCATE for a rebuild) and the gate (results,
    -- checked_at). Later migrations' tables are covered by the default privileges.
    grant usage on schema raw, audit to stocks_elt_loader;
    grant select, insert, update, delete, truncate
        on all tables in schema raw, audit to stocks_elt_loader;
    grant usage, select, update
        on all sequences in schema raw, audit to stocks_elt_loader;
    alter default privileges in schema raw, audit
        grant select, insert, update, delete, truncate on tables to stocks_elt_loader;
    alter default privileges in schema raw, audit
        grant usage, select, update on sequences to stocks_elt_loader;

    -- The transformer: dbt reads the raw tables and owns what it builds.
    grant usage on schema raw to stocks_elt_transformer;
    grant select on all tables in schema raw to stocks_elt_transformer;
    alter default privileges in schema raw
        grant select on tables to stocks_elt_transformer;
    grant usage, create on schema staging, intermediate, marts
        to stocks_elt_transformer;
    -- dbt's on-run-start hook says "create schema if not exists intermediate",
    -- which Postgres checks against the database's CREATE right even when the
    -- schema exists (and dbt creates a schema a new model folder names).
    execute format(
        'grant create on database %I to stocks_elt_transformer', current_database()
    );

    -- The reader: every mart, now and whenever dbt rebuilds one (as the
    -- transformer, or as the owner where one login does everything).
    grant usage on schema marts to stocks_elt_reader;
    grant select on all tables in schema marts to stocks_elt_reader;
    alter default privileges in schema marts
        grant select on tables to stocks_elt_reader;
    begin
        alter default privileges for role stocks_elt_transformer in schema marts
            grant select on tables to stocks_elt_reader;
    exception when insufficient_privilege then
        raise warning '% may not set default privileges for stocks_elt_transformer: '
            'marts it builds need "alter default privileges for role '
            'stocks_elt_transformer in schema marts grant select on tables to '
            'stocks_elt_reader" run by a superuser (docs/security.md)', current_user;
    end;

    -- status and report also show where each symbol stands before any mart is
    -- built (or when the transform fails): its last loaded session, last extract
    -- outcome, open quality findings, quarantined rows, today's API calls, and
    -- whether the listing calls it delisted.
    -- The reader sees those bookkeeping columns only: no price, no raw value, no
    -- ledger, no run history.
    grant usage on schema raw, audit to stocks_elt_reader;
    grant select (symbol, trade_date) on raw.daily_prices to stocks_elt_reader;
    -- A delisted symbol is current once its history reaches its last session.
    grant select (symbol, status, delisting_date) on raw.symbols
        to stocks_elt_reader;
    grant select (symbol, reason, quarantined_at) on raw.quarantine
        to stocks_elt_reader;
    grant select (
        extract_outcome_id, symbol, outcome, reason, has_history_gap, recorded_at
    ) on audit.extract_outcomes to stocks_elt_reader;
    grant select (
        dq_result_id, run_id, check_name, severity, symbol, status,
        observed_value, threshold, details, checked_at
    ) on audit.dq_results to stocks_elt_reader;
    grant select (key_hash, api_day, function, outcome) on audit.api_calls
        to stocks_elt_reader;
    return 'granted';
end
$$;

revoke execute on function audit.grant_stocks_elt_roles() from public;

select audit.grant_stocks_elt_roles();
