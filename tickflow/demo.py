"""``tickflow demo``: the README's first command, end to end on the local stack.

Stack up → Flink session cluster up → replay the real ES trades → submit the market data processor
(bounded) → then the indicators job over its bars (bounded) → migrate the database and submit the storage
writer (bounded: PostgreSQL tables and the Parquet lake on S3) → the data-quality job (bounded: md.quality,
md.alerts) → a Great Expectations audit of a stored date → print what happened and where to look. A
second run reuses the running services and the data: the trades are published only while md.raw.trades
is empty, each job reads only what its consumer group has not read, and the summary covers everything on
the topics, so a second run ends with the same summary and writes nothing twice.
"""
from __future__ import annotations

import io
import json
import os
import threading
import time
import urllib.request

from connectors import provider_config
from connectors.connect import ConnectRequest
from connectors.connect import run as connect
from connectors.csv_trades import CsvTradeSource
from connectors.es_sample import es_sample_csv, read_es_trades
from connectors.kafka_publisher import RawPublisher
from connectors.replay import replay_file
from jobs import catalog
from tickflow import audit, cluster, migrations, simulation, stack
from tickflow.plot import PlotRequest, plot
from tickflow.processes import StackError, wait_until
from tickflow.runtime.config import PROJECT_ROOT, Settings
from tickflow.runtime.kafka_reading import (
    bounded_read,
    count_committed,
    end_offsets,
    group_positions,
    read_to_end,
)
from tickflow.runtime.progress import Progress


def _step(name: str) -> float:
    print(f"\n== {name}", flush=True)
    return time.monotonic()


def _run_bounded(s: Settings, job: catalog.Job, *args: str) -> tuple[str, float]:
    """Submit ``job --bounded`` to the session cluster and wait for it; (job id, seconds it ran). The job
    reads what its consumer group has not; once it finished, its group is committed through the topics'
    ends as they were before it started (Flink's own last commit of a bounded run can be lost), so a
    second demo reads nothing twice."""
    total = _unread(s, job)
    with bounded_read(s.kafka_bootstrap, job.group_id, job.input_topics):
        job_id = cluster.submit(s, job.module, ["--bounded", *args])
        print(f"submitted job {job_id}; watch it at {s.flink_rest}/#/job/running/{job_id}/overview", flush=True)
        progress = Progress(f"{job.module} (its largest input)", total)

        def ended() -> bool:
            progress.update(_source_records(s, job_id))
            return cluster.job_state(s, job_id) in ("FINISHED", "FAILED", "CANCELED")

        try:
            wait_until(ended, 900, f"{job.module} to finish", interval=1.0)
            progress.finish()
        except KeyboardInterrupt:
            cluster.cancel(s, job_id)
            print(f"\ncancelled {job.module} ({job_id}); the stack and the Flink cluster keep running: `make demo` "
                  "again reuses them, `tickflow cluster down && tickflow stack down` stops them", flush=True)
            raise
        state = cluster.job_state(s, job_id)
        if state != "FINISHED":
            raise StackError(f"job {job.module} ({job_id}) ended {state}; see {s.log_dir / 'flink'}")
    return job_id, cluster.rest(s, f"/jobs/{job_id}").get("duration", 0) / 1000


def _unread(s: Settings, job: catalog.Job) -> int:
    """The records of the job's largest input topic that its consumer group has not read: what the longest
    of its bounded sources reads (a job may scan a topic more than once, so the topics are not summed)."""
    unread = [0]
    for topic in job.input_topics:
        start = group_positions(s.kafka_bootstrap, topic, job.group_id)
        unread.append(sum(max(end - start.get(p, 0), 0) for p, end in end_offsets(s.kafka_bootstrap, topic).items()))
    return max(unread)


def _source_records(s: Settings, job_id: str) -> int:
    """What the job's furthest source has read so far: the largest ``read-records`` of the vertices with no
    input in the job's plan (a source counts there what it reads from Kafka)."""
    try:
        job = cluster.rest(s, f"/jobs/{job_id}")
    except StackError:
        return 0
    sources = {node["id"] for node in job.get("plan", {}).get("nodes", []) if not node.get("inputs")}
    return max((int(v.get("metrics", {}).get("read-records", 0)) for v in job.get("vertices", [])
                if v.get("id") in sources), default=0)


def _replay(s: Settings) -> tuple[int, float]:
    """Replay the ES sample CSV; (trades published, seconds)."""

    t = time.monotonic()
    publisher = RawPublisher(s.kafka_bootstrap, client_id="tickflow-demo")
    try:
        replayed = replay_file(es_sample_csv(s.cache_dir), publisher, CsvTradeSource())
    finally:
        publisher.close()
    print(f"skipped {replayed.skipped} malformed rows")
    return replayed.published, time.monotonic() - t


def _from_provider(s: Settings, provider: str) -> tuple[int, float]:
    """Serve the ES sample from ``provider``'s simulator and run `tickflow connect` against it in-process.

    The simulated market opens once the connector reports healthy (subscribed) and then releases every
    trade as fast as the simulator can send; the connector stops 5 s after the last record.
    """

    cfg = provider_config.load()[provider]
    key = (os.environ.get(cfg.key_env) if cfg.key_env else None) or "demo-key"
    if cfg.key_env:
        os.environ.setdefault(cfg.key_env, key)
    trades = read_es_trades(es_sample_csv(s.cache_dir))
    sim = simulation.start(provider, trades, 1e9, key, port=simulation.free_port(), opened=False)
    health_port = simulation.free_port()

    def open_market_when_subscribed() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                healthy = urllib.request.urlopen(f"http://{s.host}:{health_port}/health", timeout=2).status == 200
                if healthy and getattr(sim, "subscriptions", 1) > 0:  # the simulator has the subscription too
                    sim.market.open()
                    return
            except OSError:
                pass
            time.sleep(0.2)

    opener = threading.Thread(target=open_market_when_subscribed, daemon=True)
    opener.start()
    t = time.monotonic()
    out = io.StringIO()
    try:
        code = connect(ConnectRequest(provider, ["ES"], bootstrap=s.kafka_bootstrap, health_host=s.host,
                                      health_port=health_port, stop_when_idle_s=5.0),
                       out=out, configs={provider: cfg.with_options(**sim.client_options())})
    finally:
        sim.stop()
    print(out.getvalue().strip())
    if code != 0:
        raise StackError(f"connect {provider} exited {code}")
    return len(trades), time.monotonic() - t - 5.0


AUDIT_DATE = "2013-09-02"  # a whole CME session of the ES sample (Labor Day, early close)
DEMO_SYMBOL = "ES"  # the sample's symbol, whichever source fed it
CHART_BARS = 180  # the sample's last three hours of 1m bars: few enough candles to read each one


def demo_chart(s: Settings) -> tuple[str, str | None]:
    """Draw the demo's last 1m bars of ES with volume, indicators and quality scores (`tickflow plot`);
    (what to print after ``chart:``, and a problem for the verdict when no chart could be written)."""
    try:
        result = plot(PlotRequest(DEMO_SYMBOL, "1m", bars=CHART_BARS), s)
    except (RuntimeError, OSError, ValueError) as exc:  # StackError, MigrationError: nothing stored, no database
        return f"not written: {exc}", f"the chart of the {DEMO_SYMBOL} 1m bars could not be written: {exc}"
    for note in result.notes:
        print(note)
    return str(result.path), None


def quality_summary(records: list[dict]) -> str:
    """Windows scored, and the score range of the final revision of each."""
    final: dict[tuple, dict] = {}
    for r in records:
        final[(r["source"], r["symbol"], r["window_start"])] = r
    if not final:
        return "none"
    scores = sorted(r["score"] for r in final.values())
    anomalies = sum(len(r["anomalies"]) for r in final.values())
    return (f"{len(final):,} windows, score median {scores[len(scores) // 2]}, min {scores[0]}; "
            f"{anomalies} anomalies flagged")


def reasons(dead: list[dict]) -> str:
    """`` (by reason: 3 DUPLICATE, 1 MALFORMED)`` for dead letters, or nothing when there are none."""
    counts: dict[str, int] = {}
    for d in dead:
        counts[d["reason"]] = counts.get(d["reason"], 0) + 1
    return f" (by reason: {', '.join(f'{n} {r}' for r, n in sorted(counts.items()))})" if counts else ""


def sustained_rate(records: list, bars: list[dict]) -> str:
    """Trades per second between the first and the last bar record the processor wrote (start-up and
    the wait for the first bar left out, as the throughput benchmark counts)."""
    minute = [(r.timestamp, b["trade_count"]) for r, b in zip(records, bars) if b["timeframe"] == "1m"]
    if len(minute) < 2:
        return "too few bars for a sustained rate"
    minute.sort()
    seconds = (minute[-1][0] - minute[0][0]) / 1000
    return f"{sum(n for _, n in minute[1:]) / max(seconds, 1e-3):,.0f} trades/s sustained (first → last bar)"


def recorded_latency() -> str:
    """The bar latency `make bench` last recorded (a bounded demo replays history: it has no live latency)."""

    results = PROJECT_ROOT / "bench" / "results" / "processor_latency.jsonl"
    lines = results.read_text().splitlines() if results.exists() else []
    if not lines:
        return "not recorded yet (`make bench`)"
    r = json.loads(lines[-1])
    produced, visible = r["produced_delay_ms"], r["visible_delay_ms"]
    return (f"p99 {produced['p99']:,} ms leaving the job, {visible['p99']:,} ms to a read_committed consumer "
            f"({r['rate_ticks_per_s']:,} ticks/s, recorded {r['when'][:10]} by `make bench`; bench/README.md)")


def alert_summary(alerts: list[dict]) -> str:
    kinds: dict[str, int] = {}
    for a in alerts:
        kinds[a["alert"]] = kinds.get(a["alert"], 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"


def run(s: Settings, source: str = "replay") -> int:
    started = time.monotonic()
    _step("local stack (Kafka, PostgreSQL, S3, Prometheus)")
    stack.up(s)
    _step("Flink session cluster")
    print(cluster.up(s))

    # The demo's data is published once per stack: a second run finds it there and each job reads only
    # what its consumer group has not (nothing, after a complete run). Publishing the same trades again
    # would make a fresh job produce the same bars again, and the lake (a log) would hold them twice.
    raw_before = sum(end_offsets(s.kafka_bootstrap, "md.raw.trades").values())
    if raw_before:
        _step("md.raw.trades already holds trades: reusing them")
        print(f"{raw_before:,} trades from an earlier run; each job reads only what it has not read yet. "
              "To start from nothing: tickflow cluster down && tickflow stack down && "
              f"rm -rf {s.home / 'kafka'} {s.data_dir} {s.home / 'checkpoints'}")
        published = 0
    elif source == "replay":
        _step("replay: real ES futures trades → md.raw.trades")
        published, seconds = _replay(s)
    else:
        _step(f"{source} simulator (the real ES trades in its wire format) → tickflow connect {source} → md.raw.*")
        published, seconds = _from_provider(s, source)
    if published:
        print(f"published {published:,} trades in {seconds:.1f}s ({published / max(seconds, 1e-9):,.0f}/s)")
    start = group_positions(s.kafka_bootstrap, "md.raw.trades", catalog.MARKET_DATA_PROCESSOR.group_id)
    new_trades = sum(end - start.get(p, 0) for p, end in end_offsets(s.kafka_bootstrap, "md.raw.trades").items())

    _step("market_data_processor on the session cluster: md.raw.trades → md.bars, md.dlq (bounded)")
    mdp_id, mdp_s = _run_bounded(s, catalog.MARKET_DATA_PROCESSOR)
    bar_records = list(read_to_end(s.kafka_bootstrap, "md.bars"))
    bars = [json.loads(r.value) for r in bar_records]
    in_bars = sum(b["trade_count"] for b in bars if b["timeframe"] == "1m")
    dead = [json.loads(r.value) for r in read_to_end(s.kafka_bootstrap, "md.dlq")]
    rejected = sum(1 for d in dead if d.get("topic") == "md.raw.trades")

    _step("indicators on the session cluster: md.bars → md.indicators (bounded)")
    ind_id, ind_s = _run_bounded(s, catalog.INDICATORS)
    indicators = count_committed(s.kafka_bootstrap, "md.indicators")

    _step("storage: tickflow db migrate, then storage_writer → PostgreSQL + Parquet lake on S3 (bounded)")
    conn = migrations.connect(s.postgres_dsn)
    try:
        migrations.migrate(conn)
        lake = f"s3://{s.s3_bucket}/lake"
        st_id, st_s = _run_bounded(s, catalog.STORAGE_WRITER, "--lake", lake)
        with conn.cursor() as cur:
            cur.execute("SELECT (SELECT count(*) FROM bars), (SELECT count(*) FROM trades), "
                        "(SELECT count(*) FROM indicators)")
            table_bars, table_trades, table_indicators = cur.fetchone()
    finally:
        conn.close()
    lake_files = sum(1 for page in stack.s3_client(s).get_paginator("list_objects_v2").paginate(
        Bucket=s.s3_bucket, Prefix="lake/") for o in page.get("Contents", []) if not o["Key"].endswith("_SUCCESS"))

    _step("data_quality on the session cluster: md.raw.trades → md.quality, md.alerts (bounded)")
    dq_id, dq_s = _run_bounded(s, catalog.DATA_QUALITY)
    quality = [json.loads(r.value) for r in read_to_end(s.kafka_bootstrap, "md.quality")]
    alerts = [json.loads(r.value) for r in read_to_end(s.kafka_bootstrap, "md.alerts")]

    _step(f"audit: Great Expectations over the bars of {AUDIT_DATE} (lake and PostgreSQL) → Data Docs")

    audit_code = audit.run(audit.AuditRequest("bars", audit.parse_date(AUDIT_DATE), lake, None, None), s)

    _step(f"chart: the last {CHART_BARS} 1m bars of {DEMO_SYMBOL} with volume, indicators and quality → PNG")
    chart, chart_problem = demo_chart(s)

    by_tf = {tf: sum(1 for b in bars if b["timeframe"] == tf) for tf in ("1m", "5m", "15m", "1h", "1d")}
    print("\n== summary")
    raw_total = sum(end_offsets(s.kafka_bootstrap, "md.raw.trades").values())
    print(f"trades in md.raw.trades:               {raw_total:,} "
          + (f"(published now, from {source})" if published == raw_total else f"({published:,} published now)"))
    print(f"bars on md.bars:                       {len(bars):,} ({', '.join(f'{n} {tf}' for tf, n in by_tf.items())})")
    print(f"trades counted in 1m bars:             {in_bars:,}; in md.dlq: {rejected:,}{reasons(dead)}")
    print(f"indicator records on md.indicators:    {indicators:,}")
    print(f"market_data_processor {mdp_id}: {mdp_s:.1f}s incl. start-up, {new_trades:,} new trades read"
          + (f" ({new_trades / max(mdp_s, 1e-9):,.0f} trades/s); {sustained_rate(bar_records, bars)}"
             if new_trades else ""))
    print(f"bar latency on a live feed:            {recorded_latency()}")
    print(f"PostgreSQL rows:                       {table_bars:,} bars, {table_trades:,} trades, "
          f"{table_indicators:,} indicators")
    print(f"Parquet lake:                          {lake_files} files under {lake}")
    print(f"indicators {ind_id}: {ind_s:.1f}s incl. start-up")
    print(f"storage_writer {st_id}: {st_s:.1f}s incl. start-up")
    print(f"quality records on md.quality:         {quality_summary(quality)}")
    print(f"alerts on md.alerts:                   {alert_summary(alerts)}")
    print(f"data_quality {dq_id}: {dq_s:.1f}s incl. start-up")
    print(f"audit of the {AUDIT_DATE} bars:          {'PASS' if audit_code == 0 else 'FAIL (see above)'}")
    print(f"whole demo: {time.monotonic() - started:.0f}s")
    print("where to look:")
    print(f"  Flink web UI        {s.flink_rest}")
    print(f"  Kafka               {s.kafka_bootstrap}  (topics: `tickflow stack status`, schemas/topics.yaml)")
    print(f"  checkpoints (S3)    s3://{s.s3_bucket}/flink/checkpoints at {s.s3_endpoint}")
    print(f"  logs                {s.log_dir}")
    print(f"  metrics             http://{s.host}:{s.flink_metrics_port}/metrics (JobManager), "
          f":{s.flink_metrics_port + 1} (TaskManager): grep tickflow_")
    print(f"  Prometheus          {s.prometheus_url} (alerts: {s.prometheus_url}/alerts)")
    print("  dashboard           k8s/base/dashboards/tickflow.json (Grafana)")
    print(f"  Data Docs           {s.home / 'data-docs' / 'index.html'}")
    print("  quality, alerts     topics md.quality, md.alerts (docs/data_quality.md)")
    print("  query the tables    tickflow query bars --symbol ES --timeframe 1h --from 2013-09-02 --to 2013-09-03")
    print("  stop everything     tickflow cluster down && tickflow stack down")
    print(f"chart: {chart}")
    problems = verdict(raw_total, in_bars, rejected, len(bars), indicators, audit_code)
    if chart_problem:
        problems.append(chart_problem)
    if problems:
        raise StackError("; ".join(problems))
    return 0


def verdict(raw_trades: int, in_bars: int, rejected: int, bars: int, indicators: int, audit_code: int) -> list[str]:
    """What makes the demo a failure, in words (none when it worked): a trade neither in a bar nor dead-
    lettered, a bar without its indicator record, or an audit that failed."""
    problems = []
    if in_bars + rejected != raw_trades:
        problems.append(f"{raw_trades} trades in md.raw.trades, but {in_bars} in bars + {rejected} in md.dlq")
    if indicators < bars:
        problems.append(f"{bars} bars but only {indicators} indicator records")
    if audit_code != 0:
        problems.append(f"the audit of the {AUDIT_DATE} bars failed (its report is above)")
    return problems
