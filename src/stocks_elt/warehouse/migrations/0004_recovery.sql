-- What crash recovery needs: every stage must find the work an interrupted run left.

-- Lake objects extract is writing or has written, not yet loaded. Extract records
-- a key here before it puts the object, the loader deletes the row in the
-- transaction that writes the object's ledger row. So a run killed anywhere
-- between the two leaves its objects here, and the next load finds them with one
-- index scan instead of listing the whole lake. A row whose object never reached
-- the lake (the run died before the put) is dropped after a grace period.
create table raw.pending_objects (
    object_key text primary key,
    function text not null,
    symbol text,
    run_id uuid,
    recorded_at timestamptz not null default now()
);

-- Where a refused object was moved in the lake (quarantine/...), so the next
-- extract fetches its symbol again instead of finding it unchanged.
alter table raw.load_ledger add column moved_to text;

-- The process that runs a pipeline run ("host:pid"). While it lives it holds a
-- session advisory lock named after the run; a run left 'running' whose lock is
-- free lost its process and is marked 'abandoned' by the next run.
alter table audit.pipeline_runs add column process text;

-- When a quality gate checked the object's rows (pass or fail). A gate killed
-- half-way leaves its objects unchecked, and the next gate checks them too.
-- Objects loaded before this column existed count as checked.
alter table raw.load_ledger add column checked_at timestamptz;
update raw.load_ledger set checked_at = loaded_at;
create index load_ledger_unchecked_idx on raw.load_ledger (run_id)
    where checked_at is null;
