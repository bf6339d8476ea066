"""The indicators job: md.bars → technical indicators per (symbol, timeframe) on md.indicators.

The keyed step runs in the JVM (jobs/jvm ``io.tickflow.indicators``): a ``KeyedProcessFunction`` keyed by
``symbol|timeframe`` keeps each series (the last bars and the indicator states around them) in a
``ValueState`` with TTL, re-emits what a revised bar changes, and sends refused bars to md.dlq with their
reason and original bytes. Python builds the job and exports the symbols' trading sessions; no record runs
through Python. The Python code of the same step (``ReferenceStep`` over jobs/indicator_series.py and
jobs/indicator_math.py, checked against TA-Lib) is the reference the JVM's records are tested equal to.

Versions: ``--indicator-set 1`` is the original set; ``--indicator-set 2`` adds the slow stochastic.
Set 2 restores set 1's state from a savepoint (same operator uid, same state) and warms up only the
stochastic. Upgrade a running job with ``tickflow upgrade indicators``.

    tickflow run indicators [--bounded]        # local MiniCluster
    tickflow submit indicators                  # the session cluster
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jobs import catalog, validation
from jobs.indicator_series import IndicatorSeries, Refused, read_bar
from jobs.trading_days import sessions_spec, trading_days
from tickflow.runtime import config, dead_letter
from tickflow.runtime.flink_runtime import (
    environments,
    execute,
    job_argument_parser,
    local_bounded_run,
)
from tickflow.runtime.kafka_tables import (
    SERIES_PARTITIONER,
    exactly_once_sink_options,
    raw_source_options,
)

JOB = catalog.INDICATORS
JOB_NAME = JOB.name
INPUT_TOPICS = JOB.input_topics
COMPONENT = "indicators"
(OPERATOR_UID,) = JOB.uids
PIPELINE_VERSION = "ind-1"


@dataclass(frozen=True)
class IndicatorOptions:
    indicator_set: int = 1
    keep_bars: int = 16
    state_ttl_days: int = 35
    bounded: bool = False
    group_id: str = JOB.group_id
    transactional_prefix: str = "tickflow-ind"


def series_key(kafka_key: bytes | None) -> str:
    """``symbol|timeframe`` from md.bars' key ``symbol|timeframe|bucket_start``; unreadable keys share "?"."""
    if kafka_key is None:
        return "?"
    try:
        symbol, timeframe, _ = kafka_key.decode().rsplit("|", 2)
        return f"{symbol}|{timeframe}"
    except (AttributeError, UnicodeDecodeError, ValueError):
        return "?"


def indicator_record(symbol: str, timeframe: str, start: int, end: int, revision: int, indicator_set: int,
                     values: dict) -> dict:
    """The md.indicators message (schemas/indicators.schema.json)."""
    return {"symbol": symbol, "timeframe": timeframe, "bucket_start": start, "bucket_end": end,
            "bar_revision": revision, "indicator_set": indicator_set, **values,
            "pipeline_version": PIPELINE_VERSION}


def dlq_record(reason: str, detail: str, partition: int | None, offset: int | None, original: bytes | None) -> dict:
    """The md.dlq message for a bar this job refused (schemas/dlq.schema.json)."""
    return dead_letter.record(reason, detail, "md.bars", original or b"", COMPONENT, partition, offset,
                              prefer_text=False)


class ReferenceStep:
    """The job's step for one md.bars record in Python: the reference the JVM operator
    (``io.tickflow.indicators.IndicatorBook``) is tested equal to, record for record and byte for byte
    (tests/unit/test_indicator_parity.py). ``states`` holds each series' plain-data state by series key."""

    def __init__(self, o: IndicatorOptions, symbol_calendars: Mapping[str, str | None]) -> None:
        self.o = o
        self.symbol_calendars = symbol_calendars
        self.states: dict[str, dict] = {}

    def _day_of(self, symbol: str) -> Callable[[int], Any]:
        days = trading_days(self.symbol_calendars.get(symbol))
        return lambda ts: days.session(ts)[0]

    def apply(self, k: bytes | None, payload: bytes | None, partition: int | None, offset: int | None,
              now_ns: int | None = None) -> list[tuple[str, bytes, bytes]]:
        """(kind, key, value) records: ``indicators`` for each bar whose indicators changed, or one ``dlq``."""
        key = series_key(k)
        try:
            symbol, timeframe, bar = read_bar(payload, key, self._day_of)
            series = IndicatorSeries(self.o.indicator_set, self.o.keep_bars, self.states.get(key))
            changed = series.apply(bar)
        except Refused as r:
            value = dlq_record(r.reason, r.detail, partition, offset, payload)
            if now_ns is not None:
                value["seen_at"] = now_ns
            return [("dlq", k or b"", _json(value))]
        self.states[key] = series.state()
        return [("indicators", f"{symbol}|{timeframe}|{start}".encode(),
                 _json(indicator_record(symbol, timeframe, start, end, revision, self.o.indicator_set, values)))
                for start, end, revision, values in changed]


def _json(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def calendar_specs(symbol_calendars: Mapping[str, str | None]) -> tuple[str, str]:
    """The symbols' trading sessions as the JVM stage takes them: ``CAL=open:close,…;CAL=…`` for every
    calendar in use, and ``SYMBOL=CAL,…`` (symbols without a calendar use UTC days)."""
    used = {sym: cal for sym, cal in sorted(symbol_calendars.items()) if cal}
    return sessions_spec({cal: cal for cal in used.values()}), ",".join(f"{s}={c}" for s, c in used.items())


def series_stage(t_env, bars, o: IndicatorOptions, symbol_calendars: Mapping[str, str | None]):
    """The JVM series stage (jobs/jvm ``io.tickflow.indicators.IndicatorStage``) over the md.bars records:
    keyed by series, state in the JVM. Returns the md.indicators rows and the md.dlq rows (k, v)."""
    from pyflink.java_gateway import get_gateway
    from pyflink.table import Table

    calendars, symbols = calendar_specs(symbol_calendars)
    stage = get_gateway().jvm.io.tickflow.indicators.IndicatorStage
    out = stage.series(t_env._j_tenv, bars._j_table, o.indicator_set, o.keep_bars, o.state_ttl_days, calendars,
                       symbols, PIPELINE_VERSION, COMPONENT, dead_letter.MAX_WHOLE_ORIGINAL_BYTES,
                       dead_letter.TRUNCATED_PREFIX_BYTES, dead_letter.DETAIL_MAX_CHARS, OPERATOR_UID)
    return Table(out.indicatorTable(), t_env), Table(out.deadLetterTable(), t_env)


def build(t_env, bootstrap: str, o: IndicatorOptions, symbol_calendars: Mapping[str, str | None]):
    """Declare the job on ``t_env``; returns the statement set, attached to the DataStream graph."""
    t_env.execute_sql(f"""
        CREATE TEMPORARY TABLE bars_in (
          k BYTES, payload BYTES,
          kafka_partition INT METADATA FROM 'partition' VIRTUAL,
          kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL
        ) WITH ({raw_source_options('md.bars', bootstrap, o.group_id, o.bounded)})""")
    for table, topic, partitioner in (("indicators_out", "md.indicators", SERIES_PARTITIONER),
                                      ("dlq_out", "md.dlq", "default")):
        options = exactly_once_sink_options(topic, bootstrap, f"{o.transactional_prefix}-{table}", "raw", partitioner)
        t_env.execute_sql(f"CREATE TEMPORARY TABLE {table} (k BYTES, v BYTES) WITH ({options})")
    indicators, dead_letters = series_stage(t_env, t_env.from_path("bars_in"), o, symbol_calendars)
    stmt_set = t_env.create_statement_set()
    stmt_set.add_insert("indicators_out", indicators)
    stmt_set.add_insert("dlq_out", dead_letters)
    stmt_set.attach_as_datastream()
    return stmt_set


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = job_argument_parser("indicators", __doc__.splitlines()[0])
    d = IndicatorOptions()
    p.add_argument("--indicator-set", type=int, choices=(1, 2), default=d.indicator_set,
                   help="1: SMA/EMA/MACD/RSI/Bollinger/ATR/VWAP; 2: adds the slow stochastic")
    p.add_argument("--keep-bars", type=int, default=d.keep_bars, help="bars kept per series for revisions")
    p.add_argument("--state-ttl-days", type=int, default=d.state_ttl_days)
    p.add_argument("--group-id", default=d.group_id)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = config.load()
    o = IndicatorOptions(args.indicator_set, args.keep_bars, args.state_ttl_days, args.bounded, args.group_id)
    rules = validation.load_rules()
    calendars = {sym: rules.symbol_calendar(sym) for sym in rules.symbol_venues}
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    with local_bounded_run(args, bootstrap, o.group_id, INPUT_TOPICS):
        stream_env, t_env = environments(settings, JOB_NAME, parallelism=args.parallelism, on_cluster=args.cluster)
        build(t_env, bootstrap, o, calendars)
        execute(stream_env, JOB_NAME, args.cluster)
    return 0


if __name__ == "__main__":
    sys.exit(main())
