"""Provider names → the modules that implement them (each has ``create(cfg, metrics, secret)``)."""
from __future__ import annotations

import importlib

from connectors.metrics import ConnectorMetrics
from connectors.provider import Provider
from connectors.provider_config import ProviderConfig

PROVIDERS = {
    "polygon": "connectors.polygon",
    "finnhub": "connectors.finnhub",
    "databento": "connectors.databento_feed",
    "alphavantage": "connectors.alphavantage",
}


def create(cfg: ProviderConfig, metrics: ConnectorMetrics, secret: str | None) -> Provider:
    if cfg.name not in PROVIDERS:
        raise ValueError(f"unknown provider {cfg.name!r}; known: {', '.join(sorted(PROVIDERS))}")
    return importlib.import_module(PROVIDERS[cfg.name]).create(cfg, metrics, secret)
