"""The data-quality job: md.raw.trades → a quality record per (source, symbol, window) on md.quality, and
alerts on md.alerts.

Per-tick work is Flink SQL, as in the processor: the same first stage (jobs/raw_trades.py: parse, rules,
and the JVM duplicate check by trade identity) classifies every record exactly as the processor does; lateness is judged
against this job's own watermark with the processor's allowed lateness, and event-time TUMBLE windows
count per feed and window —
valid trades, rejects by reason code, ts_recv − ts_event p50/p99 (``PERCENTILE``), volume, notional and
the minutes that traded. Records a window cannot hold (trades late for it, rejects without a usable event
time or late for their window) are gathered in the JVM (jobs/jvm ``io.tickflow.quality.StragglerBatcher``)
per window and reason until the watermark next advances, so even a flood of them — a replay of data
already seen, every record a DUPLICATE — reaches Python as a few counted rows. Python sees only window
rows and those batches: a keyed function per symbol (``jobs/quality_tracker.py``) scores each window when
the watermark passes its end —
gaps against the venue's calendar, MAD z-score price jumps and volume spikes, divergence between sources,
stale feeds — and revises a window when stragglers reach it after it was scored.

    tickflow run data_quality [--bounded]      # local MiniCluster
    tickflow submit data_quality                # the session cluster
"""
from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from pyflink.common import Row, Time, Types
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import StateTtlConfig, ValueStateDescriptor

from jobs import catalog, raw_trades, validation
from jobs.keyed_python_stage import keyed_python_stage
from jobs.quality_calendar import session_minutes_function
from jobs.quality_tracker import MINUTE_NS, QualityOptions, QualityTracker, WindowCounts
from tickflow.runtime import config
from tickflow.runtime.flink_runtime import (
    environments,
    execute,
    job_argument_parser,
    local_bounded_run,
)
from tickflow.runtime.kafka_tables import exactly_once_sink_options, raw_source_options

if TYPE_CHECKING:
    from pyflink.metrics import Counter

JOB = catalog.DATA_QUALITY
JOB_NAME = JOB.name
INPUT_TOPICS = JOB.input_topics
OPERATOR_UID, BATCHER_UID, FIRST_COPIES_UID = JOB.uids
# what the job needs of each checked trade, through the duplicate check
FIRST_COPY_COLUMNS = "rt, source, symbol, ts_event, ts_recv, seq, trade_id, price, size, reason, detail"
STATE_NAME = "quality-v1"
UNKNOWN = "?"
END_OF_INPUT_MS = 2 ** 62 // 1_000_000  # a watermark past this: a bounded input has ended

# What the job's metrics are called in Prometheus (Flink's reporter joins the group names; key/value
# groups become labels). The dashboard and alert rules in k8s/base use these; the tests check both ways.
PROMETHEUS_OPERATOR_PREFIX = "flink_taskmanager_job_task_operator_tickflow_"
METRICS = {
    "records_valid": "trades counted valid (each is in a bar's trade_count)",
    "reason_records_rejected": "records rejected, label reason (as md.dlq's reason codes)",
    "late_records": "records that reached a window after it closed (revisions or LATE)",
    "quality_revisions": "quality records re-emitted with a higher revision",
    "source_symbol_quality_score": "latest score per feed, labels source and symbol (gauge, 0-100)",
    "alert_quality_alerts": "alerts raised, label alert",
    "kind_quality_anomalies": "anomalies flagged, label kind",
    "quality_watermark_lag_seconds": "wall clock minus the end of the last scored window (gauge)",
}
JVM_METRICS = {"bar_revisions": "bars re-emitted because late trades reached them (market data processor)",
               "bar_latency_seconds": "wall clock at emission minus the end of the latest bar emitted with "
                                      "revision 0 (gauge, market data processor)"}


@dataclass(frozen=True)
class DataQualityOptions:
    window_minutes: int = 1
    out_of_orderness_ms: int = 2_000  # as the processor's, so records are classified as it does
    allowed_lateness_ms: int = 60_000  # also how long a trade's identity is held against repeats
    state_ttl_hours: int = 48
    straggler_flush_ms: int = 1_000  # the longest stragglers wait in the JVM for the watermark to advance
    bounded: bool = False
    group_id: str = JOB.group_id
    transactional_prefix: str = "tickflow-dq"

    @property
    def window_ns(self) -> int:
        return self.window_minutes * MINUTE_NS


def statements(bootstrap: str, o: DataQualityOptions, rules: validation.RuleSet) -> list[str]:
    """The processor's trade views, then the window counts and the stragglers as one table ``to_python``."""
    w_ns, w_ms = o.window_ns, o.window_ns // 1_000_000
    window = f"INTERVAL '{o.window_minutes}' MINUTE"
    window_last = f"TO_TIMESTAMP_LTZ((ts_event / {w_ns} + 1) * {w_ms} - 1, 3)"
    epoch = "TO_TIMESTAMP_LTZ(0, 3)"
    columns = "kind, source, symbol, ws, reason, n, volume, notional, high, low, p50, p99, minutes, ts_event"
    source = raw_source_options("md.raw.trades", bootstrap, o.group_id, o.bounded)
    return raw_trades.statements(source, rules, o.out_of_orderness_ms, carry=("ts_recv",)) + [
        # lateness against this operator's watermark, as the processor's bar book judges it
        f"""CREATE TEMPORARY VIEW trades_timed AS
            SELECT *, CURRENT_WATERMARK(rt) AS wm,
                   TO_TIMESTAMP_LTZ((ts_event / 60000000000 + 1) * 60000 - 1 + {o.allowed_lateness_ms}, 3)
                     AS minute_expiry
            FROM trades_accepted""",
        f"""CREATE TEMPORARY VIEW q_trades AS
            SELECT rt, source, symbol, ts_event, ts_recv, price, size, wm, minute_expiry,
                   {window_last} AS window_last_ms,
                   (wm IS NULL OR ({window_last} > wm AND minute_expiry > wm)) AS on_time
            FROM trades_timed""",
        # every rejected trade, as the processor's dead letters have them (LATE is judged below)
        """CREATE TEMPORARY VIEW q_rejects AS
            SELECT rt, COALESCE(source, '?') AS source, COALESCE(symbol, '?') AS symbol, ts_event, reason
            FROM trades_refused""",
        f"""CREATE TEMPORARY VIEW q_rejects_timed AS
            SELECT *, (rt > {epoch} AND (CURRENT_WATERMARK(rt) IS NULL OR {window_last} > CURRENT_WATERMARK(rt)))
                      AS windowed
            FROM q_rejects""",
        f"""CREATE TEMPORARY VIEW q_valid_windows AS
            SELECT 'valid' AS kind, source, symbol, MIN(ts_event) / {w_ns} * {w_ns} AS ws,
                   CAST(NULL AS STRING) AS reason, COUNT(*) AS n,
                   SUM(CAST(size AS DOUBLE)) AS volume, SUM(CAST(price AS DOUBLE) * CAST(size AS DOUBLE)) AS notional,
                   CAST(MAX(price) AS DOUBLE) AS high, CAST(MIN(price) AS DOUBLE) AS low,
                   PERCENTILE(CAST(ts_recv - ts_event AS DOUBLE) / 1000000, 0.5) AS p50,
                   PERCENTILE(CAST(ts_recv - ts_event AS DOUBLE) / 1000000, 0.99) AS p99,
                   LISTAGG(DISTINCT CAST(ts_event / {MINUTE_NS} AS STRING)) AS minutes,
                   CAST(NULL AS BIGINT) AS ts_event
            FROM TABLE(TUMBLE((SELECT * FROM q_trades WHERE on_time), DESCRIPTOR(rt), {window}))
            GROUP BY source, symbol, window_start, window_end""",
        f"""CREATE TEMPORARY VIEW q_reject_windows AS
            SELECT 'rejects' AS kind, source, symbol, MIN(ts_event) / {w_ns} * {w_ns} AS ws, reason, COUNT(*) AS n,
                   CAST(NULL AS DOUBLE) AS volume, CAST(NULL AS DOUBLE) AS notional, CAST(NULL AS DOUBLE) AS high,
                   CAST(NULL AS DOUBLE) AS low, CAST(NULL AS DOUBLE) AS p50,
                   CAST(NULL AS DOUBLE) AS p99, CAST(NULL AS STRING) AS minutes, CAST(NULL AS BIGINT) AS ts_event
            FROM TABLE(TUMBLE((SELECT * FROM q_rejects_timed WHERE windowed), DESCRIPTOR(rt), {window}))
            GROUP BY source, symbol, window_start, window_end, reason""",
        # one by one: trades late for their window (merged into bars as revisions, or LATE), and rejects
        # without a usable event time or late for their window
        f"""CREATE TEMPORARY VIEW q_stragglers AS
            SELECT CASE WHEN minute_expiry <= wm THEN 'reject' ELSE 'late' END AS kind, source, symbol,
                   CAST(NULL AS BIGINT) AS ws, CASE WHEN minute_expiry <= wm THEN 'LATE' END AS reason,
                   CAST(1 AS BIGINT) AS n, CAST(size AS DOUBLE) AS volume,
                   CAST(price AS DOUBLE) * CAST(size AS DOUBLE) AS notional, CAST(price AS DOUBLE) AS high,
                   CAST(price AS DOUBLE) AS low, CAST(NULL AS DOUBLE) AS p50,
                   CAST(NULL AS DOUBLE) AS p99, CAST(ts_event / {MINUTE_NS} AS STRING) AS minutes, ts_event
            FROM q_trades WHERE NOT on_time
            UNION ALL
            SELECT 'reject', source, symbol, CAST(NULL AS BIGINT), reason, CAST(1 AS BIGINT), CAST(NULL AS DOUBLE),
                   CAST(NULL AS DOUBLE), CAST(NULL AS DOUBLE), CAST(NULL AS DOUBLE), CAST(NULL AS DOUBLE),
                   CAST(NULL AS DOUBLE), CAST(NULL AS STRING),
                   CASE WHEN rt > {epoch} THEN ts_event END
            FROM q_rejects_timed WHERE NOT windowed""",
        f"""CREATE TEMPORARY VIEW to_python AS
            SELECT {columns} FROM q_valid_windows
            UNION ALL SELECT {columns} FROM q_reject_windows
            UNION ALL SELECT {columns} FROM q_stragglers""",
    ]


def window_of(ts_ns: int, window_ns: int) -> int:
    return ts_ns - ts_ns % window_ns


def record_key(record: dict) -> bytes:
    """md.quality: ``source|symbol|window_start``; md.alerts: ``source|symbol|alert|window_start``."""
    if record["type"] == "alert":
        return f"{record['source']}|{record['symbol']}|{record['alert']}|{record['window_start']}".encode()
    return f"{record['source']}|{record['symbol']}|{record['window_start']}".encode()


class PlacedCounts(TypedDict):
    """What a batch of rows adds to a window: the counts ``add_to_pending`` and ``QualityTracker.revise``
    both take as keyword arguments."""

    valid: int
    volume: float
    notional: float
    minutes: frozenset[int]
    high: float | None
    low: float | None


def add_to_pending(pending: dict, ws: int, source: str, valid: int = 0, reason: str | None = None, n: int = 0,
                   volume: float = 0.0, notional: float = 0.0, p50=None, p99=None, minutes=(), high=None,
                   low=None) -> None:
    """Add counts to window ``ws`` of ``source`` while it is open (plain data, pickled in the keyed state)."""
    c = pending.setdefault(ws, {}).setdefault(source, {"valid": 0, "rejected": {}, "volume": 0.0,
                                                     "notional": 0.0, "p50": None, "p99": None,
                                                     "minutes": set(), "high": None, "low": None})
    if high is not None:
        c["high"] = high if c["high"] is None else max(c["high"], high)
        c["low"] = low if c["low"] is None else min(c["low"], low)
    c["valid"] += valid
    if reason:
        c["rejected"][reason] = c["rejected"].get(reason, 0) + n
    c["volume"] += volume or 0.0
    c["notional"] += notional or 0.0
    if p50 is not None:
        c["p50"], c["p99"] = p50, p99
    c["minutes"].update(minutes)


def last_ms_of(ws: int, window_ns: int) -> int:
    """The last millisecond of window ``ws``: its event-time timer, fired once the watermark reaches it."""
    return (ws + window_ns) // 1_000_000 - 1


WINDOW_KINDS = ("valid", "rejects")  # rows of the SQL windows; the rest are stragglers (batched in the JVM)


def row_place(window_row: bool, scored: bool, pending: bool, ws: int, window_ns: int, watermark_ms: int) -> str:
    """Where a row's counts for window ``ws`` go. ``revise``: the window was scored already — a straggler,
    or a window row that reached the tracker after the window's timer fired (it is then a revision, never a
    second revision 0). ``pending``: the window, not yet scored (or not yet closed at this watermark).
    ``now``: the window open at the watermark, for stragglers of a window scored and since forgotten
    (records older than the revisable span, e.g. a replay of data already seen) — re-scoring it would
    overwrite its record with the stragglers alone. A window row always counts in its own window."""
    if scored:
        return "revise"
    if window_row or pending or last_ms_of(ws, window_ns) > watermark_ms:
        return "pending"
    return "now"


def open_window(watermark_ms: int, timer_ms: int, window_ns: int) -> int:
    """The window that records without one of their own count in: the first the watermark has not closed
    (a watermark on a window's last millisecond has closed it); once a bounded input has ended (the
    watermark at its maximum), the window of the timer being fired."""
    if watermark_ms >= END_OF_INPUT_MS:
        return window_of(timer_ms * 1_000_000, window_ns)
    return window_of((max(watermark_ms, -1) + 1) * 1_000_000, window_ns)


def count_unplaced(pairs) -> dict:
    """``[(source, reason), …]`` (the state layout before stragglers came counted) → counts per pair."""
    counts: dict = {}
    for pair in pairs:
        counts[tuple(pair)] = counts.get(tuple(pair), 0) + 1
    return counts


def minutes_of(text: str | None) -> set[int]:
    """LISTAGG's comma-separated minute numbers → minute starts (ns)."""
    return {int(m) * MINUTE_NS for m in (text or "").split(",") if m}


class QualityState(TypedDict):
    """One symbol's state, pickled as a plain dict in one ValueState (so its layout is data, not a class)."""

    tracker: Any                                       # QualityTracker.state(); None before its first window
    pending: dict[int, dict[str, dict[str, Any]]]      # window start (ns) → source → counts (add_to_pending)
    unplaced: dict[tuple[str, str | None], int]        # (source, reason or None) → records without a window


class QualityFunction(KeyedProcessFunction):
    """The keyed Python operator (key: symbol): pending windows, stragglers and the tracker in ValueState."""

    def __init__(self, o: DataQualityOptions, q: QualityOptions, rules: validation.RuleSet) -> None:
        self.o, self.q = o, q
        self.sessions = session_minutes_function(rules)
        self.w_ns = o.window_ns

    def open(self, ctx: RuntimeContext) -> None:
        descriptor = ValueStateDescriptor(STATE_NAME, Types.PICKLED_BYTE_ARRAY())
        descriptor.enable_time_to_live(StateTtlConfig.new_builder(Time.hours(self.o.state_ttl_hours)).build())
        self.state = ctx.get_state(descriptor)
        self.group = ctx.get_metrics_group().add_group("tickflow")
        self.counters: dict[tuple, Counter] = {}
        self.scores: dict[tuple[str, str], float] = {}
        self.lag_ms = 0.0
        # whole seconds: a Python operator's gauges are integers (Beam's gauge cell)
        self.group.gauge("quality_watermark_lag_seconds", lambda: int(self.lag_ms // 1000))

    # --- metrics ------------------------------------------------------------------------------
    def _count(self, name: str, n: int = 1, **labels: str) -> None:
        key = (name, *sorted(labels.items()))
        if key not in self.counters:
            g = self.group
            for k, v in sorted(labels.items()):
                g = g.add_group(k, v)
            self.counters[key] = g.counter(name)
        self.counters[key].inc(n)

    def _score(self, source: str, symbol: str, score: float) -> None:
        if (source, symbol) not in self.scores:
            self.group.add_group("source", source).add_group("symbol", symbol).gauge(
                "quality_score", lambda k=(source, symbol): int(round(self.scores[k])))
        self.scores[(source, symbol)] = score

    # --- state --------------------------------------------------------------------------------
    def _load(self) -> QualityState:
        raw = self.state.value()
        st: QualityState = (pickle.loads(raw) if raw
                            else QualityState(tracker=None, pending={}, unplaced={}))
        if isinstance(st["unplaced"], list):  # state written before stragglers came counted
            st["unplaced"] = count_unplaced(st["unplaced"])
        return st

    def _save(self, st: QualityState) -> None:
        self.state.update(pickle.dumps(st, protocol=pickle.HIGHEST_PROTOCOL))

    def _tracker(self, st: QualityState) -> QualityTracker:
        return QualityTracker(self.sessions, self.q, st["tracker"])

    def _out(self, records: list[dict]):
        for r in records:
            if r["type"] == "quality":
                self._score(r["source"], r["symbol"], r["score"])
                if r["revision"]:
                    self._count("quality_revisions")
                for a in r["anomalies"]:
                    self._count("quality_anomalies", kind=a["kind"])
            else:
                self._count("quality_alerts", alert=r["alert"])
            yield Row(r["type"], record_key(r), json.dumps(r, separators=(",", ":")).encode())

    # --- input --------------------------------------------------------------------------------
    def process_element(self, row, ctx):
        st = self._load()
        timers = ctx.timer_service()
        out: list[dict] = []
        valid = row.kind in ("valid", "late")
        self._count("records_valid" if valid else "records_rejected", row.n,
                    **({} if valid else {"reason": row.reason}))
        if row.kind in WINDOW_KINDS:
            out += self._place(st, row, row.ws, timers)
        elif row.ts_event is None:  # no usable event time: the window open at the watermark
            self._unplace(st, row.source, row.reason, row.n, timers)
        else:
            self._count("late_records", row.n)
            out += self._place(st, row, window_of(row.ts_event, self.w_ns), timers)
        self._save(st)
        yield from self._out(out)

    def _unplace(self, st: QualityState, source: str, reason: str | None, n: int, timers) -> None:
        """Count ``n`` records in the window open when the watermark next moves (``reason`` None: valid)."""
        st["unplaced"][(source, reason)] = st["unplaced"].get((source, reason), 0) + n
        timers.register_event_time_timer(max(timers.current_watermark(), -1) + 1)

    def _place(self, st: QualityState, row, ws: int, timers) -> list[dict]:
        """``row.n`` records of window ``ws`` (a window row, or a batch of late trades or rejects): counts
        of the window while it is pending, a revision once it was scored, else (a straggler of a window
        scored and forgotten, e.g. a replay of old data) counts in the window open at the watermark."""
        valid = row.kind in ("valid", "late")
        reason = None if valid else row.reason
        tracker = self._tracker(st)
        place = row_place(row.kind in WINDOW_KINDS, tracker.is_scored(row.source, ws), ws in st["pending"],
                          ws, self.w_ns, timers.current_watermark())
        if place == "now":
            self._unplace(st, row.source, reason, row.n, timers)
            return []
        fields: PlacedCounts = {
            "valid": row.n if valid else 0, "volume": (row.volume or 0.0) if valid else 0.0,
            "notional": (row.notional or 0.0) if valid else 0.0,
            "minutes": frozenset(minutes_of(row.minutes)) if valid else frozenset(),
            "high": row.high if valid else None, "low": row.low if valid else None}
        if place == "revise":
            record = tracker.revise(row.source, ws, rejected={} if valid else {row.reason: row.n}, **fields)
            st["tracker"] = tracker.state()
            return [record]
        add_to_pending(st["pending"], ws, row.source, reason=reason, n=row.n, p50=row.p50, p99=row.p99,
                       **fields)
        timers.register_event_time_timer(last_ms_of(ws, self.w_ns))
        return []

    # --- time ---------------------------------------------------------------------------------
    def on_timer(self, timestamp: int, ctx):
        st = self._load()
        symbol = ctx.get_current_key()
        timers = ctx.timer_service()
        end_of_input = timers.current_watermark() >= END_OF_INPUT_MS  # a bounded input ended
        if st["unplaced"]:
            ws = open_window(timers.current_watermark(), timestamp, self.w_ns)
            for (source, reason), n in st["unplaced"].items():
                add_to_pending(st["pending"], ws, source, valid=0 if reason else n, reason=reason, n=n)
            st["unplaced"] = {}
            timers.register_event_time_timer(last_ms_of(ws, self.w_ns))
        due = sorted(ws for ws in st["pending"] if last_ms_of(ws, self.w_ns) <= timestamp)
        tracker = self._tracker(st)
        out: list[dict] = []
        for ws in due:
            windows = [WindowCounts(source, symbol, ws, ws + self.w_ns, c["valid"], c["rejected"],
                                    c["p50"], c["p99"],
                                    c["notional"] / c["volume"] if c["volume"] else None, c["volume"],
                                    frozenset(c["minutes"]), c["high"], c["low"])
                       for source, c in sorted(st["pending"].pop(ws).items())]
            out += tracker.on_windows(windows)
            self.lag_ms = time.time() * 1000 - (ws + self.w_ns) / 1_000_000
        if not end_of_input:
            out += tracker.stale_alerts(symbol, (timestamp + 1) * 1_000_000)
            ends = [e for e in tracker.feeds().values() if e is not None]
            if ends:  # look again once the newest feed could have gone stale
                next_check = (max(ends) + self.q.stale_minutes * MINUTE_NS) // 1_000_000
                timers.register_event_time_timer(max(next_check, timestamp + self.q.stale_minutes * 60_000))
        st["tracker"] = tracker.state()
        self._save(st)
        yield from self._out(out)


def straggler_stage(t_env, rows, o: DataQualityOptions):
    """The JVM batcher (jobs/jvm ``io.tickflow.quality.QualityStage``) over the table ``rows``: window rows
    through, stragglers counted per (kind, source, reason, window) until the watermark advances. Returns a
    DataStream of rows with the same columns (and the watermarks the tracker's timers run on)."""
    from pyflink.datastream import DataStream
    from pyflink.java_gateway import get_gateway

    stage = get_gateway().jvm.io.tickflow.quality.QualityStage
    return DataStream(stage.batched(t_env._j_tenv, rows._j_table, o.window_ns, o.straggler_flush_ms, BATCHER_UID))


def build(t_env, bootstrap: str, o: DataQualityOptions, q: QualityOptions, rules: validation.RuleSet):
    """Declare the job on ``t_env``; returns the statement set, attached to the DataStream graph."""
    raw_trades.execute_with_first_copies(t_env, statements(bootstrap, o, rules), o.allowed_lateness_ms,
                                         FIRST_COPIES_UID, FIRST_COPY_COLUMNS)
    for table, topic in (("quality_out", "md.quality"), ("alerts_out", "md.alerts")):
        options = exactly_once_sink_options(topic, bootstrap, f"{o.transactional_prefix}-{table}", "raw")
        t_env.execute_sql(f"CREATE TEMPORARY TABLE {table} (k BYTES, v BYTES) WITH ({options})")
    batched = straggler_stage(t_env, t_env.from_path("to_python"), o)
    return keyed_python_stage(t_env, batched, lambda r: r.symbol or UNKNOWN,
                              QualityFunction(o, q, rules),
                              OPERATOR_UID, "quality tracker", "tracker_out",
                              {"quality": "quality_out", "alert": "alerts_out"})


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = job_argument_parser("data_quality", __doc__.splitlines()[0])
    d, dq = DataQualityOptions(), QualityOptions()
    p.add_argument("--window-minutes", type=int, default=d.window_minutes, help="quality window length")
    p.add_argument("--out-of-orderness-ms", type=int, default=d.out_of_orderness_ms)
    p.add_argument("--allowed-lateness-ms", type=int, default=d.allowed_lateness_ms)
    p.add_argument("--group-id", default=d.group_id)
    p.add_argument("--latency-target-ms", type=float, default=dq.latency_target_ms,
                   help="p99 of ts_recv - ts_event within which timeliness is 1")
    p.add_argument("--divergence-bps", type=float, default=dq.divergence_bps,
                   help="VWAP difference between two sources above which a window is inconsistent")
    p.add_argument("--jump-z", type=float, default=dq.jump_z, help="MAD z-score of a return that is a price jump")
    p.add_argument("--spike-z", type=float, default=dq.spike_z, help="MAD z-score of a volume that is a spike")
    p.add_argument("--score-alert-below", type=float, default=dq.score_alert_below)
    p.add_argument("--stale-minutes", type=int, default=dq.stale_minutes,
                   help="trading minutes without a record after which a feed is stale")
    p.add_argument("--dlq-rate-alert", type=float, default=dq.dlq_rate_alert,
                   help="rejected share of a window's records above which an alert is raised")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.window_minutes < 1 or 1440 % args.window_minutes:
        raise SystemExit("error: --window-minutes must divide a day (1, 5, 15, 60, …)")
    settings = config.load()
    o = DataQualityOptions(args.window_minutes, args.out_of_orderness_ms, args.allowed_lateness_ms,
                           bounded=args.bounded, group_id=args.group_id)
    q = QualityOptions(args.latency_target_ms, args.divergence_bps, jump_z=args.jump_z, spike_z=args.spike_z,
                       score_alert_below=args.score_alert_below, stale_minutes=args.stale_minutes,
                       dlq_rate_alert=args.dlq_rate_alert,
                       keep_windows_ns=args.allowed_lateness_ms * 1_000_000 + 2 * o.window_ns)
    extra = {"table.exec.source.idle-timeout": "0 ms"} if args.bounded else None  # as the processor
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    with local_bounded_run(args, bootstrap, o.group_id, INPUT_TOPICS):
        stream_env, t_env = environments(settings, JOB_NAME, parallelism=args.parallelism,
                                         on_cluster=args.cluster, extra=extra)
        build(t_env, bootstrap, o, q, validation.load_rules())
        execute(stream_env, JOB_NAME, args.cluster)
    return 0


if __name__ == "__main__":
    sys.exit(main())
