-- The bars of one symbol and timeframe with bucket_start in [from, to), oldest first (primary key range).
-- Parameters: symbol, timeframe, from, to (timestamptz text, e.g. 2013-09-02T00:00:00Z).
SELECT symbol, timeframe, bucket_start, bucket_end, open, high, low, close, volume, vwap, trade_count, revision
FROM bars
WHERE symbol = %(symbol)s AND timeframe = %(timeframe)s
  AND bucket_start >= %(from)s::timestamptz AND bucket_start < %(to)s::timestamptz
ORDER BY bucket_start
