"""The connector service's Prometheus metrics, one registry per service."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ConnectorMetrics:
    """Counters and gauges labelled by provider; served on ``/metrics`` by the health endpoint."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.messages_in = Counter("tickflow_connector_messages_in", "records received from a provider, by kind",
                                   ["provider", "kind"], registry=r)
        self.messages_out = Counter("tickflow_connector_messages_out", "records published to Kafka, by topic",
                                    ["provider", "topic"], registry=r)
        self.malformed = Counter("tickflow_connector_malformed", "frames or records sent to md.dlq",
                                 ["provider"], registry=r)
        self.duplicates = Counter("tickflow_connector_duplicates_dropped",
                                  "records dropped as already published (backfill overlap, failover handover)",
                                  ["provider"], registry=r)
        self.backfilled = Counter("tickflow_connector_backfilled", "records recovered over the REST API after a gap",
                                  ["provider"], registry=r)
        self.reconnects = Counter("tickflow_connector_reconnects", "connections re-established after a loss",
                                  ["provider"], registry=r)
        self.errors = Counter("tickflow_connector_errors", "connection and protocol errors, by kind",
                              ["provider", "kind"], registry=r)
        self.rate_limit_waits = Counter("tickflow_connector_rate_limit_waits",
                                        "requests held back by the token bucket or a 429", ["provider"], registry=r)
        self.rate_limit_wait_seconds = Counter("tickflow_connector_rate_limit_wait_seconds",
                                               "seconds spent waiting on rate limits", ["provider"], registry=r)
        self.retries = Counter("tickflow_connector_retries", "REST requests retried (429, 5xx, timeouts)",
                               ["provider"], registry=r)
        self.failovers = Counter("tickflow_connector_failovers", "switches of the active provider",
                                 ["from_provider", "to_provider"], registry=r)
        self.active = Gauge("tickflow_connector_active", "1 for the provider whose records are published",
                            ["provider"], registry=r)
        self.connected = Gauge("tickflow_connector_connected", "1 while the provider's feed is connected",
                               ["provider"], registry=r)
        self.lag = Gauge("tickflow_connector_lag_seconds", "ts_recv - ts_event of the latest trade or quote",
                         ["provider"], registry=r)
        self.last_message = Gauge("tickflow_connector_last_message_timestamp_seconds",
                                  "wall time of the latest record from the provider", ["provider"], registry=r)
        self.circuit_open = Gauge("tickflow_connector_circuit_open", "1 while the provider's circuit breaker is open",
                                  ["provider"], registry=r)

    def value(self, name: str, **labels: str) -> float:
        """Current value of a sample (tests and the health endpoint)."""
        return self.registry.get_sample_value(name, labels) or 0.0
