"""Provider settings for ``tickflow connect``: one YAML file, secrets only from environment variables.

The file (default ``connectors/providers.yaml``, the local simulators; ``connectors/providers.production.yaml``
holds the real services; else ``--config`` or ``TICKFLOW_CONNECT_CONFIG``) holds URLs, quotas, channels and
each provider's symbol map. A provider's key is read from the environment variable the file names
(``key_env``) and is never logged or printed.

Keys and data cross the network only encrypted: a provider URL (an option named ``*url``) must be
``wss://`` or ``https://``, or plain ``ws://``/``http://`` to a loopback host (the simulators). Anything
else is refused at load unless that provider's section says ``allow_insecure: true``.
"""
from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from connectors.rate_limit import TokenBucket
from connectors.symbols import SymbolMap

DEFAULT_FILE = Path(__file__).with_name("providers.yaml")
PRODUCTION_FILE = Path(__file__).with_name("providers.production.yaml")
_SECURE = {"ws": "wss", "http": "https"}


class ConfigError(ValueError):
    """The provider configuration is unusable; the message says which key of which file."""


@dataclass(frozen=True)
class ProviderConfig:
    """One provider's section of the file."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    symbols: SymbolMap = field(default_factory=lambda: SymbolMap(""))
    rest_quota: tuple[int, float] | None = None
    key_env: str | None = None
    allow_insecure: bool = False

    def secret(self, env: Mapping[str, str] | None = None) -> str | None:
        env = os.environ if env is None else env
        return env.get(self.key_env) if self.key_env else None

    def limiter(self) -> TokenBucket | None:
        if self.rest_quota is None:
            return None
        requests, seconds = self.rest_quota
        return TokenBucket.per_period(requests, seconds)

    def with_options(self, **changes: Any) -> ProviderConfig:
        return ProviderConfig(self.name, {**self.options, **changes}, self.symbols, self.rest_quota, self.key_env,
                              self.allow_insecure)

    def __repr__(self) -> str:  # the options never hold secrets, but keep reprs short in logs
        return f"ProviderConfig({self.name!r})"


def load(path: Path | None = None, env: Mapping[str, str] | None = None) -> dict[str, ProviderConfig]:
    """Every provider section of the file, by name."""
    env = os.environ if env is None else env
    path = path or Path(env.get("TICKFLOW_CONNECT_CONFIG") or DEFAULT_FILE)
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    providers = doc.get("providers")
    if not isinstance(providers, dict):
        raise ConfigError(f"{path}: expected a top-level 'providers:' mapping")
    return {name: parse_section(name, section or {}, path) for name, section in providers.items()}


def parse_section(name: str, section: dict[str, Any], path: Path | str = "<config>") -> ProviderConfig:
    options = dict(section)
    symbols = options.pop("symbols", {}) or {}
    quota = options.pop("rest_quota", None)
    key_env = options.pop("key_env", None)
    allow_insecure = options.pop("allow_insecure", False)
    if not isinstance(allow_insecure, bool):
        raise ConfigError(f"{path}: providers.{name}.allow_insecure must be true or false")
    if not isinstance(symbols, dict):
        raise ConfigError(f"{path}: providers.{name}.symbols must map tickflow symbols to the provider's")
    parsed_quota = None
    if quota is not None:
        try:
            parsed_quota = (int(quota["requests"]), float(quota["seconds"]))
        except (TypeError, KeyError, ValueError):
            raise ConfigError(f"{path}: providers.{name}.rest_quota needs 'requests' and 'seconds'") from None
    cfg = ProviderConfig(name, options, SymbolMap(name, {str(k): str(v) for k, v in symbols.items()}),
                         parsed_quota, key_env, allow_insecure)
    check_transport(cfg, path)
    return cfg


def check_transport(cfg: ProviderConfig, path: Path | str = "<config>") -> None:
    """ConfigError (one line) for a provider URL that would carry keys or data in the clear to another host."""
    for key, value in cfg.options.items():
        if not key.endswith("url") or not isinstance(value, str):
            continue
        parts = urlsplit(value)
        scheme, host = parts.scheme.lower(), parts.hostname or ""
        if scheme in _SECURE.values():
            continue
        if scheme not in _SECURE:
            raise ConfigError(f"{path}: providers.{cfg.name}.{key} has scheme {scheme or 'none'!r}; "
                              f"use {' or '.join(sorted(_SECURE.values()))}")
        if not is_loopback(host) and not cfg.allow_insecure:
            raise ConfigError(f"{path}: providers.{cfg.name}.{key} is plain {scheme}:// to {host or '?'} (not "
                              f"loopback): use {_SECURE[scheme]}://, or set allow_insecure: true for {cfg.name}")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
