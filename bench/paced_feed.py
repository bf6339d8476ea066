"""A live-paced trade feed for the latency benchmarks (processor_latency.py, soak.py): the trades of the
benchmark workload (tickflow_testkit.workload: Zipf-skewed symbols with their own prices, three sources,
ids on one) in their order, or the real ES prices round-robin over a few symbols, sent at ``rate``
trades/s, each stamped with the wall clock as it is sent (ts_event = ts_recv = now), so event time is wall
time and a bar's window closes when the wall clock passes its end plus the out-of-orderness bound. Each
series (source, symbol) numbers its trades 1, 2, 3 … (``seq``, and ``trade_id`` where its source has ids)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from connectors.es_sample import read_es_trades
from connectors.raw_contract import TradeEncoder

# the processor's default out-of-orderness: the watermark passes a bar's end E at E + this
OUT_OF_ORDERNESS_MS = 2_000


def es_prices(csv_path, n: int) -> list[tuple[str, str]]:
    """(price, size) text of the first n ES trades, in file order."""
    return [(t.price, t.size) for t in read_es_trades(csv_path, limit=n)]


def symbol_names(symbols: int) -> list[str]:
    """The feed's symbols: S00, S01, …"""
    return [f"S{i:02d}" for i in range(symbols)]


@dataclass(frozen=True)
class FeedTrade:
    """One trade the feed sends (again and again, cycling): its series (index), key, encoder, price, size,
    and whether its source gives trade ids."""

    series: int
    key: bytes
    encoder: Any
    price: str
    size: str
    with_id: bool = False


def es_feed(trades: list[tuple[str, str]], symbols: int) -> list[FeedTrade]:
    """The ES prices and sizes round-robin over ``symbols`` symbols (S00 …) of one source, ``bench``."""
    names = symbol_names(symbols)
    encoders = [TradeEncoder("bench", name, "XCME") for name in names]
    return [FeedTrade(i % symbols, names[i % symbols].encode(), encoders[i % symbols], price, size)
            for i, (price, size) in enumerate(trades)]


def workload_feed(spec, csv_path, n: int = 200_000) -> list[FeedTrade]:
    """The first ``n`` valid trades of the workload ``spec`` (its symbols, sources, prices, sizes, in its
    order; no rejects), to be re-stamped with the wall clock as they are sent."""
    import json

    from tickflow_testkit.workload import instruments, stream

    insts = instruments(spec)
    index = {(i.source, i.symbol): n for n, i in enumerate(insts)}
    encoders = [TradeEncoder(i.source, i.symbol, i.venue) for i in insts]
    out = []
    for m in stream(spec, csv_path):
        if m.expect is not None:
            continue
        v = json.loads(m.value)
        k = index[(v["source"], v["symbol"])]
        out.append(FeedTrade(k, m.key, encoders[k], v["price"], v["size"], insts[k].with_ids))
        if len(out) >= n:
            break
    return out


@dataclass(frozen=True)
class Pacing:
    """How the feed sends: a burst of the trades due every ``burst_s`` seconds, batched by the producer for
    up to ``linger_ms``. Short bursts and linger (the latency benchmark's) keep event time closest to the
    wall clock; longer ones cost the producer and the broker far less CPU per trade."""

    burst_s: float = 0.005
    linger_ms: int = 1


def paced_publish(bootstrap: str, rate: int, seconds: float, trades: list[FeedTrade], stop: threading.Event,
                  client_id: str = "bench-latency", pacing: Pacing = Pacing()) -> int:
    """Send ``rate`` trades/s to md.raw.trades for ``seconds`` (or until ``stop``), ts_event = wall clock
    at send, cycling through ``trades``; returns the number sent."""
    from connectors.kafka_publisher import RawPublisher

    pub = RawPublisher(bootstrap, client_id=client_id, linger_ms=pacing.linger_ms)
    seqs = [0] * (max(t.series for t in trades) + 1)
    sent, start, n = 0, time.time(), len(trades)
    send = pub.send
    try:
        while not stop.is_set():
            now = time.time()
            if now - start >= seconds:
                break
            due = int((now - start) * rate)
            ts = time.time_ns()
            while sent < due:
                t = trades[sent % n]
                seqs[t.series] += 1
                seq = seqs[t.series]
                send("md.raw.trades", t.key,
                     t.encoder.encode(ts, ts, seq, t.price, t.size, f"L{seq}" if t.with_id else None))
                sent += 1
            time.sleep(pacing.burst_s)
    finally:
        pub.close()
    return sent


class PacedFeed:
    """:func:`paced_publish` in a daemon thread: ``start()``, then ``stop()`` returns the trades sent."""

    def __init__(self, bootstrap: str, rate: int, seconds: float, trades: list[FeedTrade],
                 client_id: str = "bench-latency", pacing: Pacing = Pacing()) -> None:
        self._stop = threading.Event()
        self.sent = 0
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        args=(bootstrap, rate, seconds, trades, client_id, pacing))

    def _run(self, bootstrap: str, rate: int, seconds: float, trades: list[FeedTrade], client_id: str,
             pacing: Pacing) -> None:
        self.sent = paced_publish(bootstrap, rate, seconds, trades, self._stop, client_id, pacing)

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
