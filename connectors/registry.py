"""Provider names → the modules that implement them (each has ``create(cfg, metrics, secret)``)."""
from __future__ import annotations

import importlib

from connectors.metrics import ConnectorMetrics
from connectors.provider import Provider
from connectors.provider_config import ProviderConfig, check_transport
from connectors.redaction import register_secret

PROVIDERS = {
    "polygon": "connectors.polygon",
    "finnhub": "connectors.finnhub",
    "databento": "connectors.databento_feed",
    "alphavantage": "connectors.alphavantage",
}


def create(cfg: ProviderConfig, metrics: ConnectorMetrics, secret: str | None) -> Provider:
    """The provider ``cfg`` names. Its URLs must be encrypted (or loopback, or ``allow_insecure``), and its
    key is masked in every log line and error text from now on."""
    if cfg.name not in PROVIDERS:
        raise ValueError(f"unknown provider {cfg.name!r}; known: {', '.join(sorted(PROVIDERS))}")
    check_transport(cfg)
    register_secret(secret)
    return importlib.import_module(PROVIDERS[cfg.name]).create(cfg, metrics, secret)
