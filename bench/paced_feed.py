"""A live-paced trade feed for the latency benchmarks (processor_latency.py, soak.py): the real ES prices
and sizes in file order, ``rate`` trades/s round-robin over ``symbols`` symbols, each stamped with the
wall clock as it is sent (ts_event = ts_recv = now), so event time is wall time and a bar's window
closes when the wall clock passes its end plus the out-of-orderness bound."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from connectors.es_sample import read_es_trades

# the processor's default out-of-orderness: the watermark passes a bar's end E at E + this
OUT_OF_ORDERNESS_MS = 2_000


def es_prices(csv_path, n: int) -> list[tuple[str, str]]:
    """(price, size) text of the first n ES trades, in file order."""
    return [(t.price, t.size) for t in read_es_trades(csv_path, limit=n)]


def symbol_names(symbols: int) -> list[str]:
    """The feed's symbols: S00, S01, …"""
    return [f"S{i:02d}" for i in range(symbols)]


@dataclass(frozen=True)
class Pacing:
    """How the feed sends: a burst of the trades due every ``burst_s`` seconds, batched by the producer for
    up to ``linger_ms``. Short bursts and linger (the latency benchmark's) keep event time closest to the
    wall clock; longer ones cost the producer and the broker far less CPU per trade."""

    burst_s: float = 0.005
    linger_ms: int = 1


def paced_publish(bootstrap: str, rate: int, symbols: int, seconds: float, trades, stop: threading.Event,
                  client_id: str = "bench-latency", pacing: Pacing = Pacing()) -> int:
    """Send ``rate`` trades/s to md.raw.trades for ``seconds`` (or until ``stop``), ts_event = wall clock
    at send, round-robin over symbols; returns the number sent."""
    from connectors.kafka_publisher import RawPublisher
    from connectors.raw_contract import TradeEncoder

    pub = RawPublisher(bootstrap, client_id=client_id, linger_ms=pacing.linger_ms)
    names = symbol_names(symbols)
    encoders = [TradeEncoder("bench", name, "XCME") for name in names]
    keys = [name.encode() for name in names]
    sent, start = 0, time.time()
    try:
        while not stop.is_set():
            now = time.time()
            if now - start >= seconds:
                break
            due = int((now - start) * rate)
            ts = time.time_ns()
            while sent < due:
                price, size = trades[sent % len(trades)]
                i = sent % symbols
                pub.send("md.raw.trades", keys[i], encoders[i].encode(ts, ts, sent, price, size))
                sent += 1
            time.sleep(pacing.burst_s)
    finally:
        pub.close()
    return sent


class PacedFeed:
    """:func:`paced_publish` in a daemon thread: ``start()``, then ``stop()`` returns the trades sent."""

    def __init__(self, bootstrap: str, rate: int, symbols: int, seconds: float, trades,
                 client_id: str = "bench-latency", pacing: Pacing = Pacing()) -> None:
        self._stop = threading.Event()
        self.sent = 0
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        args=(bootstrap, rate, symbols, seconds, trades, client_id, pacing))

    def _run(self, bootstrap: str, rate: int, symbols: int, seconds: float, trades, client_id: str,
             pacing: Pacing) -> None:
        self.sent = paced_publish(bootstrap, rate, symbols, seconds, trades, self._stop, client_id, pacing)

    def start(self) -> PacedFeed:
        self._thread.start()
        return self

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> int:
        self._stop.set()
        self._thread.join(timeout)
        return self.sent


def first_bars(records, seen: dict[str, tuple[dict, int, int]], now_ms: int) -> None:
    """Note each bar's first revision the first time its key is seen: key → (bar, its Kafka timestamp,
    ``now_ms`` when seen)."""
    import json

    for r in records:
        key = r.key.decode()
        if key in seen:
            continue
        v = json.loads(r.value)
        if v["revision"] == 0:
            seen[key] = (v, r.timestamp, now_ms)


def closed_ms(bar: dict) -> int:
    """When the watermark passes the bar's end (ms): its end + the out-of-orderness bound."""
    return bar["bucket_end"] // 1_000_000 + OUT_OF_ORDERNESS_MS


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile of ``values`` (not empty)."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]
