"""The connector service's Prometheus metrics, one registry per service."""
from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from connectors.delivery import DeliveryStatus


class DeliveryCollector:
    """The producer's delivery state, read from its ``status()`` at each scrape (nothing to keep in step)."""

    def __init__(self) -> None:
        self.status: Callable[[], DeliveryStatus] | None = None

    def collect(self) -> Iterator[Metric]:
        if self.status is None:
            return
        s = self.status()
        yield GaugeMetricFamily("tickflow_connector_kafka_reachable",
                                "1 while a connection to a Kafka broker is up", value=int(s.reachable))
        yield GaugeMetricFamily("tickflow_connector_undelivered_records",
                                "records handed to the producer and not yet acknowledged by Kafka",
                                value=s.undelivered)
        yield GaugeMetricFamily("tickflow_connector_undelivered_capacity",
                                "records the producer may hold before the feed is paused", value=s.capacity)
        yield GaugeMetricFamily("tickflow_connector_oldest_undelivered_seconds",
                                "how long the oldest unacknowledged record has waited", value=s.oldest_undelivered_s)
        yield CounterMetricFamily("tickflow_connector_delivered", "records acknowledged by Kafka", value=s.delivered)
        failed = CounterMetricFamily("tickflow_connector_delivery_failures",
                                     "records Kafka refused for good (a copy goes to md.dlq), by topic and error",
                                     labels=["topic", "error"])
        for (topic, error), n in sorted(s.failures.items()):
            failed.add_metric([topic, error], n)
        yield failed


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
        self.backpressure = Gauge("tickflow_connector_backpressure",
                                  "1 while the feed is paused because the producer holds its limit of records",
                                  registry=r)
        self.backpressure_waits = Counter("tickflow_connector_backpressure_waits",
                                          "times the feed was paused for the producer to drain", registry=r)
        self.backpressure_seconds = Counter("tickflow_connector_backpressure_seconds",
                                            "seconds the feed spent paused for the producer to drain", registry=r)
        self.delivery = DeliveryCollector()
        r.register(self.delivery)

    def value(self, name: str, **labels: str) -> float:
        """Current value of a sample (tests and the health endpoint)."""
        return self.registry.get_sample_value(name, labels) or 0.0
