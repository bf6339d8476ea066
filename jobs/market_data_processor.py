"""The market data processor: raw trades and quotes → validated data, OHLCV bars, and a dead-letter topic.

Per-tick work is Flink SQL with tickflow's JVM functions (jobs/jvm): one JSON parse per record
(``PARSE_TRADE`` / ``PARSE_QUOTE``), the rules of ``jobs/market_rules.yaml`` compiled into one CASE,
duplicates found with a keyed running count, lateness judged against the operator's watermark, and 1m
bars aggregated by the ``OHLCV`` window aggregate. The 1m bars and late trades then go to the JVM bar
book (``io.tickflow.bars``), which numbers revisions and rolls 1m up into 5m/15m/1h/1d on event-time
timers. Python builds the job and exports the venues' trading sessions; no record runs through Python.

Every input record ends in exactly one place: a 1m bar's ``trade_count`` (on time, or merged late as a
revision), ``md.dlq`` (with its reason, original bytes, topic, partition and offset), or — quotes —
``md.quotes``.

    tickflow run market_data_processor [--bounded]     # local MiniCluster
    tickflow submit market_data_processor               # the session cluster
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from jobs import validation
from jobs.trading_days import sessions_spec
from tickflow import config
from tickflow.flink_runtime import environments, execute, job_argument_parser, local_bounded_run
from tickflow.kafka_tables import SERIES_PARTITIONER, exactly_once_sink_options, raw_source_options

JOB_NAME = "market-data-processor"
INPUT_TOPICS = ("md.raw.trades", "md.raw.quotes")  # what its consumer group reads
COMPONENT = "market_data_processor"


@dataclass(frozen=True)
class ProcessorOptions:
    """Event-time and duplicate settings; defaults suit live feeds and the ES replay."""

    out_of_orderness_ms: int = 2_000
    allowed_lateness_ms: int = 60_000
    dedup_horizon: str = "1 h"
    bounded: bool = False
    group_id: str = "tickflow-market-data-processor"
    transactional_prefix: str = "tickflow-mdp"


def _kafka_source(topic: str, bootstrap: str, o: ProcessorOptions) -> str:
    """Raw bytes: the key, and the value as it arrived (parsed by PARSE_* so nothing is dropped unseen)."""
    return raw_source_options(topic, bootstrap, o.group_id, o.bounded)


def _kafka_sink(topic: str, bootstrap: str, o: ProcessorOptions, name: str) -> str:
    partitioner = SERIES_PARTITIONER if topic == "md.bars" else "default"
    return exactly_once_sink_options(topic, bootstrap, f"{o.transactional_prefix}-{name}", partitioner=partitioner)


def trade_statements(bootstrap: str, o: ProcessorOptions, rules: validation.RuleSet,
                     carry: tuple[str, ...] = ()) -> list[str]:
    """The trades' side up to lateness: functions, the raw source, parse, rules, duplicates and the
    watermark (views ``trades_checked``, ``trades_counted``, ``trades_timed``). The quality job
    (jobs/data_quality.py) declares the same views so that it classifies every record as this job does;
    ``carry`` names extra fields of the parse it needs (e.g. ``ts_recv``)."""
    trade_reason, trade_detail = validation.compile_sql(rules, "trades")
    # A computed column cannot use another, so the parse is repeated here: the function's per-thread
    # cache makes every call after the first on the same bytes an array comparison.
    ts = "PARSE_TRADE(payload).ts_event"
    sane_time = (f"PARSE_TRADE(payload).reason IS NULL AND {ts} >= {rules.min_ts_event_ns} "
                 f"AND {ts} <= UNIX_TIMESTAMP() * 1000000000 + {rules.future_tolerance_ns}")
    parsed_extra = "".join(f", p.{c} AS {c}" for c in carry)
    counted_extra = "".join(f", {c}" for c in carry)
    return [
        "CREATE TEMPORARY FUNCTION PARSE_TRADE AS 'io.tickflow.udf.ParseTrade' LANGUAGE JAVA",
        "CREATE TEMPORARY FUNCTION PARSE_QUOTE AS 'io.tickflow.udf.ParseQuote' LANGUAGE JAVA",
        "CREATE TEMPORARY FUNCTION OHLCV AS 'io.tickflow.udf.Ohlcv' LANGUAGE JAVA",
        # --- source: bytes as they are, parsed once; event time only from sane, parsed timestamps
        f"""CREATE TEMPORARY TABLE raw_trades (
              k BYTES, payload BYTES,
              kafka_partition INT METADATA FROM 'partition' VIRTUAL,
              kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,
              pt AS PROCTIME(),
              p AS PARSE_TRADE(payload),
              rt AS CASE WHEN {sane_time} THEN TO_TIMESTAMP_LTZ({ts} / 1000000, 3)
                         ELSE TO_TIMESTAMP_LTZ(0, 3) END,
              WATERMARK FOR rt AS rt - INTERVAL '{o.out_of_orderness_ms / 1000}' SECOND
            ) WITH ({_kafka_source('md.raw.trades', bootstrap, o)})""",
        # --- trades: classify
        f"""CREATE TEMPORARY VIEW trades_parsed AS
            SELECT k, payload, kafka_partition, kafka_offset, pt, rt,
                   p.reason AS parse_reason, p.detail AS parse_detail, p.source AS source, p.symbol AS symbol,
                   p.venue AS venue, p.ts_event AS ts_event, p.seq AS seq, p.price AS price, p.size AS size,
                   p.trade_id AS trade_id{parsed_extra}
            FROM raw_trades""",
        f"""CREATE TEMPORARY VIEW trades_checked AS
            SELECT *, {trade_reason} AS reason, {trade_detail} AS detail FROM trades_parsed""",
        # --- duplicates: a running count per identity, in arrival order; state expires after the horizon
        f"""CREATE TEMPORARY VIEW trades_counted AS
            SELECT k, payload, kafka_partition, kafka_offset, rt, source, symbol, venue, ts_event, seq, price, size,
                   trade_id{counted_extra},
                   COUNT(*) OVER (PARTITION BY source, COALESCE(trade_id, CONCAT('#', CAST(seq AS STRING)))
                                  ORDER BY pt ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS seen
            FROM trades_checked WHERE reason IS NULL""",
        # --- lateness against this operator's watermark (never ahead of the window operator's)
        f"""CREATE TEMPORARY VIEW trades_timed AS
            SELECT *, CURRENT_WATERMARK(rt) AS wm,
                   TO_TIMESTAMP_LTZ((ts_event / 60000000000 + 1) * 60000 - 1, 3) AS minute_last_ms,
                   TO_TIMESTAMP_LTZ((ts_event / 60000000000 + 1) * 60000 - 1 + {o.allowed_lateness_ms}, 3)
                     AS minute_expiry
            FROM trades_counted WHERE seen = 1""",
    ]


def statements(bootstrap: str, o: ProcessorOptions, rules: validation.RuleSet) -> list[str]:
    """The DDL and views of the SQL part, in order."""
    lateness_ms = o.allowed_lateness_ms
    quote_reason, quote_detail = validation.compile_sql(rules, "quotes")
    dlq_cols = "k, reason, detail, topic, kafka_partition, kafka_offset, TO_BASE64(payload), 'base64', " \
               f"UNIX_TIMESTAMP() * 1000000000, '{COMPONENT}'"
    return trade_statements(bootstrap, o, rules) + [
        f"""CREATE TEMPORARY TABLE raw_quotes (
              k BYTES, payload BYTES,
              kafka_partition INT METADATA FROM 'partition' VIRTUAL,
              kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,
              p AS PARSE_QUOTE(payload)
            ) WITH ({_kafka_source('md.raw.quotes', bootstrap, o)})""",
        # --- sinks
        f"""CREATE TEMPORARY TABLE dlq (
              k BYTES, reason STRING, detail STRING, topic STRING, `partition` INT, `offset` BIGINT,
              original STRING, original_encoding STRING, seen_at BIGINT, component STRING
            ) WITH ({_kafka_sink('md.dlq', bootstrap, o, 'dlq')})""",
        f"""CREATE TEMPORARY TABLE valid_quotes (
              k BYTES, source STRING, symbol STRING, venue STRING, ts_event BIGINT, ts_recv BIGINT, seq BIGINT,
              bid STRING, bid_size STRING, ask STRING, ask_size STRING
            ) WITH ({_kafka_sink('md.quotes', bootstrap, o, 'quotes')})""",
        f"""CREATE TEMPORARY TABLE bars_out (
              k BYTES, symbol STRING, timeframe STRING, bucket_start BIGINT, bucket_end BIGINT,
              `open` STRING, high STRING, low STRING, `close` STRING, volume STRING, vwap STRING,
              trade_count BIGINT, revision INT, sources ARRAY<STRING>, pipeline_version STRING
            ) WITH ({_kafka_sink('md.bars', bootstrap, o, 'bars')})""",
        """CREATE TEMPORARY VIEW trades_on_time AS
            SELECT rt, source, symbol, venue, ts_event, seq, price, size FROM trades_timed
            WHERE wm IS NULL OR minute_last_ms > wm""",
        """CREATE TEMPORARY VIEW trades_late AS
            SELECT rt, source, symbol, venue, ts_event, seq, price, size FROM trades_timed
            WHERE wm IS NOT NULL AND minute_last_ms <= wm AND minute_expiry > wm""",
        # --- 1m bars from on-time trades (JVM), then one stream of 1m parts for the bar book
        """CREATE TEMPORARY VIEW minute_bars AS
            SELECT symbol, window_start, window_time, OHLCV(ts_event, seq, price, size, source, venue) AS b
            FROM TABLE(TUMBLE(TABLE trades_on_time, DESCRIPTOR(rt), INTERVAL '1' MINUTE))
            GROUP BY symbol, window_start, window_end, window_time""",
        """CREATE TEMPORARY VIEW minute_parts AS
            SELECT symbol, b.venue AS venue, b.`open` AS o, b.high AS h, b.low AS l, b.`close` AS c,
                   b.volume AS volume, b.notional AS notional, b.trade_count AS trade_count,
                   b.open_ts AS open_ts, b.open_seq AS open_seq, b.close_ts AS close_ts, b.close_seq AS close_seq,
                   b.sources AS sources, window_time AS rt
            FROM minute_bars
            UNION ALL
            SELECT symbol, venue, price, price, price, price, CAST(size AS DECIMAL(38, 9)),
                   CAST(price * size AS DECIMAL(38, 18)), CAST(1 AS BIGINT), ts_event, seq, ts_event, seq,
                   source, rt
            FROM trades_late""",
        # --- quotes
        """CREATE TEMPORARY VIEW quotes_checked AS
            SELECT k, payload, kafka_partition, kafka_offset,
                   p.reason AS parse_reason, p.detail AS parse_detail, p.source AS source, p.symbol AS symbol,
                   p.venue AS venue, p.ts_event AS ts_event, p.ts_recv AS ts_recv, p.seq AS seq,
                   p.bid AS bid, p.bid_size AS bid_size, p.ask AS ask, p.ask_size AS ask_size
            FROM raw_quotes""",
        f"""CREATE TEMPORARY VIEW quotes_classified AS
            SELECT *, {quote_reason} AS reason, {quote_detail} AS detail FROM quotes_checked""",
        # --- every reject, with its bytes and coordinates
        f"""CREATE TEMPORARY VIEW rejects AS
            SELECT {dlq_cols} FROM (SELECT *, 'md.raw.trades' AS topic FROM trades_checked WHERE reason IS NOT NULL)
            UNION ALL
            SELECT {dlq_cols} FROM (
              SELECT k, payload, kafka_partition, kafka_offset, 'md.raw.trades' AS topic, 'DUPLICATE' AS reason,
                     CONCAT('trade ', source, ' ', COALESCE(trade_id, CONCAT('seq ', CAST(seq AS STRING))),
                            ' seen ', CAST(seen - 1 AS STRING), ' time(s) before') AS detail
              FROM trades_counted WHERE seen > 1)
            UNION ALL
            SELECT {dlq_cols} FROM (
              SELECT k, payload, kafka_partition, kafka_offset, 'md.raw.trades' AS topic, 'LATE' AS reason,
                     CONCAT('minute of ts_event ', CAST(ts_event AS STRING), ' closed more than ',
                            '{lateness_ms} ms before watermark ', CAST(wm AS STRING)) AS detail
              FROM trades_timed WHERE wm IS NOT NULL AND minute_expiry <= wm)
            UNION ALL
            SELECT {dlq_cols} FROM (SELECT *, 'md.raw.quotes' AS topic FROM quotes_classified WHERE reason IS NOT NULL)""",
    ]


def bar_stage(t_env, parts, allowed_lateness_ms: int, sessions: str):
    """The JVM bar book (jobs/jvm ``io.tickflow.bars.BarStage``) over the 1m parts: keyed by symbol, state and
    event-time timers in the JVM, so no record crosses into Python at run time."""
    from pyflink.java_gateway import get_gateway
    from pyflink.table import Table

    stage = get_gateway().jvm.io.tickflow.bars.BarStage
    return Table(stage.bars(t_env._j_tenv, parts._j_table, sessions, allowed_lateness_ms, f"{JOB_NAME}-bar-book"),
                 t_env)


def build(t_env, bootstrap: str, o: ProcessorOptions, rules: validation.RuleSet | None = None):
    """Declare everything on ``t_env``; returns the statement set, attached to the DataStream graph."""
    rules = rules or validation.load_rules()
    t_env.get_config().set("table.exec.state.ttl", o.dedup_horizon)
    for stmt in statements(bootstrap, o, rules):
        t_env.execute_sql(stmt)

    bars = bar_stage(t_env, t_env.from_path("minute_parts"), o.allowed_lateness_ms,
                     sessions_spec(rules.venue_calendars))
    stmt_set = t_env.create_statement_set()
    stmt_set.add_insert("bars_out", bars)
    stmt_set.add_insert_sql("INSERT INTO dlq SELECT * FROM rejects")
    stmt_set.add_insert_sql("""INSERT INTO valid_quotes
        SELECT k, source, symbol, venue, ts_event, ts_recv, seq, CAST(bid AS STRING), CAST(bid_size AS STRING),
               CAST(ask AS STRING), CAST(ask_size AS STRING)
        FROM quotes_classified WHERE reason IS NULL""")
    stmt_set.attach_as_datastream()
    return stmt_set


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = job_argument_parser("market_data_processor", __doc__.splitlines()[0])
    d = ProcessorOptions()
    p.add_argument("--out-of-orderness-ms", type=int, default=d.out_of_orderness_ms)
    p.add_argument("--allowed-lateness-ms", type=int, default=d.allowed_lateness_ms)
    p.add_argument("--dedup-horizon", default=d.dedup_horizon, help="how long a trade id is remembered, e.g. '1 h'")
    p.add_argument("--group-id", default=d.group_id)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = config.load()
    options = ProcessorOptions(args.out_of_orderness_ms, args.allowed_lateness_ms, args.dedup_horizon,
                               args.bounded, args.group_id)
    # A bounded run ends every split with the maximum watermark; with idleness on, a subtask still warming
    # up counts as idle and the finished one's maximum becomes the watermark, making every trade LATE.
    # Bounded input needs no idleness: each split ends on its own.
    extra = {"table.exec.source.idle-timeout": "0 ms"} if args.bounded else None
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    with local_bounded_run(args, bootstrap, options.group_id, INPUT_TOPICS):
        stream_env, t_env = environments(settings, JOB_NAME, parallelism=args.parallelism,
                                         on_cluster=args.cluster, extra=extra)
        build(t_env, bootstrap, options)
        execute(stream_env, JOB_NAME, args.cluster)
    return 0


if __name__ == "__main__":
    sys.exit(main())
