"""The ``tickflow`` command. Every failure is one line on stderr and a non-zero exit."""
from __future__ import annotations

import argparse
import datetime
import importlib
import json
import logging
import os
import sys
import threading
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from connectors import provider_config
from connectors.connect import ConnectRequest, run
from connectors.csv_trades import CsvTradeSource
from connectors.es_sample import es_sample_csv, read_es_trades
from connectors.kafka_publisher import BrokerUnavailable, RawPublisher
from connectors.provider_config import ConfigError
from connectors.registry import PROVIDERS
from connectors.replay import ReplayError, line_count_hint, reader_for, replay_file
from jobs import catalog
from tickflow import (
    audit,
    charts,
    cluster,
    demo,
    k8s_manifests,
    k8s_validation,
    migrations,
    plot,
    queries,
    setup_deps,
    simulation,
    stack,
)
from tickflow.k8s_validation import ValidationError
from tickflow.migrations import MigrationError
from tickflow.processes import StackError
from tickflow.runtime import config
from tickflow.runtime.arguments import OneLineArgumentParser as _Parser
from tickflow.runtime.progress import Progress

JOBS = tuple(job.module for job in catalog.JOBS)


def _fail(message: str, code: int = 1) -> int:
    print(f"tickflow: {message}", file=sys.stderr)
    return code


# --- stack ---------------------------------------------------------------------------------------------

def cmd_stack(args: argparse.Namespace, s: config.Settings) -> int:
    if args.action == "up":
        stack.up(s, args.services)
        print(f"data under {s.home}")
    elif args.action == "down":
        stack.down(s, args.services)
    else:
        rows = stack.status(s, args.services)
        if args.json:
            print(json.dumps([{"service": n, "state": st, "endpoint": e} for n, st, e in rows], indent=2))
        else:
            for name, state, endpoint in rows:
                print(f"{name:10s} {state:24s} {endpoint}")
        if any(not state.startswith("running") for _, state, _ in rows):
            return 3
    return 0


# --- flink ---------------------------------------------------------------------------------------------

def cmd_cluster(args: argparse.Namespace, s: config.Settings) -> int:
    if args.action == "up":
        print(cluster.up(s))
    elif args.action == "down":
        print(cluster.down(s))
    else:
        state = cluster.status(s)
        print(state)
        return 0 if state.startswith("running") else 3
    return 0


def _job(name: str) -> catalog.Job:
    """The job of this name in the catalog, or a usage error (exit 2) naming the choices."""
    if name not in JOBS:
        raise SystemExit(_fail(f"unknown job {name!r} (choose from {', '.join(JOBS)})", 2))
    return catalog.job(name)


def local_log_dir(s: config.Settings, job: str) -> Path:
    """Where a local run's MiniCluster logs (PyFlink's gateway JVM reads FLINK_LOG_DIR when it starts);
    each run starts its file afresh."""
    return s.log_dir / "local" / job


def _schema_missing(s: config.Settings, job: str, job_args: list[str]) -> str | None:
    """Why the storage writer cannot store anything yet, in one line (the database unreachable or its
    schema not migrated), or None. Without this check the job would fail on its first row and restart on
    it forever."""

    if job != "storage_writer" or {"--no-db", "-h", "--help"} & set(job_args):
        return None
    try:
        conn = migrations.connect(s.postgres_dsn)
    except migrations.MigrationError as exc:
        return f"storage_writer writes to PostgreSQL: {exc} (or pass --no-db)"
    try:
        missing = migrations.pending(conn)
    except migrations.MigrationError as exc:
        return f"storage_writer: {exc}"
    finally:
        conn.close()
    if missing:
        names = ", ".join(f"{m.version:03d}_{m.name}" for m in missing)
        return f"storage_writer: the database lacks migration {names}: run `tickflow db migrate` first"
    return None


def cmd_run(args: argparse.Namespace, s: config.Settings) -> int:
    module = importlib.import_module(f"jobs.{_job(args.job).module}")
    if problem := _schema_missing(s, args.job, args.job_args):
        return _fail(problem)
    log_dir = local_log_dir(s, args.job)
    log_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("FLINK_LOG_DIR", str(log_dir))
    return module.main(args.job_args)


def cmd_submit(args: argparse.Namespace, s: config.Settings) -> int:
    _job(args.job)
    if problem := _schema_missing(s, args.job, args.job_args):
        return _fail(problem)
    print(cluster.submit(s, args.job, args.job_args, savepoint=args.from_savepoint,
                         allow_non_restored=args.allow_non_restored_state))
    return 0


NON_RESTORED_HELP = ("restore although the savepoint holds state of an operator the new version no longer has; "
                     "that state is dropped (flink run -n)")

def cmd_upgrade(args: argparse.Namespace, s: config.Settings) -> int:
    """Stop the running job with a savepoint, then start the (new) job code from it."""

    job = _job(args.job)
    job_id = cluster.running_job(s, job.name)
    print(f"stopping {job.name} ({job_id}) with a savepoint")
    savepoint = cluster.stop_with_savepoint(s, job_id)
    print(f"savepoint: {savepoint}")
    print(cluster.submit(s, args.job, args.job_args, savepoint=savepoint,
                         allow_non_restored=args.allow_non_restored_state))
    return 0


def _job_id(s: config.Settings, job: str) -> str:
    """A job given by its tickflow name (the one running job of that name) or by its Flink job id."""

    if job in JOBS:
        return cluster.running_job(s, _job(job).name)
    if len(job) == 32 and all(c in "0123456789abcdef" for c in job):
        return job
    raise cluster.StackError(f"{job!r} is neither a job ({', '.join(JOBS)}) nor a 32-hex-digit Flink job id")


def cmd_jobs(args: argparse.Namespace, s: config.Settings) -> int:
    """The session cluster's jobs, newest first, as the web UI's REST API reports them."""

    rows = cluster.jobs(s)
    if args.json:
        print(json.dumps([{k: j.get(k) for k in ("id", "name", "state", "start_time", "duration")} for j in rows],
                         indent=2))
        return 0
    if not rows:
        print(f"no jobs on {s.flink_rest}")
        return 0
    print(f"{'JOB ID':32}  {'STATE':10}  {'STARTED (UTC)':19}  {'RUNNING FOR':>11}  NAME")
    for j in rows:
        started = datetime.datetime.fromtimestamp(j["start_time"] / 1000, datetime.UTC)
        print(f"{j['id']:32}  {j['state']:10}  {started:%Y-%m-%d %H:%M:%S}  "
              f"{j['duration'] / 1000:>10.0f}s  {j['name']}")
    return 0


def cmd_savepoint(args: argparse.Namespace, s: config.Settings) -> int:
    job_id = _job_id(s, args.job)
    print(cluster.savepoint(s, job_id))
    return 0


def cmd_cancel(args: argparse.Namespace, s: config.Settings) -> int:
    job_id = _job_id(s, args.job)
    cluster.cancel(s, job_id)
    print(f"cancelled {job_id}")
    return 0


def cmd_k8s(args: argparse.Namespace, s: config.Settings) -> int:
    if args.action == "generate":
        stale = k8s_manifests.generate(check=args.check)
        for path in stale:
            print(f"{'out of date' if args.check else 'wrote'}: {path.relative_to(config.PROJECT_ROOT)}")
        if args.check and stale:
            return _fail("k8s: generated resources differ from their sources; run `tickflow k8s generate`")
        if not stale:
            print("k8s/base is up to date with its sources")
        return 0
    overlays = [Path(o).resolve() for o in args.overlay] or k8s_validation.overlays()
    problems = k8s_validation.validate_overlays(s, overlays)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return _fail(f"k8s: {len(problems)} problem(s) in {', '.join(o.name for o in overlays)}")
    print(f"k8s: {', '.join(o.name for o in overlays)}: every resource valid")
    return 0


# --- data ----------------------------------------------------------------------------------------------

def cmd_replay(args: argparse.Namespace, s: config.Settings) -> int:
    path = Path(args.file) if args.file else es_sample_csv(s.cache_dir)
    if not path.is_file():
        return _fail(f"replay: {path}: no such file")
    reader_for(path)  # an unknown or unavailable format fails here, before Kafka is dialled
    meta = CsvTradeSource(source=args.source, symbol=args.symbol, venue=args.venue, tz=args.tz)
    publisher = RawPublisher(args.bootstrap or s.kafka_bootstrap, client_id="tickflow-replay")
    try:
        total = line_count_hint(path)
        total = args.limit if total is None else min(total, args.limit or total)
        progress = Progress(f"replay {path.name}", total)
        result = replay_file(path, publisher, meta, rate=args.rate, speed=args.speed, limit=args.limit,
                             progress=progress)
    finally:
        publisher.close()
    print(f"replay: published {result.published} trades from {path.name} to md.raw.trades in "
          f"{result.seconds:.1f}s ({result.rate:,.0f}/s); skipped {result.skipped} malformed rows")
    if result.failed:
        return _fail(f"replay: {result.failed} records were not acknowledged by Kafka: {publisher.stats.errors[0]}")
    return 0


def cmd_connect(args: argparse.Namespace, s: config.Settings) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    symbols = [x.strip() for x in args.symbols.split(",") if x.strip()]
    if not symbols:
        return _fail("connect: --symbols needs at least one symbol", 2)
    if args.backup == args.provider:
        return _fail("connect: --backup must be a different provider from the primary", 2)
    return run(ConnectRequest(args.provider, symbols, args.backup, Path(args.config) if args.config else None,
                              args.bootstrap or s.kafka_bootstrap, args.health_host or s.host,
                              s.connector_health_port if args.health_port is None else args.health_port,
                              args.stop_when_idle, delivery_timeout_s=args.delivery_timeout,
                              max_undelivered=args.max_undelivered, stuck_after_s=args.stuck_after,
                              shutdown_timeout_s=args.shutdown_timeout))


def cmd_simulate(args: argparse.Namespace, s: config.Settings) -> int:
    key_env = provider_config.load().get(args.provider, provider_config.ProviderConfig(args.provider)).key_env
    api_key = args.api_key or (os.environ.get(key_env) if key_env else None) or "test-key"
    trades = read_es_trades(es_sample_csv(s.cache_dir), limit=args.limit)
    sim = simulation.start(args.provider, trades, args.rate, api_key, args.port)
    key_source = "set" if key_env and os.environ.get(key_env) else "test-key"
    print(f"simulate: {args.provider} on {sim.host}:{sim.port}: {len(trades):,} real ES trades at "
          f"{args.rate:,.0f}/s; clients must present the key in ${key_env} (here: {key_source}); Ctrl-C stops",
          flush=True)
    try:
        threading.Event().wait()
    finally:
        sim.stop()
    return 0


def cmd_setup(args: argparse.Namespace, s: config.Settings) -> int:
    if args.what in ("jars", "all"):
        setup_deps.gather_jars(s)
        setup_deps.build_udfs(s)
    if args.what in ("data", "all"):

        print(f"ES sample: {es_sample_csv(s.cache_dir)}")

        print(f"Alpha Vantage recorded intraday response: {simulation.alphavantage_sample(s.cache_dir)}")
    return 0


def cmd_db(args: argparse.Namespace, s: config.Settings) -> int:
    conn = migrations.connect(args.dsn or s.postgres_dsn)
    try:
        if args.action == "migrate":
            migrations.migrate(conn)
        elif args.json:
            print(json.dumps(migrations.status(conn), indent=2))
        else:
            for m in migrations.status(conn):
                needs = f" (requires the {m['requires']} extension)" if m["requires"] else ""
                state = m["applied_at"] or f"pending{needs}"
                print(f"{m['version']:03d} {m['name']:24s} {state}")
    finally:
        conn.close()
    return 0


def cmd_query(args: argparse.Namespace, s: config.Settings) -> int:
    params = {"timeframe": args.timeframe}
    if args.what != "latest":
        named = {"--symbol": args.symbol, "--from": args.start, "--to": args.end}
        missing = [flag for flag, value in named.items() if value is None]
        if missing:
            return _fail(f"query {args.what}: {', '.join(missing)} required", 2)
        params.update({"symbol": args.symbol, "from": args.start, "to": args.end})
    conn = migrations.connect(args.dsn or s.postgres_dsn)
    try:
        columns, rows = queries.run(conn, {"latest": "latest_bars"}.get(args.what, args.what), params)
    except Exception as exc:  # psycopg2.Error: a bad time literal, a missing table
        return _fail(f"query {args.what}: {str(exc).strip().splitlines()[0]}")
    finally:
        conn.close()
    sys.stdout.write(queries.render(columns, rows, args.format))
    return 0


def cmd_plot(args: argparse.Namespace, s: config.Settings) -> int:
    """The stored bars of one symbol and timeframe as a PNG chart; prints its path."""
    try:
        start = plot.parse_time(args.start) if args.start else None
        end = plot.parse_time(args.end) if args.end else None
        overlays = plot.parse_overlays(args.indicators)
    except ValueError as exc:
        return _fail(f"plot: {exc}", 2)
    if start and end and start >= end:
        return _fail(f"plot: --from {args.start} is not before --to {args.end}", 2)
    if args.bars < 0:
        return _fail("plot: --bars must be 0 (all) or more", 2)
    result = plot.plot(plot.PlotRequest(args.symbol, args.timeframe, start, end, overlays,
                                        Path(args.out) if args.out else None, args.bars, args.dsn), s)
    for note in result.notes:
        print(f"tickflow: plot: {note}", file=sys.stderr)
    print(result.path)
    return 0


def cmd_audit(args: argparse.Namespace, s: config.Settings) -> int:
    """Great Expectations suites over one date of a dataset, in the lake and in PostgreSQL."""

    try:
        date = audit.parse_date(args.date)
    except ValueError as exc:
        return _fail(f"audit: {exc}", 2)
    request = audit.AuditRequest(args.dataset, date, args.lake, Path(args.docs) if args.docs else None, args.dsn)
    return audit.run(request, s, as_json=args.json)


def cmd_demo(args: argparse.Namespace, s: config.Settings) -> int:
    return demo.run(s, args.source)


def cmd_config(args: argparse.Namespace, s: config.Settings) -> int:
    """The effective settings (defaults overridden by TICKFLOW_* variables), secrets masked."""
    rows = config.effective(s)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["setting"]) for r in rows)
    for r in rows:
        print(f"{r['setting']:<{width}}  {r['value']}  ({r['from']})")
    return 0


def installed_version() -> str:
    """The installed distribution's version (``pip install -e .`` by `make setup`), or "unknown"."""

    try:
        return version("tickflow")
    except PackageNotFoundError:
        return "unknown (not installed: run `make setup`)"


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tickflow", description="tickflow: PyFlink market-data pipelines on Kafka")
    p.add_argument("--version", action="version", version=f"tickflow {installed_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    cf = sub.add_parser("config", help="the effective settings (TICKFLOW_* variables over the defaults)")
    cf.add_argument("--json", action="store_true", help="a JSON list instead of aligned text")
    cf.set_defaults(func=cmd_config)

    st = sub.add_parser("stack", help="the local Kafka, PostgreSQL, S3 and Prometheus services")
    st.add_argument("action", choices=["up", "down", "status"])
    st.add_argument("services", nargs="*", help="kafka, postgres, s3, prometheus (default: all)")
    st.add_argument("--json", action="store_true", help="status as a JSON list")
    st.set_defaults(func=cmd_stack)

    cl = sub.add_parser("cluster", help="the local Flink session cluster (web UI on :8081)")
    cl.add_argument("action", choices=["up", "down", "status"])
    cl.set_defaults(func=cmd_cluster)

    run = sub.add_parser("run", help="run a job in a local MiniCluster")
    run.add_argument("job", help=f"one of: {', '.join(JOBS)}")
    run.add_argument("job_args", nargs=argparse.REMAINDER, help="arguments passed to the job")
    run.set_defaults(func=cmd_run)

    sm = sub.add_parser("submit", help="submit a job to the session cluster with `flink run`")
    sm.add_argument("--from-savepoint", metavar="PATH", help="start from this savepoint (flink run -s)")
    sm.add_argument("--allow-non-restored-state", action="store_true", help=NON_RESTORED_HELP)
    sm.add_argument("job", help=f"one of: {', '.join(JOBS)}")
    sm.add_argument("job_args", nargs=argparse.REMAINDER, help="arguments passed to the job")
    sm.set_defaults(func=cmd_submit)

    up = sub.add_parser("upgrade", help="stop a running job with a savepoint and start it again from it")
    up.add_argument("--allow-non-restored-state", action="store_true", help=NON_RESTORED_HELP)
    up.add_argument("job", help=f"one of: {', '.join(JOBS)}")
    up.add_argument("job_args", nargs=argparse.REMAINDER, help="arguments of the new version")
    up.set_defaults(func=cmd_upgrade)

    jb = sub.add_parser("jobs", help="list the session cluster's jobs with their state (its REST API)")
    jb.add_argument("--json", action="store_true", help="a JSON list (times in ms, as Flink's REST API)")
    jb.set_defaults(func=cmd_jobs)
    sp = sub.add_parser("savepoint", help="take a savepoint of a running job, which keeps running; prints its path")
    sp.add_argument("job", help=f"one of: {', '.join(JOBS)}, or a Flink job id")
    sp.set_defaults(func=cmd_savepoint)
    ca = sub.add_parser("cancel", help="cancel a running job (no savepoint; use `upgrade` or `savepoint` first)")
    ca.add_argument("job", help=f"one of: {', '.join(JOBS)}, or a Flink job id")
    ca.set_defaults(func=cmd_cancel)

    k8 = sub.add_parser("k8s", help="Kubernetes resources: generate k8s/base from the sources, validate the overlays")
    k8.add_argument("action", choices=["generate", "validate"])
    k8.add_argument("--check", action="store_true", help="generate: only report files that are out of date (exit 1)")
    k8.add_argument("--overlay", action="append", default=[], help="validate: overlay directory (default: all)")
    k8.set_defaults(func=cmd_k8s)

    rp = sub.add_parser("replay", help="publish recorded trades (default: the real ES sample) to md.raw.trades")
    rp.add_argument("--file", help="trades to publish, format by extension: .csv (DateTime,Price,Volume), .jsonl "
                                   "(raw trade JSON per line), .parquet (ts_event,price,size[,symbol,trade_id]) "
                                   "(default: the ES futures sample CSV)")
    rp.add_argument("--symbol", default="ES", help="symbol of CSV rows and of Parquet rows without one")
    rp.add_argument("--venue", default="XCME", help="venue of CSV and Parquet trades")
    rp.add_argument("--source", default="replay", help="source of CSV and Parquet trades (.jsonl keeps its own)")
    rp.add_argument("--tz", default="America/Chicago", help="time zone of a CSV file's clock")
    pace = rp.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=float, help="records per second (default: as fast as possible)")
    pace.add_argument("--speed", type=float, help="multiple of the recorded pace (1 = real time)")
    rp.add_argument("--limit", type=int, help="stop after this many records")
    rp.add_argument("--bootstrap", help="Kafka bootstrap servers (default: the local stack's)")
    rp.set_defaults(func=cmd_replay)

    co = sub.add_parser("connect", help="run a provider connector: provider feed → md.raw.* topics (md.dlq for bad "
                                        "records), with reconnects, backfill and failover")
    co.add_argument("provider", choices=sorted(PROVIDERS))
    co.add_argument("--symbols", required=True, help="comma-separated tickflow symbols, e.g. ES,NQ")
    co.add_argument("--backup", choices=sorted(PROVIDERS), help="provider to fail over to for the same symbols")
    co.add_argument("--config", help="provider config file (default: connectors/providers.yaml or "
                                     "$TICKFLOW_CONNECT_CONFIG); keys come from the variables it names")
    co.add_argument("--health-port", type=int, help="port of /livez, /readyz, /health and /metrics "
                                                    "(default: TICKFLOW_CONNECTOR_HEALTH_PORT, 9464)")
    co.add_argument("--health-host", help="address to serve them on (default: the stack host; 0.0.0.0 in a pod)")
    co.add_argument("--bootstrap", help="Kafka bootstrap servers (default: the local stack's)")
    co.add_argument("--stop-when-idle", type=float, metavar="SECONDS",
                    help="stop once nothing has been published for this long (finite runs: demo, benchmarks)")
    co.add_argument("--max-undelivered", type=int, default=100_000, metavar="N",
                    help="records held for Kafka (e.g. while it is unreachable) before the feed is paused "
                         "(default 100000)")
    co.add_argument("--delivery-timeout", type=float, default=0.0, metavar="SECONDS",
                    help="give up on a record Kafka has not acknowledged by then, counted and sent to md.dlq "
                         "(default 0: never, the record waits for Kafka)")
    co.add_argument("--stuck-after", type=float, default=10.0, metavar="SECONDS",
                    help="a record unacknowledged this long makes /readyz and /health report 503 (default 10)")
    co.add_argument("--shutdown-timeout", type=float, default=20.0, metavar="SECONDS",
                    help="on SIGTERM, how long to wait for Kafka to take the records still held (default 20)")
    co.add_argument("-v", "--verbose", action="store_true", help="log reconnects and failovers as they happen")
    co.set_defaults(func=cmd_connect)

    si = sub.add_parser("simulate", help="serve a provider's wire protocol on loopback, fed with the real ES trades")
    si.add_argument("provider", choices=sorted(PROVIDERS))
    si.add_argument("--port", type=int, help="default: the port connectors/providers.yaml expects")
    si.add_argument("--rate", type=float, default=20_000, help="trades per second (default 20,000)")
    si.add_argument("--limit", type=int, help="serve only the first N trades")
    si.add_argument("--api-key", help="key clients must present (default: the provider's key variable, else test-key)")
    si.set_defaults(func=cmd_simulate)

    db = sub.add_parser("db", help="the database schema: apply migrations (sql/migrations), show what is applied")
    db.add_argument("action", choices=["migrate", "status"])
    db.add_argument("--dsn", help="libpq connection string (default: the local stack's PostgreSQL)")
    db.add_argument("--json", action="store_true", help="status as a JSON list of every migration")
    db.set_defaults(func=cmd_db)

    q = sub.add_parser("query", help="print bars or indicators from PostgreSQL (the documented sql/queries)")
    q.add_argument("what", choices=["latest", "bars", "indicators"],
                   help="latest: the newest bar per symbol; bars/indicators: one symbol over [--from, --to)")
    q.add_argument("--symbol")
    q.add_argument("--timeframe", default="1m", choices=["1m", "5m", "15m", "1h", "1d"])
    q.add_argument("--from", dest="start", metavar="TIME", help="inclusive, e.g. 2013-09-02T00:00Z")
    q.add_argument("--to", dest="end", metavar="TIME", help="exclusive")
    q.add_argument("--format", default="table", choices=["table", "csv", "json"])
    q.add_argument("--dsn", help="libpq connection string (default: the local stack's PostgreSQL)")
    q.set_defaults(func=cmd_query)

    pl = sub.add_parser("plot", help="draw stored bars as a PNG: candlesticks, volume, indicators, quality score")
    pl.add_argument("--symbol", required=True)
    pl.add_argument("--timeframe", default="1m", choices=list(plot.TIMEFRAMES))
    pl.add_argument("--from", dest="start", metavar="TIME", help="inclusive ISO date or time, UTC unless it says "
                                                                 "otherwise, e.g. 2013-09-02T14:00Z")
    pl.add_argument("--to", dest="end", metavar="TIME", help="exclusive")
    pl.add_argument("--bars", type=int, default=plot.DEFAULT_BARS, metavar="N",
                    help=f"draw the newest N bars of the range (default {plot.DEFAULT_BARS}; 0: all)")
    pl.add_argument("--indicators", default=",".join(charts.DEFAULT_OVERLAYS), metavar="LIST",
                    help=f"comma-separated overlays from {', '.join(charts.OVERLAYS)} (default: %(default)s; "
                         "empty: none)")
    pl.add_argument("--out", metavar="PATH", help="the PNG to write (default: <stack home>/charts/SYMBOL-TF.png)")
    pl.add_argument("--dsn", help="libpq connection string (default: the local stack's PostgreSQL)")
    pl.set_defaults(func=cmd_plot)

    au = sub.add_parser("audit", help="validate one date of a dataset, lake and PostgreSQL, with the Great "
                                      "Expectations suites of expectations/; Data Docs; exit 1 when a suite fails")
    au.add_argument("--dataset", required=True, choices=["bars", "trades", "indicators"])
    au.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="the UTC date (the lake's date= partition)")
    au.add_argument("--lake", help="lake root: a directory or s3://bucket/prefix "
                                   "(default: s3://<TICKFLOW_S3_BUCKET>/lake, as the storage writer)")
    au.add_argument("--docs", metavar="DIR", help="where Data Docs are built (default: <stack home>/data-docs)")
    au.add_argument("--json", action="store_true", help="print the result as one JSON document")
    au.add_argument("--dsn", help="libpq connection string (default: the local stack's PostgreSQL)")
    au.set_defaults(func=cmd_audit)

    de = sub.add_parser("demo", help="the whole pipeline on the local stack over the ES trades, then an audit, "
                                     "a chart and a summary")
    de.add_argument("--source", default="replay", choices=["replay", "polygon", "finnhub", "databento"],
                    help="where the ES trades come from: the file replay (default) or a provider simulator "
                         "through `tickflow connect`")
    de.set_defaults(func=cmd_demo)

    se = sub.add_parser("setup", help="install what runs need: Maven jars, the ES sample, Alpha Vantage's recording")
    se.add_argument("what", choices=["jars", "data", "all"], nargs="?", default="all")
    se.set_defaults(func=cmd_setup)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = config.load()
    except ValueError as exc:
        return _fail(str(exc), 2)

    try:
        return args.func(args, settings)
    except (StackError, BrokerUnavailable, ReplayError, MigrationError, ConfigError, ValidationError, RuntimeError,
            OSError) as exc:
        return _fail(f"{args.command}: {exc}")
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
