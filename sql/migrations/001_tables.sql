-- tickflow's tables on plain PostgreSQL (no extension needed).
-- Every table is keyed on its natural key so the Flink JDBC sinks write upserts: a replay or a restart
-- from a checkpoint rewrites the same rows, and a revised bar replaces the earlier one.
-- Times: `time`/`bucket_start` are timestamptz (microseconds, what TimescaleDB partitions on); the exact
-- nanosecond event time of ticks is kept beside it in `ts_event`. Prices and sizes are exact numerics.

CREATE TABLE IF NOT EXISTS trades (
    time        timestamptz NOT NULL,
    ts_event    bigint      NOT NULL,
    ts_recv     bigint      NOT NULL,
    source      text        NOT NULL,
    symbol      text        NOT NULL,
    venue       text,
    seq         bigint      NOT NULL,
    trade_id    text,
    price       numeric     NOT NULL,
    size        numeric     NOT NULL,
    PRIMARY KEY (symbol, source, seq, time)
);
CREATE INDEX IF NOT EXISTS trades_symbol_time ON trades (symbol, time DESC);

CREATE TABLE IF NOT EXISTS quotes (
    time        timestamptz NOT NULL,
    ts_event    bigint      NOT NULL,
    ts_recv     bigint      NOT NULL,
    source      text        NOT NULL,
    symbol      text        NOT NULL,
    venue       text,
    seq         bigint      NOT NULL,
    bid         numeric     NOT NULL,
    bid_size    numeric     NOT NULL,
    ask         numeric     NOT NULL,
    ask_size    numeric     NOT NULL,
    PRIMARY KEY (symbol, source, seq, time)
);
CREATE INDEX IF NOT EXISTS quotes_symbol_time ON quotes (symbol, time DESC);

-- All timeframes in one table; the primary key serves "latest bar per symbol" and "a range of bars".
CREATE TABLE IF NOT EXISTS bars (
    symbol           text        NOT NULL,
    timeframe        text        NOT NULL CHECK (timeframe IN ('1m', '5m', '15m', '1h', '1d')),
    bucket_start     timestamptz NOT NULL,
    bucket_end       timestamptz NOT NULL,
    open             numeric     NOT NULL,
    high             numeric     NOT NULL,
    low              numeric     NOT NULL,
    close            numeric     NOT NULL,
    volume           numeric     NOT NULL,
    vwap             numeric     NOT NULL,
    trade_count      bigint      NOT NULL,
    revision         integer     NOT NULL,
    sources          text[]      NOT NULL,
    pipeline_version text        NOT NULL,
    PRIMARY KEY (symbol, timeframe, bucket_start)
);

CREATE TABLE IF NOT EXISTS indicators (
    symbol           text        NOT NULL,
    timeframe        text        NOT NULL,
    bucket_start     timestamptz NOT NULL,
    bucket_end       timestamptz NOT NULL,
    bar_revision     integer     NOT NULL,
    indicator_set    integer     NOT NULL,
    sma_20           double precision,
    sma_50           double precision,
    ema_12           double precision,
    ema_26           double precision,
    macd             double precision,
    macd_signal      double precision,
    macd_hist        double precision,
    rsi_14           double precision,
    bb_upper         double precision,
    bb_mid           double precision,
    bb_lower         double precision,
    atr_14           double precision,
    vwap_day         double precision,
    stoch_k          double precision,
    stoch_d          double precision,
    pipeline_version text        NOT NULL,
    PRIMARY KEY (symbol, timeframe, bucket_start)
);

CREATE TABLE IF NOT EXISTS quality (
    source        text             NOT NULL,
    symbol        text             NOT NULL,
    window_start  timestamptz      NOT NULL,
    window_end    timestamptz      NOT NULL,
    score         double precision NOT NULL,
    metrics       jsonb            NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (source, symbol, window_start)
);

CREATE TABLE IF NOT EXISTS news (
    article_id    text        NOT NULL,
    published_at  timestamptz NOT NULL,
    source        text        NOT NULL,
    headline      text        NOT NULL,
    symbols       text[]      NOT NULL DEFAULT '{}',
    url           text,
    body          text,
    PRIMARY KEY (article_id, published_at)
);
CREATE INDEX IF NOT EXISTS news_symbols ON news USING gin (symbols);

-- How long each bar timeframe is kept (one bars table holds them all, so retention is per row, not per
-- chunk). tickflow_prune_bars applies it: a TimescaleDB job calls it daily; on plain PostgreSQL, cron it.
CREATE TABLE IF NOT EXISTS bar_retention (
    timeframe  text     PRIMARY KEY,
    keep       interval NOT NULL
);
INSERT INTO bar_retention (timeframe, keep) VALUES
    ('1m', INTERVAL '90 days'), ('5m', INTERVAL '1 year'), ('15m', INTERVAL '2 years'),
    ('1h', INTERVAL '5 years'), ('1d', INTERVAL '50 years')
ON CONFLICT (timeframe) DO NOTHING;

CREATE OR REPLACE PROCEDURE tickflow_prune_bars(job_id integer DEFAULT NULL, config jsonb DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT timeframe, keep FROM bar_retention LOOP
        DELETE FROM bars WHERE timeframe = r.timeframe AND bucket_start < now() - r.keep;
        DELETE FROM indicators WHERE timeframe = r.timeframe AND bucket_start < now() - r.keep;
    END LOOP;
END
$$;
