"""Replay by file extension: CSV (unchanged fast path), JSON Lines of raw trades, Parquet in batches, and the
hook where the DBN reader plugs in. Bad rows are skipped and reported; files that cannot be read at all
are one ReplayError."""
import io
import json
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.csv_trades import CsvTradeSource
from connectors.raw_contract import RawTrade
from connectors.replay import (
    READERS,
    ReplayError,
    ReplayResult,
    check_raw_trade,
    file_identity,
    read_parquet_trades,
    reader_for,
    register_reader,
    replay_file,
)

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "raw_trade.schema.json").read_text())
NS = 1_000_000_000
T0 = 1378072800083000000  # 2013-09-01 22:00:00.083 UTC


class FakePublisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.flushes = 0
        self.stats = SimpleNamespace(failed=0)

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((topic, key, value))

    def send_many(self, topic: str, key: bytes, values: list[bytes]) -> None:
        self.sent.extend((topic, key, v) for v in values)

    def flush(self) -> None:
        self.flushes += 1


ES_CSV = CsvTradeSource()  # the defaults: ES on XCME in Chicago time


def replay(path, meta=ES_CSV, **kw):
    pub, err = FakePublisher(), io.StringIO()
    result = replay_file(path, pub, meta, err=err, **kw)
    assert pub.flushes == 1
    return result, pub, err.getvalue()


def trade(**changes):
    rec = {"v": 1, "source": "polygon", "symbol": "AAPL", "venue": "XNAS", "ts_event": T0, "ts_recv": T0 + 5,
           "seq": 42, "price": "189.7100", "size": "100", "trade_id": "5298", "conditions": ["12", "37"]}
    rec.update(changes)
    return rec


# --- CSV: the existing fast path -------------------------------------------------------------------------

def test_a_replayed_file_identifies_its_trades_by_its_content_and_their_line(tmp_path):
    one, same, other = tmp_path / "one.csv", tmp_path / "same.csv", tmp_path / "other.csv"
    one.write_text("DateTime,Price,Volume\n2013-09-01 17:00:00.083,1640.25,8\n2013-09-01 17:00:00.083,1640.25,8\n")
    same.write_bytes(one.read_bytes())
    other.write_text("DateTime,Price,Volume\n2013-09-01 17:00:00.083,1640.25,8\n")
    ids = lambda f: [json.loads(v)["trade_id"] for _, _, v in replay(f)[1].sent]  # noqa: E731
    assert ids(one) == ids(same) and len(set(ids(one))) == 2, "one file twice: the same trades"
    assert not set(ids(one)) & set(ids(other)), "two different files: different trades"
    assert ids(one)[0] == f"{file_identity(one)}:2"


def test_csv_with_a_bad_row_is_read_row_by_row_and_the_row_reported(tmp_path):
    f = tmp_path / "t.CSV"
    f.write_text("DateTime,Price,Volume\n2013-09-01 17:00:00.083,1640.25,8\nbad row\n2013-09-01 17:00:01,1640.5,2\n")
    assert reader_for(f) is None
    result, pub, err = replay(f)
    assert (result.published, result.skipped) == (2, 1)
    assert [(t, k) for t, k, _ in pub.sent] == [("md.raw.trades", b"ES")] * 2
    assert pub.sent[0][2] == RawTrade("replay", "ES", "XCME", T0, T0, T0 // 1_000_000 * 100_000, "1640.25",
                                      "8", f"{file_identity(f)}:2").to_json()
    assert "t.CSV:3: skipped: expected 3 columns" in err


# --- JSON Lines --------------------------------------------------------------------------------------------

def test_jsonl_lines_are_published_as_canonical_trades_keyed_by_their_symbol(tmp_path):
    f = tmp_path / "trades.jsonl"
    lines = [trade(), trade(symbol="MSFT", seq=43, trade_id=None, conditions=[], venue=None)]
    minimal = {k: v for k, v in trade(seq=44).items() if k not in ("venue", "trade_id", "conditions")}
    f.write_text("\n".join(json.dumps(x) for x in [*lines, minimal]) + "\n\n")
    result, pub, err = replay(f, CsvTradeSource(source="ignored", symbol="IGNORED"))
    assert (result.published, result.skipped, err) == (3, 0, "")
    assert [k for _, k, _ in pub.sent] == [b"AAPL", b"MSFT", b"AAPL"]
    values = [json.loads(v) for _, _, v in pub.sent]
    assert values[:2] == lines  # every field kept as in the file, prices untouched
    assert values[2] == {**minimal, "venue": None, "trade_id": None, "conditions": []}
    assert pub.sent[0][2] == RawTrade("polygon", "AAPL", "XNAS", T0, T0 + 5, 42, "189.7100", "100", "5298",
                                      ("12", "37")).to_json()
    for v in values:
        jsonschema.validate(v, SCHEMA)


def test_bad_jsonl_lines_are_skipped_and_reported_with_their_line_numbers(tmp_path):
    f = tmp_path / "trades.jsonl"
    bad = [b"{not json", json.dumps(trade(price=189.71)).encode(), json.dumps(trade(extra=1)).encode(),
           json.dumps({k: v for k, v in trade().items() if k != "ts_recv"}).encode(),
           json.dumps(trade(ts_event=True)).encode(), json.dumps(trade(price="1e3")).encode(),
           json.dumps(trade(v=2)).encode(), json.dumps(trade(symbol="")).encode(), b'"just a string"',
           json.dumps(trade(symbol="caf\xe9")).encode()[:-3] + b"\xff\xfe}"]
    good = json.dumps(trade()).encode()
    f.write_bytes(b"\n".join([good, *bad, good]) + b"\n")
    result, pub, err = replay(f)
    assert (result.published, result.skipped) == (2, len(bad))
    reasons = dict(result.skipped_rows)
    assert sorted(reasons) == list(range(2, 2 + len(bad)))
    assert reasons[2].startswith("not JSON")
    assert "price 189.71 is not a decimal string" in reasons[3]
    assert reasons[4] == "unknown field 'extra'"
    assert reasons[5] == "missing ts_recv"
    assert "ts_event must be a non-negative integer" in reasons[6]
    assert "'1e3' is not a decimal" in reasons[7]
    assert reasons[8] == "v is 2, expected 1"
    assert "symbol must be a string" in reasons[9]
    assert reasons[10] == "not a JSON object"
    assert reasons[11].startswith("not JSON")
    assert "trades.jsonl:3: skipped: price 189.71" in err


def test_check_raw_trade_accepts_the_schemas_own_examples():
    for example in SCHEMA["examples"]:
        assert check_raw_trade(example) is None


def test_jsonl_limit_stops_early(tmp_path):
    f = tmp_path / "trades.jsonl"
    f.write_text("\n".join(json.dumps(trade(seq=i)) for i in range(10)))
    result, pub, _ = replay(f, limit=4)
    assert result.published == len(pub.sent) == 4


# --- Parquet -----------------------------------------------------------------------------------------------

def write_parquet(path, columns, row_group_size=None):
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def test_parquet_int_ns_and_decimals_become_exact_trades(tmp_path):
    f = write_parquet(tmp_path / "t.parquet", {
        "ts_event": pa.array([T0, T0 + 1, T0 + 2], pa.int64()),
        "price": pa.array([Decimal("1640.250"), Decimal("1640.5"), Decimal("0.000000001")], pa.decimal128(18, 9)),
        "size": pa.array(["8", "12.5", "1"], pa.string()),
    })
    result, pub, err = replay(f, CsvTradeSource(source="lake", symbol="ES", venue="XCME"))
    assert (result.published, result.skipped, err) == (3, 0, "")
    values = [json.loads(v) for _, _, v in pub.sent]
    base = T0 // 1_000_000 * 100_000  # the three trades share a millisecond: ranks 0, 1, 2
    assert [(v["ts_event"], v["ts_recv"], v["seq"], v["price"], v["size"]) for v in values] == [
        (T0, T0, base, "1640.25", "8"), (T0 + 1, T0 + 1, base + 1, "1640.5", "12.5"),
        (T0 + 2, T0 + 2, base + 2, "0.000000001", "1")]
    assert all(v["source"] == "lake" and v["symbol"] == "ES" and v["venue"] == "XCME" for v in values)
    assert {k for _, k, _ in pub.sent} == {b"ES"}
    for v in values:
        jsonschema.validate(v, SCHEMA)


@pytest.mark.parametrize("unit,tz,scale", [("s", None, NS), ("ms", "UTC", 1_000_000), ("us", "America/Chicago", 1000),
                                           ("ns", None, 1)])
def test_parquet_timestamp_columns_of_any_unit_are_ns_utc(tmp_path, unit, tz, scale):
    raw = [1378072800, 1378072801]
    f = write_parquet(tmp_path / "t.parquet", {"ts_event": pa.array(raw, pa.timestamp(unit, tz=tz)),
                                               "price": ["1640.25", "1640.5"], "size": pa.array([8, 2], pa.int32())})
    _, pub, _ = replay(f)
    assert [json.loads(v)["ts_event"] for _, _, v in pub.sent] == [r * scale for r in raw]
    assert [json.loads(v)["size"] for _, _, v in pub.sent] == ["8", "2"]


def test_parquet_symbol_and_trade_id_columns_and_batches(tmp_path):
    n = 7
    symbols = pa.array(["ES", None, "NQ", "ES", "NQ", "ES", "ES"]).dictionary_encode()  # as pandas categoricals
    f = write_parquet(tmp_path / "t.parquet", {
        "ts_event": pa.array([T0 + i for i in range(n)], pa.int64()),
        "price": [f"{5000 + i}.25" for i in range(n)], "size": pa.array([1] * n, pa.int64()),
        "symbol": symbols, "trade_id": [None, "a2", "a3", None, "a5", "a6", "a7"],
    }, row_group_size=3)
    result = ReplayResult()
    out = list(read_parquet_trades(f, CsvTradeSource(symbol="DEFAULT"), result, batch_size=2))
    assert result.skipped == 0
    assert [k for _, k, _ in out] == [b"ES", b"DEFAULT", b"NQ", b"ES", b"NQ", b"ES", b"ES"]
    values = [json.loads(v) for _, _, v in out]
    assert [v["trade_id"] for v in values] == [None, "a2", "a3", None, "a5", "a6", "a7"]
    base = T0 // 1_000_000 * 100_000  # one millisecond: each symbol ranks its own trades in it
    assert [v["seq"] for v in values] == [base, base, base, base + 1, base + 1, base + 2, base + 3]
    assert out[1][2] == RawTrade("replay", "DEFAULT", "XCME", T0 + 1, T0 + 1, base, "5001.25", "1", "a2").to_json()


def test_bad_parquet_rows_are_skipped_and_reported_with_their_row_numbers(tmp_path):
    f = write_parquet(tmp_path / "t.parquet", {
        "ts_event": pa.array([T0, None, T0, T0, T0, -1, T0], pa.int64()),
        "price": pa.array(["1.5", "1.5", None, "abc", "1234567890", "1.5", " 2.25 "]),
        "size": pa.array([Decimal("1"), Decimal("1"), Decimal("1"), Decimal("1"), Decimal("1"), Decimal("1"),
                          Decimal("0.0000000001")], pa.decimal128(20, 10)),
    })
    result, pub, err = replay(f)
    assert result.published == 1 and json.loads(pub.sent[0][2])["seq"] == T0 // 1_000_000 * 100_000
    reasons = dict(result.skipped_rows)
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7]
    assert "ts_event None" in reasons[2] and "null" in reasons[3] and "'abc'" in reasons[4]
    assert "'1234567890'" in reasons[5] and "ts_event -1" in reasons[6] and "DECIMAL(18,9)" in reasons[7]
    assert "t.parquet:4: skipped: price 'abc'" in err


def test_parquet_file_level_problems_are_one_replay_error(tmp_path):
    floats = write_parquet(tmp_path / "f.parquet", {"ts_event": [T0], "price": [1640.25], "size": ["1"]})
    with pytest.raises(ReplayError, match="price is double: binary floats are not exact"):
        replay(floats)
    no_size = write_parquet(tmp_path / "n.parquet", {"ts_event": [T0], "price": ["1"]})
    with pytest.raises(ReplayError, match="no column size"):
        replay(no_size)
    bad_ts = write_parquet(tmp_path / "b.parquet", {"ts_event": ["x"], "price": ["1"], "size": ["1"]})
    with pytest.raises(ReplayError, match="ts_event is string"):
        replay(bad_ts)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(ReplayError, match="not a readable Parquet file"):
        replay(junk)


# --- dispatch and the DBN hook -------------------------------------------------------------------------

def test_unknown_extension_is_a_replay_error_naming_the_formats(tmp_path):
    f = tmp_path / "trades.txt"
    f.write_text("DateTime,Price,Volume\n")
    with pytest.raises(ReplayError, match=r"unknown format; replay reads \.csv, \.jsonl, \.parquet, \.dbn"):
        replay(f)


def test_a_dbn_reader_plugs_in_by_suffix(tmp_path, monkeypatch):
    f = tmp_path / "glbx.dbn.zst"
    f.write_bytes(b"DBN")
    seen = {}

    def read_dbn(path, meta, result, on_skip):
        seen["path"] = path
        on_skip(2, "bad record")
        result.skipped += 1
        yield T0, b"ES", RawTrade("databento", "ES", "XCME", T0, T0, 1, "1640.25", "8").to_json()

    monkeypatch.setitem(READERS, ".dbn.zst", READERS[".dbn.zst"])
    register_reader(".dbn.zst", read_dbn)
    result, pub, err = replay(f)
    assert seen["path"] == f and (result.published, result.skipped) == (1, 1)
    assert pub.sent[0][1] == b"ES" and "glbx.dbn.zst:2: skipped: bad record" in err


def test_an_unavailable_dbn_reader_is_a_one_line_replay_error(tmp_path, monkeypatch):
    f = tmp_path / "x.dbn"
    f.write_bytes(b"DBN")
    monkeypatch.setitem(READERS, ".dbn", "connectors.no_such_module:read_dbn_trades")
    with pytest.raises(ReplayError, match=r"\.dbn files cannot be replayed yet") as exc:
        replay(f)
    assert "\n" not in str(exc.value)


def test_csv_cannot_be_taken_over_by_a_registered_reader():
    with pytest.raises(ValueError):
        register_reader(".csv", lambda *a: iter(()))


def test_a_dbn_file_replays_its_trades_in_canonical_form(tmp_path):
    from connectors.es_sample import Trade
    from tickflow_testkit.dbn_writer import write_dbn_file

    trades = [Trade(0, T0, "1640.25", "8"), Trade(1, T0 + NS, "1640.5", "2"), Trade(2, T0 + NS, "1640.5", "1")]
    for name in ("t.dbn", "t.dbn.zst"):
        f = tmp_path / name
        write_dbn_file(trades, f)
        result, pub, err = replay(f)
        assert (result.published, result.skipped, err) == (3, 0, "")
        got = [json.loads(v) for _, _, v in pub.sent]
        assert [(r["ts_event"], r["price"], r["size"], r["source"], r["symbol"]) for r in got] == [
            (T0, "1640.25", "8", "databento", "ES"), (T0 + NS, "1640.5", "2", "databento", "ES"),
            (T0 + NS, "1640.5", "1", "databento", "ES")]
        assert [k for _, k, _ in pub.sent] == [b"ES"] * 3
        for r in got:
            jsonschema.validate(r, SCHEMA)
