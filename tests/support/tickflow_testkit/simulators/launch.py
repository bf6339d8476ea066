"""Building a provider simulator by name, on the port the default provider config expects."""
from __future__ import annotations

import importlib

from tickflow_testkit.simulators.market import Market
from tickflow_testkit.simulators.server import SimulatorServer

# provider → (module, class, default port in connectors/providers.yaml)
SIMULATORS = {
    "polygon": ("tickflow_testkit.simulators.polygon", "PolygonSimulator", 8765),
    "finnhub": ("tickflow_testkit.simulators.finnhub", "FinnhubSimulator", 8766),
    "databento": ("tickflow_testkit.simulators.databento", "DatabentoGateway", 8767),
    "alphavantage": ("tickflow_testkit.simulators.alphavantage", "AlphaVantageServer", 8768),
}


def build(provider: str, market: Market, api_key: str, port: int | None = None,
          host: str = "127.0.0.1") -> SimulatorServer:
    module, cls, default_port = SIMULATORS[provider]
    factory = getattr(importlib.import_module(module), cls)
    return factory(market, api_key=api_key, host=host, port=port or default_port)
