"""``tickflow replay``: publish a recorded trades file to ``md.raw.trades``, as fast as possible or paced.

Malformed rows are reported with their line number and skipped; the count of skipped rows is returned.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, TextIO

from connectors.csv_trades import CsvTradeNormalizer, CsvTradeSource, RowError
from connectors.kafka_publisher import RawPublisher

RAW_TRADES_TOPIC = "md.raw.trades"


class ReplayError(RuntimeError):
    """The file as a whole cannot be replayed (missing, wrong header)."""


@dataclass
class ReplayResult:
    published: int = 0
    skipped: int = 0
    skipped_rows: list[tuple[int, str]] = field(default_factory=list)  # the first few (line, reason)
    seconds: float = 0.0
    failed: int = 0

    @property
    def rate(self) -> float:
        return self.published / self.seconds if self.seconds > 0 else 0.0


def read_trades(lines: TextIO, meta: CsvTradeSource, result: ReplayResult,
                on_skip: Callable[[int, str], None] | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield (ts_event, JSON) for each good row; record skipped rows in ``result``."""
    header = lines.readline().strip().split(",")
    if [h.strip() for h in header] != CsvTradeNormalizer.HEADER:
        raise ReplayError(f"line 1: expected header {','.join(CsvTradeNormalizer.HEADER)}, got {','.join(header)[:60]!r}")
    normalizer = CsvTradeNormalizer(meta)
    for line_no, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        try:
            yield normalizer.normalize(line)
        except RowError as exc:
            result.skipped += 1
            if len(result.skipped_rows) < 20:
                result.skipped_rows.append((line_no, str(exc)))
            if on_skip:
                on_skip(line_no, str(exc))


class Pacer:
    """Holds the publisher back to a record rate, or to the file's own clock times a speed factor."""

    def __init__(self, rate: float | None = None, speed: float | None = None) -> None:
        self.rate, self.speed = rate, speed
        self.start = time.monotonic()
        self.first_ts: int | None = None
        self.count = 0

    def wait(self, ts_event: int) -> None:
        self.count += 1
        if self.rate:
            if self.count % 500 == 0:
                ahead = self.count / self.rate - (time.monotonic() - self.start)
                if ahead > 0:
                    time.sleep(ahead)
        elif self.speed:
            if self.first_ts is None:
                self.first_ts = ts_event
            ahead = (ts_event - self.first_ts) / 1e9 / self.speed - (time.monotonic() - self.start)
            if ahead > 0.001:
                time.sleep(ahead)


def replay_file(path: Path, publisher: RawPublisher, meta: CsvTradeSource, topic: str = RAW_TRADES_TOPIC,
                rate: float | None = None, speed: float | None = None, limit: int | None = None,
                err: TextIO = sys.stderr) -> ReplayResult:
    """Publish every good row of ``path``; returns counts. Flushes before returning."""
    if not path.is_file():
        raise ReplayError(f"{path}: no such file")
    result = ReplayResult()
    key = meta.symbol.encode()
    pacer = Pacer(rate, speed)
    started = time.monotonic()

    def report(line_no: int, reason: str) -> None:
        if result.skipped <= 10:
            print(f"{path.name}:{line_no}: skipped: {reason}", file=err)

    with open(path, encoding="utf-8", errors="replace", newline="") as lines:
        for ts, value in read_trades(lines, meta, result, report):
            if limit is not None and result.published >= limit:
                break
            pacer.wait(ts)
            publisher.send(topic, key, value)
            result.published += 1
    publisher.flush()
    result.failed = publisher.stats.failed
    result.seconds = time.monotonic() - started
    return result
