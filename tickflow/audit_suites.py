"""The audits' expectation suites: Great Expectations suites kept as data in ``expectations/``.

``expectations/<name>.json`` holds a suite in Great Expectations' own JSON form (name, expectations with
``type``/``kwargs``/``meta``) for what holds for every symbol; ``expectations/symbols.yaml`` holds the
per-symbol ranges and completeness thresholds, expanded here into expectations with a row condition
(``symbol == "ES"``). Which suites validate a dataset:

- ``<dataset>`` (bars, trades, indicators): the rows of the date, in the lake and in the table;
- ``<dataset>.calendar`` (bars: 1m only; trades): trading minutes with data against the venue's calendar;
- ``<dataset>.lake_vs_table``: both stores hold the same keys and values.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from tickflow.runtime.config import PROJECT_ROOT

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # no usage statistics leave the machine

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
SYMBOLS_FILE = EXPECTATIONS_DIR / "symbols.yaml"
CALENDAR_DATASETS = ("bars", "trades")
BAR_PRICES = ("open", "high", "low", "close", "vwap")
INDICATOR_PRICES = ("sma_20", "sma_50", "ema_12", "ema_26", "bb_mid", "vwap_day")


@dataclass(frozen=True)
class SymbolLimits:
    price: tuple[float, float] | None = None
    trade_size: tuple[float, float] | None = None
    volume_1m: tuple[float, float] | None = None
    min_completeness: float = 0.0


def _pair(raw: object, what: str) -> tuple[float, float] | None:
    if raw is None:
        return None
    if not isinstance(raw, (list, tuple)) or len(raw) != 2 or float(raw[0]) > float(raw[1]):
        raise ValueError(f"{what}: expected [min, max] with min <= max, got {raw!r}")
    return float(raw[0]), float(raw[1])


def _limits(raw: Mapping, base: SymbolLimits, where: str) -> SymbolLimits:
    unknown = set(raw) - {"price", "trade_size", "volume_1m", "min_completeness"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    share = float(raw.get("min_completeness", base.min_completeness))
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"{where}.min_completeness: a share in [0, 1], got {share}")
    return SymbolLimits(
        price=_pair(raw.get("price"), f"{where}.price") or base.price,
        trade_size=_pair(raw.get("trade_size"), f"{where}.trade_size") or base.trade_size,
        volume_1m=_pair(raw.get("volume_1m"), f"{where}.volume_1m") or base.volume_1m,
        min_completeness=share)


@dataclass(frozen=True)
class AuditConfig:
    default: SymbolLimits
    symbols: Mapping[str, SymbolLimits]

    def limits(self, symbol: str) -> SymbolLimits:
        return self.symbols.get(symbol, self.default)


def parse_config(doc: Mapping) -> AuditConfig:
    default = _limits(doc.get("default") or {}, SymbolLimits(), "default")
    symbols = {str(k): _limits(v or {}, default, f"symbols.{k}") for k, v in (doc.get("symbols") or {}).items()}
    return AuditConfig(default, symbols)


@lru_cache(maxsize=4)
def load_config(path: Path = SYMBOLS_FILE) -> AuditConfig:
    return parse_config(yaml.safe_load(path.read_text()) or {})


def load_suite_document(name: str, directory: Path = EXPECTATIONS_DIR) -> dict:
    """A suite file as it is in the repo: ``{"name", "meta", "expectations": [{type, kwargs, meta}]}``."""
    return json.loads((directory / f"{name}.json").read_text())


def _expectation(type_: str, notes: str, **kwargs) -> dict:
    return {"type": type_, "kwargs": kwargs, "meta": {"notes": notes}}


def _equals(column: str, value: str) -> dict:
    return {"type": "comparison", "column": {"name": column}, "operator": "==", "parameter": value}


def _where(symbol: str, timeframe: str | None = None) -> dict:
    """A row condition in Great Expectations' serialized Condition form (symbol == …[and timeframe == …])."""
    condition = _equals("symbol", symbol)
    if timeframe:
        condition = {"type": "and", "conditions": [condition, _equals("timeframe", timeframe)]}
    return {"row_condition": condition}


def condition_text(condition: object) -> str:
    """``symbol=="ES" and timeframe=="1m"``: a serialized condition as people read it."""
    if not isinstance(condition, Mapping):
        return str(condition)
    if condition.get("type") == "comparison":
        return f"{condition['column']['name']}{condition['operator']}{json.dumps(condition['parameter'])}"
    if condition.get("type") in ("and", "or"):
        return f" {condition['type']} ".join(condition_text(c) for c in condition["conditions"])
    return str(condition.get("pass_through_filter", condition))


def _between(column: str, bounds: tuple[float, float], symbol: str, what: str, timeframe: str | None = None) -> dict:
    return _expectation("expect_column_values_to_be_between", f"{symbol}: {what} in [{bounds[0]:g}, {bounds[1]:g}] "
                        "(expectations/symbols.yaml)", column=column, min_value=bounds[0], max_value=bounds[1],
                        **_where(symbol, timeframe))


def symbol_expectations(suite: str, symbols: Iterable[str], config: AuditConfig) -> list[dict]:
    """The per-symbol expectations ``suite`` gets for the symbols found in the data."""
    out: list[dict] = []
    for symbol in sorted(set(symbols)):
        lim = config.limits(symbol)
        if suite == "bars":
            if lim.price:
                out += [_between(c, lim.price, symbol, f"bar {c}") for c in BAR_PRICES]
            if lim.volume_1m:
                out.append(_between("volume", lim.volume_1m, symbol, "1m bar volume", "1m"))
        elif suite == "trades":
            if lim.price:
                out.append(_between("price", lim.price, symbol, "trade price"))
            if lim.trade_size:
                out.append(_between("size", lim.trade_size, symbol, "trade size"))
        elif suite == "indicators":
            if lim.price:
                out += [_between(c, lim.price, symbol, c) for c in INDICATOR_PRICES]
        elif suite.endswith(".calendar") and lim.min_completeness > 0:
            out.append(_expectation(
                "expect_column_values_to_be_in_set",
                f"{symbol}: at least {lim.min_completeness:.0%} of the trading minutes have data "
                "(min_completeness, expectations/symbols.yaml)",
                column="present", value_set=[True], mostly=lim.min_completeness, **_where(symbol)))
    return out


def suite_names(dataset: str) -> list[str]:
    """The suites a dataset is audited with, in the order they run."""
    names = [dataset]
    if dataset in CALENDAR_DATASETS:
        names.append(f"{dataset}.calendar")
    names.append(f"{dataset}.lake_vs_table")
    return names


def suite_document(suite: str, symbols: Iterable[str], config: AuditConfig | None = None,
                   directory: Path = EXPECTATIONS_DIR) -> dict:
    """The full suite (file + per-symbol expectations) for data holding ``symbols``, as plain data."""
    config = load_config() if config is None else config
    base_file = suite.split(".", 1)[1] if "." in suite else suite   # bars.calendar → calendar.json
    doc = load_suite_document(base_file, directory)
    return {"name": suite, "meta": doc.get("meta", {}),
            "expectations": list(doc["expectations"]) + symbol_expectations(suite, symbols, config)}


def build_suite(document: Mapping):
    """A ``great_expectations.ExpectationSuite`` from a suite document."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    expectations = [ExpectationConfiguration(type=e["type"], kwargs=dict(e["kwargs"]),
                                             meta=dict(e.get("meta") or {})).to_domain_obj()
                    for e in document["expectations"]]
    return gx.ExpectationSuite(name=document["name"], expectations=expectations, meta=dict(document.get("meta") or {}))


def describe(expectation_type: str, kwargs: Mapping) -> str:
    """``expect_x(column=a, …)``: how the report names an expectation (no row condition noise)."""
    shown = {k: v for k, v in kwargs.items() if k not in ("batch_id", "condition_parser", "result_format")}
    if "row_condition" in shown:
        condition = shown["row_condition"]
        shown["row_condition"] = condition_text(condition.to_json_dict() if hasattr(condition, "to_json_dict")
                                                else condition)
    args = ", ".join(f"{k}={v}" for k, v in shown.items())
    return f"{expectation_type}({args})"
