"""The first stage of every job that reads md.raw.trades: the raw source, one parse, the market rules, and the
trade identity with its duplicates.

The market data processor, the quality job and the storage writer all declare these views, so a record is
valid, rejected or a duplicate by one definition everywhere:

- ``raw_trades``: the topic's bytes (key ``k``, value ``payload``) with partition, offset, processing time,
  the parse ``p`` (``PARSE_TRADE``, jobs/jvm) and the event time ``rt`` with its watermark;
- ``trades_checked``: every record with its reason (NULL when valid): the parser's, else the first rule of
  jobs/market_rules.yaml it breaks;
- ``trades_counted``: the valid records with ``seen``, how many records of the same trade identity came
  before this one in arrival order (within the dedup horizon): ``seen = 1`` is the trade, the rest are
  DUPLICATE.

A trade's identity is ``(source, symbol, trade_id)``, or ``(source, symbol, seq)`` where the record carries no
trade id: a provider's ids and sequence numbers are only unique within a symbol (docs/market_data_processor.md
lists the identity per provider).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobs import validation

# The SQL partition of one trade identity. A record with an id is identified by it whatever its seq; one
# without by its seq (the CASE keeps the two kinds apart: an id is never equal to a NULL).
IDENTITY_SQL = "source, symbol, trade_id, CASE WHEN trade_id IS NULL THEN seq END"

# The JVM functions every job of md.raw.trades uses.
FUNCTIONS = {
    "PARSE_TRADE": "io.tickflow.udf.ParseTrade",
    "PARSE_QUOTE": "io.tickflow.udf.ParseQuote",
    "DEAD_LETTER_ORIGINAL": "io.tickflow.udf.DeadLetterOriginal",
}


def identity(record: Mapping[str, Any]) -> tuple:
    """The identity of a parsed, valid trade record, as the SQL's partition (the tests' reference)."""
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
    counted_extra = "".join(f", {c}" for c in carry)
    return function_statements() + [
        # bytes as they are, parsed once; event time only from sane, parsed timestamps
        f"""CREATE TEMPORARY TABLE raw_trades (
              k BYTES, payload BYTES,
              kafka_partition INT METADATA FROM 'partition' VIRTUAL,
              kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,
              pt AS PROCTIME(),
              p AS PARSE_TRADE(payload),
              rt AS CASE WHEN {sane_time} THEN TO_TIMESTAMP_LTZ({ts} / 1000000, 3)
                         ELSE TO_TIMESTAMP_LTZ(0, 3) END,
              WATERMARK FOR rt AS rt - INTERVAL '{out_of_orderness_ms / 1000}' SECOND
            ) WITH ({source_options})""",
        f"""CREATE TEMPORARY VIEW trades_parsed AS
            SELECT k, payload, kafka_partition, kafka_offset, pt, rt,
                   p.reason AS parse_reason, p.detail AS parse_detail, p.source AS source, p.symbol AS symbol,
                   p.venue AS venue, p.ts_event AS ts_event, p.seq AS seq, p.price AS price, p.size AS size,
                   p.trade_id AS trade_id{parsed_extra}
            FROM raw_trades""",
        f"""CREATE TEMPORARY VIEW trades_checked AS
            SELECT *, {reason} AS reason, {detail} AS detail FROM trades_parsed""",
        # a running count per identity, in arrival order; the state expires after the job's dedup horizon
        f"""CREATE TEMPORARY VIEW trades_counted AS
            SELECT k, payload, kafka_partition, kafka_offset, pt, rt, source, symbol, venue, ts_event, seq, price,
                   size, trade_id{counted_extra},
                   COUNT(*) OVER (PARTITION BY {IDENTITY_SQL}
                                  ORDER BY pt ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS seen
            FROM trades_checked WHERE reason IS NULL""",
    ]


def duplicate_detail_sql() -> str:
    """The detail of a DUPLICATE dead letter, over ``trades_counted``."""
    return ("CONCAT('trade ', source, ' ', symbol, ' ', "
            "COALESCE(CONCAT('id ', trade_id), CONCAT('seq ', CAST(seq AS STRING))), "
            "' seen ', CAST(seen - 1 AS STRING), ' time(s) before')")
