"""Provider simulators for the demo and ``tickflow simulate``, from the test kit (tests/support).

The test kit is installed by ``make setup`` beside tickflow, not into the production image; without it
these functions say so in one line instead of the CLI failing to start.
"""
from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from connectors.es_sample import Trade
from tickflow.runtime.errors import StackError

_kit: dict[str, ModuleType] = {}
try:  # optional: absent from the production image
    from tickflow_testkit.simulators import alphavantage_data, launch, market, server

    _kit = {"alphavantage_data": alphavantage_data, "launch": launch, "market": market, "server": server}
except ImportError:
    pass

MISSING = "the provider simulators are test support: install them with `pip install -e tests/support` (make setup does)"


def _module(name: str) -> Any:
    if name not in _kit:
        raise StackError(MISSING)
    return _kit[name]


def start(provider: str, trades: list[Trade], rate: float, api_key: str, port: int | None = None,
          opened: bool = True) -> Any:
    """A running simulator of ``provider`` releasing ``trades`` at ``rate`` per second (``opened=False``:
    held until ``.market.open()``)."""
    market = _module("market").Market(trades, rate, opened=opened)
    return _module("launch").build(provider, market, api_key, port).start()


def free_port() -> int:
    """A TCP port free on loopback now."""
    return int(_module("server").free_port())


def alphavantage_sample(cache_dir: Path) -> Path:
    """The recorded Alpha Vantage intraday response the simulator serves, fetched into the cache."""
    return Path(_module("alphavantage_data").intraday_sample_path(cache_dir))
