-- The latest bar of every symbol for one timeframe.
-- A loose index scan finds the symbols (one index probe each, not a scan of the table), then one probe of
-- the primary key (symbol, timeframe, bucket_start) per symbol; on TimescaleDB only the newest chunk is read.
-- Parameters: timeframe.
WITH RECURSIVE symbols AS (
    (SELECT symbol FROM bars ORDER BY symbol LIMIT 1)
    UNION ALL
    SELECT (SELECT b.symbol FROM bars b WHERE b.symbol > s.symbol ORDER BY b.symbol LIMIT 1)
    FROM symbols s WHERE s.symbol IS NOT NULL
)
SELECT latest.*
FROM symbols s
CROSS JOIN LATERAL (
    SELECT b.symbol, b.timeframe, b.bucket_start, b.bucket_end, b.open, b.high, b.low, b.close, b.volume,
           b.vwap, b.trade_count, b.revision
    FROM bars b
    WHERE b.symbol = s.symbol AND b.timeframe = %(timeframe)s
    ORDER BY b.bucket_start DESC
    LIMIT 1
) latest
WHERE s.symbol IS NOT NULL
ORDER BY latest.symbol
