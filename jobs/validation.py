"""Validation rules as data (``jobs/market_rules.yaml``): compiled into SQL for the job, evaluated in
Python as the reference the tests hold the job to."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

RULES_FILE = Path(__file__).with_name("market_rules.yaml")
CHECKS = ("not_nanoseconds", "in_future", "not_positive", "negative", "zero", "not_below", "outside_band")
REASON_CODES = ("MALFORMED", "MISSING_FIELD", "BAD_TYPE", "NON_POSITIVE_PRICE", "NEGATIVE_SIZE",
                "NON_POSITIVE_SIZE", "CROSSED_QUOTE", "OHLC_VIOLATION", "FUTURE_TIMESTAMP", "DUPLICATE",
                "LATE", "OUTLIER")


@dataclass(frozen=True)
class Rule:
    code: str
    check: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class RuleSet:
    trades: tuple[Rule, ...]
    quotes: tuple[Rule, ...]
    future_tolerance_ns: int
    min_ts_event_ns: int
    symbol_bands: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    venue_bands: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    venue_calendars: Mapping[str, str] = field(default_factory=dict)
    symbol_venues: Mapping[str, str] = field(default_factory=dict)
    # daily halts the calendar's sessions do not carry: venue → (time zone, (("HH:MM", "HH:MM"), …))
    venue_breaks: Mapping[str, tuple[str, tuple[tuple[str, str], ...]]] = field(default_factory=dict)

    def symbol_calendar(self, symbol: str) -> str | None:
        """The exchange calendar of a symbol's home venue, or None (UTC days)."""
        return self.venue_calendars.get(self.symbol_venues.get(symbol, ""))

    def rules(self, kind: str) -> tuple[Rule, ...]:
        return {"trades": self.trades, "quotes": self.quotes}[kind]


def _rule(raw: dict) -> Rule:
    check = raw["check"]
    if check not in CHECKS:
        raise ValueError(f"unknown check {check!r} (known: {', '.join(CHECKS)})")
    if raw["code"] not in REASON_CODES:
        raise ValueError(f"unknown reason code {raw['code']!r}")
    fields = tuple(raw["fields"]) if "fields" in raw else (raw["field"],)
    if (check == "not_below") != (len(fields) == 2):
        raise ValueError(f"check {check} takes {'two fields' if check == 'not_below' else 'one field'}")
    return Rule(raw["code"], check, fields)


def _bands(raw: Mapping | None) -> dict[str, tuple[Decimal, Decimal]]:
    return {k: (Decimal(str(v["min"])), Decimal(str(v["max"]))) for k, v in (raw or {}).items()}


def parse_rules(doc: dict) -> RuleSet:
    limits = doc["limits"]
    return RuleSet(
        trades=tuple(_rule(r) for r in doc["trades"]),
        quotes=tuple(_rule(r) for r in doc["quotes"]),
        future_tolerance_ns=int(limits["future_tolerance_s"]) * 1_000_000_000,
        min_ts_event_ns=int(limits["min_ts_event_ns"]),
        symbol_bands=_bands(doc.get("bands", {}).get("symbols")),
        venue_bands=_bands(doc.get("bands", {}).get("venues")),
        venue_calendars={k: v["calendar"] for k, v in (doc.get("venues") or {}).items()},
        symbol_venues={k: v["venue"] for k, v in (doc.get("symbols") or {}).items()},
        venue_breaks={k: (v.get("timezone", "UTC"), tuple((str(a), str(b)) for a, b in v["breaks"]))
                      for k, v in (doc.get("venues") or {}).items() if v.get("breaks")},
    )


@lru_cache(maxsize=4)
def load_rules(path: Path = RULES_FILE) -> RuleSet:
    return parse_rules(yaml.safe_load(path.read_text()))


# --- SQL -----------------------------------------------------------------------------------------------

def _sql_literal(d: Decimal) -> str:
    return f"CAST('{d}' AS DECIMAL(18, 9))"


def _band_sql(rules: RuleSet, col: str) -> str | None:
    arms = [f"(symbol = '{s}' AND ({col} < {_sql_literal(lo)} OR {col} > {_sql_literal(hi)}))"
            for s, (lo, hi) in sorted(rules.symbol_bands.items())]
    banded = ", ".join(f"'{s}'" for s in sorted(rules.symbol_bands)) or "''"
    arms += [f"(symbol NOT IN ({banded}) AND venue = '{v}' "
             f"AND ({col} < {_sql_literal(lo)} OR {col} > {_sql_literal(hi)}))"
             for v, (lo, hi) in sorted(rules.venue_bands.items())]
    return " OR ".join(arms) if arms else None


def _condition_sql(rules: RuleSet, rule: Rule) -> tuple[str, str] | None:
    """(SQL condition, SQL detail expression) for one rule over the parsed columns."""
    f = rule.fields[0]
    text = f"CAST({f} AS STRING)"
    if rule.check == "not_nanoseconds":
        return f"{f} < {rules.min_ts_event_ns}", f"CONCAT('{f} ', {text}, ' is not in nanoseconds since the epoch')"
    if rule.check == "in_future":
        return (f"{f} > UNIX_TIMESTAMP() * 1000000000 + {rules.future_tolerance_ns}",
                f"CONCAT('{f} ', {text}, ' is in the future')")
    if rule.check == "not_positive":
        return f"{f} <= 0", f"CONCAT('{f} ', {text}, ' is not positive')"
    if rule.check == "negative":
        return f"{f} < 0", f"CONCAT('{f} ', {text}, ' is negative')"
    if rule.check == "zero":
        return f"{f} = 0", f"CONCAT('{f} is zero')"
    if rule.check == "not_below":
        a, b = rule.fields
        return f"{a} >= {b}", f"CONCAT('{a} ', CAST({a} AS STRING), ' >= {b} ', CAST({b} AS STRING))"
    if rule.check == "outside_band":
        cond = _band_sql(rules, f)
        return (cond, f"CONCAT('{f} ', {text}, ' is outside the symbol''s plausible band')") if cond else None
    raise ValueError(rule.check)


def compile_sql(rules: RuleSet, kind: str) -> tuple[str, str]:
    """(reason, detail) SQL expressions over a parsed record with columns ``parse_reason``, ``parse_detail``
    and the typed fields. NULL reason means the record is valid."""
    reason_arms, detail_arms = ["WHEN parse_reason IS NOT NULL THEN parse_reason"], \
        ["WHEN parse_reason IS NOT NULL THEN parse_detail"]
    for rule in rules.rules(kind):
        compiled = _condition_sql(rules, rule)
        if compiled is None:
            continue
        cond, detail = compiled
        reason_arms.append(f"WHEN {cond} THEN '{rule.code}'")
        detail_arms.append(f"WHEN {cond} THEN {detail}")
    return (f"CASE {' '.join(reason_arms)} END", f"CASE {' '.join(detail_arms)} END")


# --- Python reference ----------------------------------------------------------------------------------

def _band(rules: RuleSet, record: Mapping[str, Any]) -> tuple[Decimal, Decimal] | None:
    sym = record.get("symbol")
    if sym is not None and sym in rules.symbol_bands:
        return rules.symbol_bands[sym]
    venue = record.get("venue")
    return None if venue is None else rules.venue_bands.get(venue)


def violated(rules: RuleSet, rule: Rule, record: Mapping[str, Any], now_ns: int) -> bool:
    v = record[rule.fields[0]]
    if rule.check == "not_nanoseconds":
        return v < rules.min_ts_event_ns
    if rule.check == "in_future":
        return v > now_ns + rules.future_tolerance_ns
    if rule.check == "not_positive":
        return v <= 0
    if rule.check == "negative":
        return v < 0
    if rule.check == "zero":
        return v == 0
    if rule.check == "not_below":
        return v >= record[rule.fields[1]]
    if rule.check == "outside_band":
        band = _band(rules, record)
        return band is not None and not band[0] <= v <= band[1]
    raise ValueError(rule.check)


def evaluate(rules: RuleSet, kind: str, record: Mapping[str, Any], now_ns: int) -> str | None:
    """The reason code for a structurally valid, typed record (Decimal prices, int times), or None."""
    for rule in rules.rules(kind):
        if violated(rules, rule, record, now_ns):
            return rule.code
    return None
