-- Which universe a run extracted: "tickers", or the canonical listing: spec it
-- was chosen by (STOCKS_ELT_UNIVERSE), so a run's symbols can be explained later.
alter table audit.pipeline_runs add column universe text;

-- The objects one ingest run announced: its manifest lists them.
create index pending_objects_run_idx on raw.pending_objects (run_id);
