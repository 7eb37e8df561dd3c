-- The daily transform asks raw.daily_prices for the rows that changed since a
-- mart last saw it: coalesce(updated_at, loaded_at) > the mart's watermark, the
-- staging view's changed_at. Without an index that is a scan of the whole
-- history every day. Rows are only appended (a correction writes a new row
-- version, at the end of the table too), so the change time follows the
-- physical order and a BRIN index answers with the last few block ranges, at a
-- write cost a btree would not have (one summary per 128 pages, not one entry
-- per row). Ranges not yet summarised are always read, so new rows are never
-- missed; autosummarize folds them in after the load.
create index daily_prices_changed_at_brin on raw.daily_prices
    using brin ((coalesce(updated_at, loaded_at)))
    with (autosummarize = on);
