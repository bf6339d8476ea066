-- The indicators of one symbol and timeframe with bucket_start in [from, to), oldest first, beside the
-- close of the bar they were computed on.
-- Parameters: symbol, timeframe, from, to.
SELECT i.symbol, i.timeframe, i.bucket_start, b.close, i.sma_20, i.sma_50, i.ema_12, i.ema_26, i.macd,
       i.macd_signal, i.macd_hist, i.rsi_14, i.bb_upper, i.bb_mid, i.bb_lower, i.atr_14, i.vwap_day,
       i.stoch_k, i.stoch_d, i.indicator_set, i.bar_revision
FROM indicators i
LEFT JOIN bars b USING (symbol, timeframe, bucket_start)
WHERE i.symbol = %(symbol)s AND i.timeframe = %(timeframe)s
  AND i.bucket_start >= %(from)s::timestamptz AND i.bucket_start < %(to)s::timestamptz
ORDER BY i.bucket_start
