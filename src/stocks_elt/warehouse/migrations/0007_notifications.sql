-- Every notification stocks-elt tried to send, one row per channel: what it was
-- about, whether it went out, and why not. A failed notification never fails the
-- pipeline; it is logged and counted here (stocks-elt history shows the count).
-- dedupe_key names an event that must be announced once (a missed deadline for
-- one session, deferred symbols on one day): a later attempt that finds a sent
-- row with the same key is skipped.
create table audit.notifications (
    notification_id bigint generated always as identity primary key,
    run_id uuid,
    event text not null,
    channel text not null,
    status text not null check (status in ('sent', 'failed')),
    subject text not null,
    error text,
    dedupe_key text,
    attempted_at timestamptz not null default now()
);
create index notifications_attempted_idx on audit.notifications (attempted_at);
create index notifications_dedupe_idx on audit.notifications (dedupe_key)
    where status = 'sent' and dedupe_key is not null;

-- stocks-elt history and the freshness check read the latest runs.
create index pipeline_runs_started_idx on audit.pipeline_runs (started_at desc);
