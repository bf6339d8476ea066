"""The documented queries (``sql/queries``) and how ``tickflow query`` prints their rows."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tickflow.runtime.config import PROJECT_ROOT

QUERIES_DIR = PROJECT_ROOT / "sql" / "queries"
FORMATS = ("table", "csv", "json")


def query_text(name: str, directory: Path = QUERIES_DIR) -> str:
    return (directory / f"{name}.sql").read_text()


def run(conn, name: str, params: dict[str, Any]) -> tuple[list[str], list[tuple]]:
    """(column names, rows) of a documented query."""
    with conn.cursor() as cur:
        cur.execute(query_text(name), params)
        return [d.name for d in cur.description], cur.fetchall()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 1640.250000000 → 1640.25, 3.94E+3 → 3940
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, Decimal)):
        return _text(value)  # decimals stay exact as strings, as on the Kafka topics
    return value


def render(columns: Sequence[str], rows: Sequence[tuple], fmt: str) -> str:
    """Rows as an aligned table, CSV with a header, or JSON lines."""
    if fmt == "json":
        return "".join(json.dumps({c: _json_value(v) for c, v in zip(columns, r)}) + "\n" for r in rows)
    cells = [[_text(v) for v in r] for r in rows]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(cells)
        return out.getvalue()
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    lines.append(f"({len(rows)} rows)")
    return "\n".join(lines) + "\n"
