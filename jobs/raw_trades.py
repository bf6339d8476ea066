"""The first stage of every job that reads md.raw.trades: the raw source, one parse, the market rules, and the
trade identity with its duplicates.

The market data processor, the quality job and the storage writer all declare these views, so a record is
valid, rejected or a duplicate by one definition everywhere:

- ``raw_trades``: the topic's bytes (key ``k``, value ``payload``) with partition, offset, the parse ``p``
  (``PARSE_TRADE``, jobs/jvm) and the event time ``rt`` with its watermark;
- ``trades_checked``: every record with its reason (NULL when valid): the parser's, else the first rule of
  jobs/market_rules.yaml it breaks.

Duplicates are judged in the JVM, keyed by symbol, in event time (jobs/jvm ``io.tickflow.trades``): a
trade's identity is held until the watermark passes its minute plus the allowed lateness, and the seqs of
forgotten trades stay as ranges per source. The processor's bar book does it as it builds bars;
:func:`declare_first_copies` gives the other jobs the same verdicts as the views ``trades_accepted`` (the
first copies) and ``trades_refused`` (the rules' rejects and the DUPLICATEs).

A trade's identity is ``(source, symbol, trade_id)``, or ``(source, symbol, seq)`` where the record carries no
trade id: a provider's ids and sequence numbers are only unique within a symbol (docs/market_data_processor.md
lists the identity per provider).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobs import validation

# The JVM functions every job of md.raw.trades uses.
FUNCTIONS = {
    "PARSE_TRADE": "io.tickflow.udf.ParseTrade",
    "PARSE_QUOTE": "io.tickflow.udf.ParseQuote",
    "DEAD_LETTER_ORIGINAL": "io.tickflow.udf.DeadLetterOriginal",
}


def identity(record: Mapping[str, Any]) -> tuple:
    """The identity of a parsed, valid trade record (the tests' reference for ``io.tickflow.trades.TradeIdentity``):
    a record with an id is identified by it whatever its seq, one without by its seq."""
    trade_id = record.get("trade_id")
    return (record["source"], record["symbol"], trade_id, record["seq"] if trade_id is None else None)


def function_statements() -> list[str]:
    return [f"CREATE TEMPORARY FUNCTION {name} AS '{cls}' LANGUAGE JAVA" for name, cls in FUNCTIONS.items()]


def statements(source_options: str, rules: validation.RuleSet, out_of_orderness_ms: int,
               carry: tuple[str, ...] = ()) -> list[str]:
    """The functions, ``raw_trades`` (a Kafka table with ``source_options``) and the views above.
    ``carry`` names extra fields of the parse a job needs (e.g. ``ts_recv``)."""
    reason, detail = validation.compile_sql(rules, "trades")
    # A computed column cannot use another, so the parse is repeated here: the function's per-thread cache
    # makes every call after the first on the same bytes an array comparison.
    ts = "PARSE_TRADE(payload).ts_event"
    sane_time = (f"PARSE_TRADE(payload).reason IS NULL AND {ts} >= {rules.min_ts_event_ns} "
                 f"AND {ts} <= UNIX_TIMESTAMP() * 1000000000 + {rules.future_tolerance_ns}")
    parsed_extra = "".join(f", p.{c} AS {c}" for c in carry)
    return function_statements() + [
        # bytes as they are, parsed once; event time only from sane, parsed timestamps
        f"""CREATE TEMPORARY TABLE raw_trades (
              k BYTES, payload BYTES,
              kafka_partition INT METADATA FROM 'partition' VIRTUAL,
              kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,
              p AS PARSE_TRADE(payload),
              rt AS CASE WHEN {sane_time} THEN TO_TIMESTAMP_LTZ({ts} / 1000000, 3)
                         ELSE TO_TIMESTAMP_LTZ(0, 3) END,
              WATERMARK FOR rt AS rt - INTERVAL '{out_of_orderness_ms / 1000}' SECOND
            ) WITH ({source_options})""",
        f"""CREATE TEMPORARY VIEW trades_parsed AS
            SELECT k, payload, kafka_partition, kafka_offset, rt,
                   p.reason AS parse_reason, p.detail AS parse_detail, p.source AS source, p.symbol AS symbol,
                   p.venue AS venue, p.ts_event AS ts_event, p.seq AS seq, p.price AS price, p.size AS size,
                   p.trade_id AS trade_id{parsed_extra}
            FROM raw_trades""",
        f"""CREATE TEMPORARY VIEW trades_checked AS
            SELECT *, {reason} AS reason, {detail} AS detail FROM trades_parsed""",
    ]


def execute_with_first_copies(t_env, statements: list[str], allowed_lateness_ms: int, uid: str, columns: str) -> None:
    """Execute a job's ``statements`` (which begin with :func:`statements`'), declaring the first-copy views
    right after ``trades_checked``, so the job's own views can read them."""
    for stmt in statements:
        t_env.execute_sql(stmt)
        if "VIEW trades_checked AS" in stmt:
            declare_first_copies(t_env, allowed_lateness_ms, uid, columns)


def declare_first_copies(t_env, allowed_lateness_ms: int, uid: str, columns: str) -> None:
    """The views ``trades_accepted`` and ``trades_refused`` over ``trades_checked`` (``columns`` of it, which
    must include rt, source, symbol, seq, trade_id, ts_event, reason, detail), through the JVM duplicate
    check (``io.tickflow.trades.FirstCopyStage``, state bounded per symbol); ``rt`` stays their rowtime."""
    from pyflink.java_gateway import get_gateway
    from pyflink.table import Table

    checked = t_env.sql_query(f"SELECT {columns} FROM trades_checked")
    stage = get_gateway().jvm.io.tickflow.trades.FirstCopyStage
    out = stage.split(t_env._j_tenv, checked._j_table, allowed_lateness_ms, uid)
    t_env.create_temporary_view("trades_accepted", Table(out.acceptedTable(), t_env))
    t_env.create_temporary_view("trades_refused", Table(out.refusedTable(), t_env))
