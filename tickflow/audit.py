"""``tickflow audit``: Great Expectations suites over one date of a dataset, in the lake and in PostgreSQL.

    tickflow audit --dataset bars --date 2013-09-02 [--lake PATH|s3://bucket/prefix] [--docs DIR]

Reads ``<lake>/dataset=<name>/date=<date>/`` (the storage writer's lake; default ``s3://<bucket>/lake``) and
the table's rows of that UTC date, validates both with the suites of ``expectations/`` (the rows; the 1m
bars or trades against the venue's trading minutes; lake against table), records one row per suite run
in ``quality_audits`` (sql/migrations/003_quality_audits.sql), builds Data Docs (default
``<home>/data-docs/index.html``) and exits 1 when a suite fails or a side has no rows for the date.
Great Expectations keeps its context (suites, results) under ``<home>/gx``, never in the checkout.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import unquote, urlparse

import pandas as pd

from jobs import validation
from jobs.quality_calendar import session_minutes_function
from jobs.storage_writer import lake_root
from jobs.trading_days import trading_days
from tickflow import audit_checks as ac
from tickflow import audit_suites, migrations
from tickflow.runtime import config
from tickflow.stack import s3_client

if TYPE_CHECKING:
    from great_expectations.data_context.store.store import DataDocsSiteConfigTypedDict
    from great_expectations.datasource.fluent import PandasDatasource

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

SAMPLE_ROWS = 5
DOCS_SITE = "tickflow"
TABLE_SQL = {
    "bars": """SELECT symbol, timeframe, (extract(epoch FROM bucket_start) * 1000000)::bigint * 1000 AS bucket_start,
                      (extract(epoch FROM bucket_end) * 1000000)::bigint * 1000 AS bucket_end,
                      open, high, low, close, volume, vwap, trade_count, revision, pipeline_version
               FROM bars WHERE bucket_start >= %(lo)s AND bucket_start < %(hi)s""",
    "indicators": """SELECT symbol, timeframe,
                      (extract(epoch FROM bucket_start) * 1000000)::bigint * 1000 AS bucket_start,
                      (extract(epoch FROM bucket_end) * 1000000)::bigint * 1000 AS bucket_end,
                      bar_revision, indicator_set, sma_20, sma_50, ema_12, ema_26, macd, macd_signal, macd_hist,
                      rsi_14, bb_upper, bb_mid, bb_lower, atr_14, vwap_day, stoch_k, stoch_d, pipeline_version
               FROM indicators WHERE bucket_start >= %(lo)s AND bucket_start < %(hi)s""",
    "trades": """SELECT ts_event, ts_recv, source, symbol, venue, seq, trade_id, price, size
               FROM trades WHERE time >= %(lo)s AND time < %(hi)s""",
}


class AuditError(RuntimeError):
    """The audit cannot run (a service unreachable, a table missing); the message is one line."""


@dataclass
class Outcome:
    """One suite run over one side (lake, table or lake_vs_table)."""

    suite: str
    target: str
    location: str
    rows: int
    success: bool
    evaluated: int = 0
    failures: list[dict] = field(default_factory=list)
    note: str = ""

    @property
    def label(self) -> str:
        return f"{self.suite} @ {self.target}"


# --- reading -----------------------------------------------------------------------------------------

def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--date {text!r} is not a date (YYYY-MM-DD)") from None


def partition_location(root: str, dataset: str, date: dt.date) -> str:
    return f"{root.rstrip('/')}/dataset={dataset}/date={date.isoformat()}"


def _hidden(name: str) -> bool:
    return name.startswith(("_", "."))   # _SUCCESS, Flink's in-progress .part files


def _read_local(path: Path) -> pd.DataFrame:
    import pyarrow.dataset as ds

    if not path.is_dir():
        return pd.DataFrame()
    files = [p for p in sorted(path.rglob("*"))
             if p.is_file() and not any(_hidden(x) for x in p.relative_to(path).parts)]
    if not files:
        return pd.DataFrame()
    table = ds.dataset([str(f) for f in files], format="parquet", partitioning=ds.partitioning(flavor="hive"),
                       partition_base_dir=str(path)).to_table()
    return table.to_pandas()


def _read_s3(s: config.Settings, bucket: str, prefix: str) -> pd.DataFrame:
    import botocore.exceptions
    import pyarrow as pa
    import pyarrow.parquet as pq

    client = s3_client(s)
    frames = []
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
        for key in sorted(keys):
            rel = key[len(prefix) + 1:]
            if any(_hidden(x) for x in rel.split("/")):
                continue
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            frame = pq.read_table(pa.BufferReader(body)).to_pandas()
            for part in rel.split("/")[:-1]:           # hive partitions below the date (hour=…)
                name, _, value = part.partition("=")
                if value:
                    frame[name] = value
            frames.append(frame)
    except botocore.exceptions.EndpointConnectionError:
        raise AuditError(f"cannot reach S3 at {s.s3_endpoint}") from None
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchBucket", "404"):
            return pd.DataFrame()
        raise AuditError(f"S3 at {s.s3_endpoint}: {code or exc}") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise AuditError(f"S3 at {s.s3_endpoint}: {str(exc).splitlines()[0]}") from None
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def read_lake(s: config.Settings, root: str, dataset: str, date: dt.date) -> tuple[pd.DataFrame, str]:
    """The partition's rows (an empty frame when it is missing or empty) and where they were read."""
    location = partition_location(root, dataset, date)
    url = urlparse(location)
    if url.scheme == "s3":
        return _read_s3(s, url.netloc, url.path.strip("/")), location
    if url.scheme in ("", "file"):
        return _read_local(Path(unquote(url.path))), location
    raise AuditError(f"--lake {root}: only local paths, file:// and s3:// lakes are read")


def read_table(conn, dataset: str, date: dt.date) -> pd.DataFrame:
    lo, hi = (dt.datetime.combine(d, dt.time(), dt.UTC) for d in (date, date + dt.timedelta(days=1)))
    with conn.cursor() as cur:
        cur.execute(TABLE_SQL[dataset], {"lo": lo, "hi": hi})
        columns = [c.name for c in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns)


def check_tables(conn, dataset: str) -> None:
    """Both tables the audit needs exist, or one line saying to migrate."""
    with conn.cursor() as cur:
        for table in (dataset, "quality_audits"):
            cur.execute("SELECT to_regclass(%s)", (table,))
            if cur.fetchone()[0] is None:
                raise AuditError(f"table {table} does not exist in PostgreSQL: run `tickflow db migrate`")


# --- preparing -----------------------------------------------------------------------------------------

def prepare(dataset: str, df: pd.DataFrame, date: dt.date, session_of: ac.SessionOf) -> pd.DataFrame:
    """The rows a dataset suite validates: latest revisions, floats for decimals, derived columns."""
    df = df.drop(columns=[c for c in ("sources", "date") if c in df.columns])
    df = ac.latest_revisions(df, ac.KEYS[dataset], ac.REVISION[dataset])
    df = ac.as_floats(df, ac.DECIMAL_COLUMNS[dataset])
    if dataset == "trades":
        return ac.derive_trade_columns(df, date)
    return ac.derive_bucket_columns(df, date, session_of)


def calendar_input(dataset: str, rows: pd.DataFrame) -> dict[str, set[int]]:
    if dataset == "bars":
        one_minute = rows[rows["timeframe"] == "1m"]
        return ac.minutes_with_data(one_minute, "bucket_start")
    return ac.minutes_with_data(rows, "ts_event")


def venue_functions() -> tuple[ac.SessionOf, ac.MinutesOf]:
    """A symbol's trading session and trading minutes, from jobs/market_rules.yaml's venues."""

    rules = validation.load_rules()

    def session_of(symbol: str, ts: int) -> tuple[int, int]:
        return trading_days(rules.symbol_calendar(symbol)).session(ts)

    return session_of, session_minutes_function(rules)


# --- Great Expectations ----------------------------------------------------------------------------------

class Validator:
    """A file context under ``<home>/gx`` whose Data Docs site is ``docs_dir``; suites are (re)loaded from
    the repo on every run, so the context never drifts from ``expectations/``."""

    def __init__(self, home: Path, docs_dir: Path, run_name: str) -> None:
        """``home``: the stack home; Great Expectations makes its context in ``home/gx``."""
        import great_expectations as gx
        from great_expectations.core.run_identifier import RunIdentifier

        home.mkdir(parents=True, exist_ok=True)
        self.gx = gx
        self.context = gx.get_context(mode="file", project_root_dir=str(home))
        # GE reads progress_bars as a mapping (Validator._determine_progress_bars: "globally" in ...), but
        # annotates the setter with its ProgressBarsConfig class
        self.context.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
        site: DataDocsSiteConfigTypedDict = {
            "class_name": "SiteBuilder", "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)}}
        if DOCS_SITE in self.context.get_site_names():
            self.context.update_data_docs_site(DOCS_SITE, site)
        else:
            self.context.add_data_docs_site(DOCS_SITE, site)
        self.source: PandasDatasource
        try:  # the data source this class adds below: a pandas one
            self.source = cast("PandasDatasource", self.context.data_sources.get("tickflow"))
        except KeyError:
            self.source = self.context.data_sources.add_pandas("tickflow")
        self.run_id = RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.UTC))
        self.docs_dir = docs_dir

    def _batch_definition(self, asset_name: str):
        try:
            asset = self.source.get_asset(asset_name)
        except LookupError:
            asset = self.source.add_dataframe_asset(asset_name)
        try:
            return asset.get_batch_definition("whole")
        except (KeyError, LookupError):
            return asset.add_batch_definition_whole_dataframe("whole")

    def validate(self, document: Mapping, target: str, df: pd.DataFrame):
        suite = self.context.suites.add_or_update(audit_suites.build_suite(document))
        definition = self.context.validation_definitions.add_or_update(self.gx.ValidationDefinition(
            name=f"{document['name']} @ {target}", data=self._batch_definition(f"{document['name']} @ {target}"),
            suite=suite))
        return definition.run(batch_parameters={"dataframe": df}, run_id=self.run_id,
                              result_format={"result_format": "COMPLETE", "partial_unexpected_count": SAMPLE_ROWS,
                                             "return_unexpected_index_query": False})

    def build_docs(self) -> Path:
        self.context.build_data_docs(site_names=[DOCS_SITE])
        return self.docs_dir / "index.html"


def _columns_of(kwargs: Mapping) -> list[str]:
    cols = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    return cols + list(kwargs.get("column_list") or [])


def readable(sample: pd.DataFrame) -> pd.DataFrame:
    """Nanosecond times as UTC text, for people reading the report."""
    out = sample.copy()
    for c in ("bucket_start", "ts_event"):
        if c in out.columns and pd.api.types.is_integer_dtype(out[c]):
            out[c] = pd.to_datetime(out[c], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S.%f").str[:-3] + "Z"
    return out


def failures_of(result, df: pd.DataFrame, key_columns: list[str]) -> list[dict]:
    """The failed expectations of a validation result, each with its counts and up to SAMPLE_ROWS rows."""
    out = []
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        kwargs = dict(cfg.kwargs)
        res = dict(r.result or {})
        item = {"expectation": cfg.type, "kwargs": {k: v for k, v in kwargs.items() if k != "batch_id"},
                "described": audit_suites.describe(cfg.type, kwargs), "notes": (cfg.meta or {}).get("notes"),
                "unexpected_count": res.get("unexpected_count"), "element_count": res.get("element_count"),
                "observed_value": res.get("observed_value")}
        if r.exception_info and r.exception_info.get("raised_exception"):
            item["error"] = str(r.exception_info.get("exception_message", "")).splitlines()[0]
        index = [i for i in (res.get("unexpected_index_list") or []) if not isinstance(i, dict)][:SAMPLE_ROWS]
        shown = [c for c in dict.fromkeys(key_columns + _columns_of(kwargs)) if c in df.columns]
        if index and shown:
            sample = df.loc[[i for i in index if i in df.index], shown]
            item["sample"] = json.loads(sample.to_json(orient="records", double_precision=15))
            item["sample_text"] = readable(sample).to_string(index=False)
        out.append(item)
    return out


# --- the command ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditRequest:
    dataset: str
    date: dt.date
    lake: str | None = None
    docs: Path | None = None
    dsn: str | None = None


def _key_columns(suite: str, dataset: str) -> list[str]:
    if suite.endswith(".calendar"):
        return ["symbol", "minute_utc"]
    return list(ac.KEYS[dataset])


def run(request: AuditRequest, s: config.Settings, out: Callable[[str], None] = print, as_json: bool = False) -> int:
    """Run the audit; 0 when every suite passes on both sides, 1 otherwise (AuditError: cannot run).
    ``as_json``: one JSON document (``summary``) instead of the text report."""

    dataset, date = request.dataset, request.date
    try:
        conn = migrations.connect(request.dsn or s.postgres_dsn)
    except migrations.MigrationError as exc:
        raise AuditError(str(exc)) from None
    try:
        check_tables(conn, dataset)
        root = lake_root(s, request.lake)
        lake_rows, lake_location = read_lake(s, root, dataset, date)
        table_rows = read_table(conn, dataset, date)
        table_location = f"table {dataset} (PostgreSQL {s.postgres_db}, rows of {date.isoformat()} UTC)"

        session_of, minutes_of = venue_functions()
        docs_dir = (request.docs or s.home / "data-docs").resolve()
        validator = Validator(s.home, docs_dir, f"{dataset}-{date.isoformat()}")
        outcomes: list[Outcome] = []
        prepared: dict[str, pd.DataFrame] = {}
        for target, raw, location in (("lake", lake_rows, lake_location), ("table", table_rows, table_location)):
            if raw.empty:
                outcomes.append(Outcome(dataset, target, location, 0, False,
                                        note=f"no rows in {location} for date {date.isoformat()}"))
                continue
            rows = prepared[target] = prepare(dataset, raw, date, session_of)
            symbols = sorted(rows["symbol"].dropna().unique())
            outcomes.append(_validate(validator, audit_suites.suite_document(dataset, symbols), target, location,
                                      rows, _key_columns(dataset, dataset)))
            if f"{dataset}.calendar" in audit_suites.suite_names(dataset):
                calendar = ac.calendar_frame(calendar_input(dataset, rows), date, minutes_of)
                shares = ac.completeness(calendar)
                outcome = _validate(validator, audit_suites.suite_document(f"{dataset}.calendar", symbols),
                                    target, location, calendar, _key_columns(f"{dataset}.calendar", dataset))
                outcome.note = ", ".join(f"{sym} {share:.1%} of {int((calendar['symbol'] == sym).sum())} trading "
                                         f"minutes" for sym, share in shares.items()) or "no trading minutes"
                outcomes.append(outcome)
        if len(prepared) == 2:
            both = ac.reconcile(prepared["lake"], prepared["table"], ac.KEYS[dataset], ac.COMPARED[dataset])
            outcomes.append(_validate(validator, audit_suites.suite_document(f"{dataset}.lake_vs_table", []),
                                      "lake_vs_table", f"{lake_location} vs {table_location}", both,
                                      list(ac.KEYS[dataset]) + ["in_lake", "in_table"]
                                      + [f"{c}_{side}" for c in ac.COMPARED[dataset] for side in ("lake", "table")]))
        index = validator.build_docs()
        record(conn, dataset, date, outcomes, index)
    finally:
        conn.close()
    if as_json:
        out(json.dumps(summary(dataset, date, outcomes, index), indent=2, default=str))
        return 0 if all(o.success for o in outcomes) else 1
    return report(dataset, date, outcomes, index, out)


def summary(dataset: str, date: dt.date, outcomes: list[Outcome], docs_index: Path) -> dict:
    """The audit's result as data: the verdict, each suite run with its failed expectations, Data Docs."""
    return {
        "dataset": dataset, "date": date.isoformat(), "passed": all(o.success for o in outcomes),
        "data_docs": str(docs_index),
        "suites": [{"suite": o.suite, "target": o.target, "location": o.location, "rows": o.rows,
                    "passed": o.success, "evaluated": o.evaluated, "note": o.note,
                    "failures": [{k: v for k, v in f.items() if k != "sample_text"} for f in o.failures]}
                   for o in outcomes],
    }


def _validate(validator: Validator, document: Mapping, target: str, location: str, df: pd.DataFrame,
              key_columns: list[str]) -> Outcome:
    result = validator.validate(document, target, df)
    failures = failures_of(result, df, key_columns)
    return Outcome(document["name"], target, location, len(df), bool(result.success),
                   evaluated=len(result.results), failures=failures)


def record(conn, dataset: str, date: dt.date, outcomes: list[Outcome], docs_index: Path) -> str:
    """One ``quality_audits`` row per outcome, under one run id; returns the run id."""
    run_id = uuid.uuid4().hex
    with conn.cursor() as cur:
        for o in outcomes:
            failures = [{k: v for k, v in f.items() if k != "sample_text"} for f in o.failures]
            if o.note and not o.rows:
                failures = [{"expectation": "rows", "described": o.note}]
            cur.execute(
                """INSERT INTO quality_audits (run_id, run_at, dataset, date, suite, target, location, success,
                                              row_count, evaluated, failed, failures, summary, data_docs)
                   VALUES (%s, now(), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (run_id, dataset, date, o.suite, o.target, o.location, o.success, o.rows, o.evaluated,
                 len(o.failures) if o.rows else 1, json.dumps(failures, default=str), o.note or None,
                 str(docs_index)))
    return run_id


def report(dataset: str, date: dt.date, outcomes: list[Outcome], docs_index: Path,
           out: Callable[[str], None] = print) -> int:
    out(f"audit {dataset} {date.isoformat()}")
    for o in outcomes:
        if not o.rows:
            out(f"FAIL {o.label}: {o.note}")
            continue
        passed = o.evaluated - len(o.failures)
        extra = f"; {o.note}" if o.note else ""
        out(f"{'PASS' if o.success else 'FAIL'} {o.label}: {passed}/{o.evaluated} expectations met over "
            f"{o.rows:,} rows{extra}")
        for f in o.failures:
            counts = ""
            if f.get("unexpected_count") is not None:
                counts = f": {f['unexpected_count']:,} of {f['element_count']:,} rows unexpected"
            elif f.get("observed_value") is not None:
                counts = f": observed {f['observed_value']}"
            out(f"  failed {f['described']}{counts}" + (f" ({f['error']})" if f.get("error") else ""))
            if f.get("sample_text"):
                out("    sample rows:")
                for line in f["sample_text"].splitlines():
                    out(f"      {line}")
    out(f"Data Docs: {docs_index}")
    failed = [o for o in outcomes if not o.success]
    if failed:
        out(f"audit failed: {len(failed)} of {len(outcomes)} suite runs ({', '.join(o.label for o in failed)})")
        return 1
    out(f"audit passed: {len(outcomes)} suite runs")
    return 0
