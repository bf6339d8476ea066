"""How `tickflow query` prints rows: exact decimals, ISO times, three formats."""
import json
from datetime import UTC, datetime
from decimal import Decimal

from tickflow.queries import query_text, render

COLUMNS = ["symbol", "bucket_start", "close", "volume", "rsi_14"]
ROWS = [("ES", datetime(2013, 9, 2, 14, 30, tzinfo=UTC), Decimal("1640.250000000"), Decimal("3940"), None)]


def test_table_aligns_columns_and_prints_decimals_in_their_shortest_exact_form():
    out = render(COLUMNS, ROWS, "table").splitlines()
    assert out[0].split() == COLUMNS
    assert out[2].split() == ["ES", "2013-09-02T14:30:00+00:00", "1640.25", "3940"]
    assert out[-1] == "(1 rows)"


def test_csv_has_a_header_and_empty_cells_for_nulls():
    assert render(COLUMNS, ROWS, "csv") == \
        "symbol,bucket_start,close,volume,rsi_14\nES,2013-09-02T14:30:00+00:00,1640.25,3940,\n"


def test_json_lines_keep_decimals_as_exact_strings():
    [line] = render(COLUMNS, ROWS, "json").splitlines()
    assert json.loads(line) == {"symbol": "ES", "bucket_start": "2013-09-02T14:30:00+00:00", "close": "1640.25",
                                "volume": "3940", "rsi_14": None}


def test_documented_queries_take_named_parameters():
    assert "%(timeframe)s" in query_text("latest_bars")
    for name in ("bars", "indicators"):
        assert all(f"%({p})s" in query_text(name) for p in ("symbol", "timeframe", "from", "to"))
