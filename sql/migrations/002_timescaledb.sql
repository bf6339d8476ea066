-- requires: timescaledb
-- The TimescaleDB layer over 001's tables, applied only where the extension is available.
-- Chunk intervals follow each table's rate: ticks by the day, bars and indicators by the week.

CREATE EXTENSION IF NOT EXISTS timescaledb;

SELECT create_hypertable('trades', by_range('time', INTERVAL '1 day'), if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('quotes', by_range('time', INTERVAL '1 day'), if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('bars', by_range('bucket_start', INTERVAL '7 days'), if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('indicators', by_range('bucket_start', INTERVAL '7 days'), if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('quality', by_range('window_start', INTERVAL '7 days'), if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('news', by_range('published_at', INTERVAL '30 days'), if_not_exists => TRUE, migrate_data => TRUE);

-- Compression: segment by symbol (every documented query filters on it), newest first within a segment.
ALTER TABLE trades SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = 'time DESC, source, seq');
ALTER TABLE quotes SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = 'time DESC, source, seq');
ALTER TABLE bars SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol, timeframe', timescaledb.compress_orderby = 'bucket_start DESC');
ALTER TABLE indicators SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol, timeframe', timescaledb.compress_orderby = 'bucket_start DESC');
ALTER TABLE quality SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = 'window_start DESC, source');

-- Compress once a chunk is past the bars' allowed lateness and revisions (days, not minutes).
SELECT add_compression_policy('trades', INTERVAL '2 days', if_not_exists => TRUE);
SELECT add_compression_policy('quotes', INTERVAL '2 days', if_not_exists => TRUE);
SELECT add_compression_policy('bars', INTERVAL '14 days', if_not_exists => TRUE);
SELECT add_compression_policy('indicators', INTERVAL '14 days', if_not_exists => TRUE);
SELECT add_compression_policy('quality', INTERVAL '14 days', if_not_exists => TRUE);

-- Retention: ticks are kept 90 days here (the Parquet lake keeps all history); bars and indicators by
-- timeframe through bar_retention (001), run daily as a TimescaleDB job.
SELECT add_retention_policy('trades', INTERVAL '90 days', if_not_exists => TRUE);
SELECT add_retention_policy('quotes', INTERVAL '30 days', if_not_exists => TRUE);
SELECT add_retention_policy('quality', INTERVAL '1 year', if_not_exists => TRUE);
SELECT add_job('tickflow_prune_bars', INTERVAL '1 day') WHERE NOT EXISTS (SELECT 1 FROM timescaledb_information.jobs WHERE proc_name = 'tickflow_prune_bars');

-- Daily summaries from 1m bars, bucketed on the CME trading day (17:00 America/Chicago to 17:00), which
-- holds every session of the venues tickflow configures. vwap is rebuilt from the 1m vwaps (rounded to 9
-- places), so it may differ from the 1d bar's exact vwap in the last places.
CREATE MATERIALIZED VIEW IF NOT EXISTS bars_daily_summary WITH (timescaledb.continuous) AS
SELECT symbol,
       time_bucket(INTERVAL '1 day', bucket_start, 'America/Chicago', "offset" => INTERVAL '-7 hours') AS day,
       first(open, bucket_start) AS open,
       max(high) AS high,
       min(low) AS low,
       last(close, bucket_start) AS close,
       sum(volume) AS volume,
       sum(vwap * volume) / sum(volume) AS vwap,
       sum(trade_count) AS trade_count,
       count(*) AS minutes
FROM bars
WHERE timeframe = '1m'
GROUP BY symbol, day
WITH NO DATA;
SELECT add_continuous_aggregate_policy('bars_daily_summary', start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '5 minutes', if_not_exists => TRUE);
