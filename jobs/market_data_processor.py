"""The market data processor: raw trades and quotes → validated data, OHLCV bars, and a dead-letter topic.

Per-tick work is Flink SQL with tickflow's JVM functions (jobs/jvm), in the first stage every job of
md.raw.trades shares (jobs/raw_trades.py): one JSON parse per record (``PARSE_TRADE`` / ``PARSE_QUOTE``)
and the rules of ``jobs/market_rules.yaml`` compiled into one CASE. Every checked trade then goes, as one
stream, to the JVM bar stage (``io.tickflow.bars``): the rules' rejects leave for md.dlq, the valid trades
reach the bar book keyed by symbol, which refuses LATE trades (against the watermark it forgets by) and
DUPLICATEs (the identities of the trades in the minutes it still holds), builds the 1m bars, numbers
revisions and rolls 1m up into 5m/15m/1h/1d on event-time timers. The raw topic is read and parsed once;
Python builds the job and exports the venues' trading sessions; no record runs through Python.

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

from jobs import catalog, dead_letters, raw_trades, validation
from jobs.trading_days import sessions_spec
from tickflow.runtime import config
from tickflow.runtime.flink_runtime import (
    environments,
    execute,
    job_argument_parser,
    local_bounded_run,
)
from tickflow.runtime.kafka_tables import (
    SERIES_PARTITIONER,
    at_least_once_sink_options,
    exactly_once_sink_options,
    raw_source_options,
)

JOB = catalog.MARKET_DATA_PROCESSOR
JOB_NAME = JOB.name
INPUT_TOPICS = JOB.input_topics
(BAR_BOOK_UID,) = JOB.uids
COMPONENT = "market_data_processor"


@dataclass(frozen=True)
class ProcessorOptions:
    """Event-time settings; defaults suit live feeds and the ES replay. The allowed lateness is also how long
    a trade's identity is remembered against repeats: a repeat later than that is LATE."""

    out_of_orderness_ms: int = 2_000
    allowed_lateness_ms: int = 60_000
    bounded: bool = False
    live_bars: bool = True  # also write the bars to md.bars.live, at least once, without waiting for commits
    group_id: str = JOB.group_id
    transactional_prefix: str = "tickflow-mdp"


BAR_COLUMNS = ("k BYTES, symbol STRING, timeframe STRING, bucket_start BIGINT, bucket_end BIGINT, `open` STRING, "
               "high STRING, low STRING, `close` STRING, volume STRING, vwap STRING, trade_count BIGINT, "
               "revision INT, sources ARRAY<STRING>, pipeline_version STRING")


def _kafka_source(topic: str, bootstrap: str, o: ProcessorOptions) -> str:
    """Raw bytes: the key, and the value as it arrived (parsed by PARSE_* so nothing is dropped unseen)."""
    return raw_source_options(topic, bootstrap, o.group_id, o.bounded)


def _kafka_sink(topic: str, bootstrap: str, o: ProcessorOptions, name: str) -> str:
    partitioner = SERIES_PARTITIONER if topic == "md.bars" else "default"
    return exactly_once_sink_options(topic, bootstrap, f"{o.transactional_prefix}-{name}", partitioner=partitioner)


def statements(bootstrap: str, o: ProcessorOptions, rules: validation.RuleSet) -> list[str]:
    """The DDL and views of the SQL part, in order."""
    quote_reason, quote_detail = validation.compile_sql(rules, "quotes")
    trades_source = _kafka_source("md.raw.trades", bootstrap, o)
    return raw_trades.statements(trades_source, rules, o.out_of_orderness_ms) + [
        f"""CREATE TEMPORARY TABLE raw_quotes (
              k BYTES, payload BYTES,
              kafka_partition INT METADATA FROM 'partition' VIRTUAL,
              kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,
              p AS PARSE_QUOTE(payload)
            ) WITH ({_kafka_source('md.raw.quotes', bootstrap, o)})""",
        # --- sinks
        dead_letters.table_statement("dlq", bootstrap, f"{o.transactional_prefix}-dlq"),
        f"""CREATE TEMPORARY TABLE valid_quotes (
              k BYTES, source STRING, symbol STRING, venue STRING, ts_event BIGINT, ts_recv BIGINT, seq BIGINT,
              bid STRING, bid_size STRING, ask STRING, ask_size STRING
            ) WITH ({_kafka_sink('md.quotes', bootstrap, o, 'quotes')})""",
        f"""CREATE TEMPORARY TABLE bars_out ({BAR_COLUMNS}) WITH ({_kafka_sink('md.bars', bootstrap, o, 'bars')})""",
        f"""CREATE TEMPORARY TABLE bars_live ({BAR_COLUMNS}) WITH ({at_least_once_sink_options(
            'md.bars.live', bootstrap, partitioner=SERIES_PARTITIONER)})""",
        # --- every checked trade goes to the bar stage (rejects, duplicates, lateness, bars in the JVM)
        """CREATE TEMPORARY VIEW trades_to_book AS
            SELECT k, payload, kafka_partition, kafka_offset, rt, source, symbol, venue, ts_event, seq, trade_id,
                   price, size, reason, detail
            FROM trades_checked""",
        # --- quotes
        """CREATE TEMPORARY VIEW quotes_checked AS
            SELECT k, payload, kafka_partition, kafka_offset,
                   p.reason AS parse_reason, p.detail AS parse_detail, p.source AS source, p.symbol AS symbol,
                   p.venue AS venue, p.ts_event AS ts_event, p.ts_recv AS ts_recv, p.seq AS seq,
                   p.bid AS bid, p.bid_size AS bid_size, p.ask AS ask, p.ask_size AS ask_size
            FROM raw_quotes""",
        f"""CREATE TEMPORARY VIEW quotes_classified AS
            SELECT *, {quote_reason} AS reason, {quote_detail} AS detail FROM quotes_checked""",
        # --- the quotes' rejects, with their bytes and coordinates (the bar stage gives the trades')
        f"""CREATE TEMPORARY VIEW quote_rejects AS
            SELECT {_dead_letter('reason', 'detail', 'md.raw.quotes')}
            FROM quotes_classified WHERE reason IS NOT NULL""",
    ]


def _dead_letter(reason: str, detail: str, topic: str) -> str:
    return dead_letters.select(reason, detail, topic, COMPONENT)


def bar_stage(t_env, trades, allowed_lateness_ms: int, sessions: str):
    """The JVM bar stage (jobs/jvm ``io.tickflow.bars.BarStage``) over the checked trades: the bar book keyed
    by symbol, state and event-time timers in the JVM, so no record crosses into Python at run time. Returns
    the bar rows and the refused trades (rules, DUPLICATE, LATE) with their reasons."""
    from pyflink.java_gateway import get_gateway
    from pyflink.table import Table

    stage = get_gateway().jvm.io.tickflow.bars.BarStage
    out = stage.bars(t_env._j_tenv, trades._j_table, sessions, allowed_lateness_ms, BAR_BOOK_UID)
    return Table(out.barTable(), t_env), Table(out.refusedTable(), t_env)


def build(t_env, bootstrap: str, o: ProcessorOptions, rules: validation.RuleSet | None = None):
    """Declare everything on ``t_env``; returns the statement set, attached to the DataStream graph."""
    rules = rules or validation.load_rules()
    for stmt in statements(bootstrap, o, rules):
        t_env.execute_sql(stmt)

    bars, refused = bar_stage(t_env, t_env.from_path("trades_to_book"), o.allowed_lateness_ms,
                              sessions_spec(rules.venue_calendars))
    t_env.create_temporary_view("refused_trades", refused)
    stmt_set = t_env.create_statement_set()
    stmt_set.add_insert("bars_out", bars)
    if o.live_bars:
        stmt_set.add_insert("bars_live", bars)
    stmt_set.add_insert_sql(f"""INSERT INTO dlq
        SELECT {_dead_letter('reason', 'detail', 'md.raw.trades')} FROM refused_trades
        UNION ALL
        SELECT * FROM quote_rejects""")
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
    p.add_argument("--no-live-bars", action="store_true",
                   help="write no md.bars.live (the at-least-once copy of md.bars for low-latency consumers)")
    p.add_argument("--group-id", default=d.group_id)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = config.load()
    options = ProcessorOptions(args.out_of_orderness_ms, args.allowed_lateness_ms, args.bounded,
                               not args.no_live_bars, args.group_id)
    # A bounded run ends every split with the maximum watermark; with idleness on, a subtask still warming
    # up counts as idle and the finished one's maximum becomes the watermark, making every trade LATE.
    # Bounded input needs no idleness: each split ends on its own.
    extra = {"table.exec.source.idle-timeout": "0 ms"} if args.bounded else {}
    # chained operators hand records on without a copy: none of the processor's keeps a reference to its input
    extra["pipeline.object-reuse"] = "true"
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    with local_bounded_run(args, bootstrap, options.group_id, INPUT_TOPICS):
        stream_env, t_env = environments(settings, JOB_NAME, parallelism=args.parallelism,
                                         on_cluster=args.cluster, extra=extra)
        build(t_env, bootstrap, options)
        execute(stream_env, JOB_NAME, args.cluster)
    return 0


if __name__ == "__main__":
    sys.exit(main())
