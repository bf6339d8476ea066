-- The results of `tickflow audit` (tickflow/audit.py): Great Expectations suites over one date of a dataset,
-- run on the Parquet lake's partition, on the table's rows of that date, and on the two compared.
-- One row per suite and target per run; runs are appended, so a date keeps the history of its audits.
-- An empty side is a row too: success false, row_count 0, summary "no rows in … for date …".

CREATE TABLE IF NOT EXISTS quality_audits (
    run_id      text        NOT NULL,
    run_at      timestamptz NOT NULL DEFAULT now(),
    dataset     text        NOT NULL CHECK (dataset IN ('bars', 'trades', 'indicators')),
    date        date        NOT NULL,
    suite       text        NOT NULL,   -- bars, bars.calendar, bars.lake_vs_table, …
    target      text        NOT NULL CHECK (target IN ('lake', 'table', 'lake_vs_table')),
    location    text        NOT NULL,   -- the partition or table that was read
    success     boolean     NOT NULL,
    row_count   bigint      NOT NULL,
    evaluated   integer     NOT NULL,   -- expectations run
    failed      integer     NOT NULL,   -- expectations failed (1 for an empty side)
    failures    jsonb       NOT NULL DEFAULT '[]'::jsonb,   -- each: expectation, kwargs, counts, sample rows
    summary     text,                   -- completeness per symbol, or why nothing was validated
    data_docs   text,                   -- the Data Docs index.html the run updated
    PRIMARY KEY (run_id, suite, target)
);
CREATE INDEX IF NOT EXISTS quality_audits_by_date ON quality_audits (dataset, date, run_at DESC);
