"""The indicators job: md.bars → technical indicators per (symbol, timeframe) on md.indicators.

Bars arrive at a low rate (a 1m bar per symbol per minute), so this is where Python keyed state earns
its place: a ``KeyedProcessFunction`` keyed by ``symbol|timeframe`` keeps an ``IndicatorSeries`` (the
last bars and the indicator states around them) in a ``ValueState`` with TTL. Revised bars replay the
series from the revised bar; refused bars go to md.dlq with their reason and original bytes.

Versions: ``--indicator-set 1`` is the original set; ``--indicator-set 2`` adds the slow stochastic.
Set 2 restores set 1's state from a savepoint (same operator uid, same state name, plain-data state) and
warms up only the stochastic. Upgrade a running job with ``tickflow upgrade indicators``.

    tickflow run indicators [--bounded]        # local MiniCluster
    tickflow submit indicators                  # the session cluster
"""
from __future__ import annotations

import argparse
import json
import pickle
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pyflink.common import Row, Time, Types
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import StateTtlConfig, ValueStateDescriptor

from jobs import catalog, validation
from jobs.indicator_series import IndicatorSeries, Refused, read_bar
from jobs.keyed_python_stage import keyed_python_stage
from jobs.trading_days import trading_days
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
STATE_NAME = "series-v1"
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


def dlq_record(reason: str, detail: str, partition: int, offset: int, original: bytes | None) -> dict:
    """The md.dlq message for a bar this job refused (schemas/dlq.schema.json)."""
    return dead_letter.record(reason, detail, "md.bars", original or b"", COMPONENT, partition, offset,
                              prefer_text=False)


class SeriesFunction(KeyedProcessFunction):
    """The keyed Python operator: one IndicatorSeries per ``symbol|timeframe``, its plain-data state
    (``IndicatorSeries.state()``) pickled in one ValueState, so a later indicator set restores it."""

    def __init__(self, o: IndicatorOptions, symbol_calendars: dict[str, str | None]) -> None:
        self.o = o
        self.symbol_calendars = symbol_calendars

    def open(self, ctx: RuntimeContext) -> None:
        descriptor = ValueStateDescriptor(STATE_NAME, Types.PICKLED_BYTE_ARRAY())
        descriptor.enable_time_to_live(StateTtlConfig.new_builder(Time.days(self.o.state_ttl_days)).build())
        self.state = ctx.get_state(descriptor)
        group = ctx.get_metrics_group()
        self.applied = group.counter("bars_applied")
        self.refused = group.counter("bars_refused")

    def _day_of(self, symbol: str) -> Callable[[int], Any]:
        days = trading_days(self.symbol_calendars.get(symbol))
        return lambda ts: days.session(ts)[0]

    def _refuse(self, row: Row, reason: str, detail: str) -> Row:
        self.refused.inc()
        value = dlq_record(reason, detail, row.kafka_partition, row.kafka_offset, row.payload)
        return Row("dlq", row.k or b"", json.dumps(value, separators=(",", ":")).encode())

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context) -> Iterator[Row]:
        try:
            symbol, timeframe, bar = read_bar(row.payload, ctx.get_current_key(), self._day_of)
        except Refused as r:
            yield self._refuse(row, r.reason, r.detail)
            return
        # a state layout this version cannot read is an upgrade error, not bad data: it fails the job
        raw = self.state.value()
        series = IndicatorSeries(self.o.indicator_set, self.o.keep_bars, pickle.loads(raw) if raw else None)
        try:
            changed = series.apply(bar)
        except Refused as r:
            yield self._refuse(row, r.reason, r.detail)
            return
        self.state.update(pickle.dumps(series.state(), protocol=pickle.HIGHEST_PROTOCOL))
        self.applied.inc()
        for start, end, revision, values in changed:
            record = indicator_record(symbol, timeframe, start, end, revision, self.o.indicator_set, values)
            yield Row("indicators", f"{symbol}|{timeframe}|{start}".encode(),
                      json.dumps(record, separators=(",", ":")).encode())


def build(t_env, bootstrap: str, o: IndicatorOptions, symbol_calendars: dict[str, str | None]):
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
    return keyed_python_stage(t_env, "bars_in", lambda r: series_key(r.k), SeriesFunction(o, symbol_calendars),
                              OPERATOR_UID, "indicator series", "series_out",
                              {"indicators": "indicators_out", "dlq": "dlq_out"})


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
