"""Databento's wire pieces shared by the feed, the gateway simulator and DBN files.

- Raw API control lines: ``key=value|key=value\\n`` text, the CRAM response, the client's request lines.
- ``DbnFrameDecoder``: splits a DBN byte stream into records by the length in each record header and
  decodes the ones tickflow uses with ``databento_dbn.DBNDecoder``. ``DBNDecoder`` alone rejects a whole
  buffer (and loses the records in it) on one bad record, and panics on a known record type of the wrong
  size, so every record is framed and checked here first: a well-framed bad record becomes a ``BadFrame``
  carrying its bytes; a length that cannot be a record breaks the framing and raises ``FramingError``.
- Encoding simulated trades, quotes and bars as DBN records, and ``write_dbn_file``/``iter_dbn_file``.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import databento_dbn as dbn
from databento_dbn import v1 as dbn_v1
from databento_dbn import v2 as dbn_v2

DEFAULT_DATASET = "GLBX.MDP3"
PUBLISHER_GLBX_MDP3 = 1  # Databento's publisher id of CME Globex MDP 3.0 (dataset GLBX.MDP3)
#: simulated capture latency: ts_recv = ts_event + this, for gateway records and files alike
CAPTURE_LATENCY_NS = 20_000
HEADER_BYTES = 16  # length (u8, in 4-byte words), rtype (u8), publisher_id (u16), instrument_id (u32), ts_event (u64)
PRICE_SCALE = Decimal(dbn.FIXED_PRICE_SCALE)
#: a metadata header claiming more is refused rather than buffered (a file with many symbol mappings
#: needs a few MiB at most)
MAX_METADATA_BYTES = 64 << 20


# --- Raw API control lines ---------------------------------------------------------------------------

def parse_control(line: bytes | str) -> dict[str, str]:
    """Fields of one control line (``lsg_version=…``, ``cram=…``, ``success=1|session_id=…``)."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    fields: dict[str, str] = {}
    for token in text.strip().split("|"):
        if token:
            key, _, value = token.partition("=")
            fields[key] = value
    return fields


def cram_response(challenge: str, api_key: str) -> str:
    """The answer to ``cram=<challenge>``: sha256 hex of ``"{challenge}|{key}"``, ``-``, the key's last 5 chars."""
    digest = hashlib.sha256(f"{challenge}|{api_key}".encode()).hexdigest()
    return f"{digest}-{api_key[-5:]}"


def auth_line(challenge: str, api_key: str, dataset: str, heartbeat_interval_s: int | None = None) -> bytes:
    line = f"auth={cram_response(challenge, api_key)}|dataset={dataset}|encoding=dbn|ts_out=0"
    if heartbeat_interval_s is not None:
        line += f"|heartbeat_interval_s={heartbeat_interval_s}"
    return (line + "\n").encode()


def subscription_line(schema: str, symbols: Sequence[str], start_ns: int | None = None) -> bytes:
    line = f"schema={schema}|stype_in=raw_symbol|symbols={','.join(symbols)}"
    if start_ns is not None:
        line += f"|start={start_ns}"
    return (line + "\n").encode()


START_SESSION = b"start_session=0\n"  # what Databento's own clients send; the simulator accepts any value


# --- framing and decoding ----------------------------------------------------------------------------

class FramingError(ValueError):
    """The byte stream cannot be split into records any more (a corrupt length or header).

    ``items`` holds the records framed before the break, so that none is lost.
    """

    def __init__(self, message: str, items: list[tuple[bytes, Any]] | None = None) -> None:
        super().__init__(message)
        self.items = items or []


@dataclass(frozen=True)
class BadFrame:
    """A well-framed record that cannot be decoded: unknown type, or the wrong size for its type."""

    detail: str


@dataclass(frozen=True)
class Skipped:
    """A valid record of a type tickflow does not use (definitions, statistics, status, MBO, …)."""

    rtype: int
    name: str


R = dbn.RType
KNOWN_RTYPES = {int(r): r.name for r in R.variants()}
BAR_TIMEFRAMES = {int(R.OHLCV_1S): "1s", int(R.OHLCV_1M): "1m", int(R.OHLCV_1H): "1h", int(R.OHLCV_1D): "1d"}


def record_sizes(version: int, ts_out: bool) -> dict[int, int]:
    """Byte size of each record type tickflow decodes, in a DBN stream of ``version``."""
    mod: Any = {1: dbn_v1, 2: dbn_v2}.get(version, dbn)
    extra = 8 if ts_out else 0
    sizes = {int(R.MBP_0): mod.TradeMsg.size_hint, int(R.MBP_1): mod.MBP1Msg.size_hint,
             int(R.SYMBOL_MAPPING): mod.SymbolMappingMsg.size_hint, int(R.SYSTEM): mod.SystemMsg.size_hint,
             int(R.ERROR): mod.ErrorMsg.size_hint}
    sizes.update({rtype: mod.OHLCVMsg.size_hint for rtype in BAR_TIMEFRAMES})
    return {rtype: size + extra for rtype, size in sizes.items()}


Item = Any  # a databento_dbn record, dbn.Metadata, BadFrame or Skipped


class DbnFrameDecoder:
    """Incremental DBN decoder: ``feed(bytes)`` → ``[(record bytes, decoded item), …]`` in stream order.

    The first item is the ``Metadata`` (with its bytes). Partial records wait for the next ``feed``.
    Raises ``FramingError`` when the stream is not DBN or a record length is impossible.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._records: dbn.DBNDecoder | None = None
        self._sizes: dict[int, int] = {}
        self.metadata: dbn.Metadata | None = None
        self.offset = 0  # stream offset of the first byte not yet consumed

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet a whole record (a truncated tail at the end of a file)."""
        return bytes(self._buf)

    def feed(self, data: bytes) -> list[tuple[bytes, Item]]:
        self._buf += data
        out: list[tuple[bytes, Item]] = []
        pos = 0
        if self.metadata is None:
            pos = self._read_metadata(out)
            if self.metadata is None:
                return out
        buf, n = self._buf, len(self._buf)
        frames: list[bytes] = []
        slots: list[int] = []
        broken = ""
        while pos < n:
            length = buf[pos] * 4
            if length < HEADER_BYTES:
                broken = (f"DBN record at stream offset {self.offset + pos} claims {length} bytes, "
                          f"less than a record header")
                break
            if n - pos < length:
                break
            frame = bytes(buf[pos:pos + length])
            rtype = frame[1]
            expected = self._sizes.get(rtype)
            if expected is None:
                name = KNOWN_RTYPES.get(rtype)
                item = Skipped(rtype, name) if name else BadFrame(f"unknown DBN record type 0x{rtype:02x}")
                out.append((frame, item))
            elif length != expected:
                out.append((frame, BadFrame(f"{KNOWN_RTYPES[rtype]} record of {length} bytes, expected {expected}")))
            else:
                slots.append(len(out))
                out.append((frame, None))
                frames.append(frame)
            pos += length
        del buf[:pos]
        self.offset += pos
        for slot, item in zip(slots, self._decode(frames)):
            out[slot] = (out[slot][0], item)
        if broken:
            raise FramingError(broken, out)
        return out

    def _read_metadata(self, out: list[tuple[bytes, Item]]) -> int:
        buf = self._buf
        if len(buf) < 8:
            if not b"DBN".startswith(bytes(buf[:3])):
                raise FramingError("stream does not start with a DBN metadata header")
            return 0
        if bytes(buf[:3]) != b"DBN":
            raise FramingError("stream does not start with a DBN metadata header")
        total = 8 + int.from_bytes(buf[4:8], "little")
        if total > MAX_METADATA_BYTES:
            raise FramingError(f"DBN metadata claims {total} bytes, more than {MAX_METADATA_BYTES}")
        if len(buf) < total:
            return 0
        raw = bytes(buf[:total])
        try:
            meta = dbn.Metadata.decode(raw)
        except dbn.DBNError as exc:
            raise FramingError(f"DBN metadata cannot be decoded: {exc}") from None
        if meta.version > dbn.DBN_VERSION:
            raise FramingError(f"DBN version {meta.version} is newer than this decoder ({dbn.DBN_VERSION})")
        self.metadata = meta
        self._sizes = record_sizes(meta.version, meta.ts_out)
        self._records = self._new_record_decoder()
        self.offset += total
        out.append((raw, meta))
        return total

    def _new_record_decoder(self) -> dbn.DBNDecoder:
        assert self.metadata is not None
        return dbn.DBNDecoder(has_metadata=False, ts_out=self.metadata.ts_out, input_version=self.metadata.version)

    def _decode(self, frames: list[bytes]) -> list[Item]:
        if not frames:
            return []
        assert self._records is not None
        try:
            items: list[Item] = self._records.write_and_decode(b"".join(frames))
            if len(items) == len(frames):
                return items
        except dbn.DBNError:
            pass
        # one record spoilt the batch: decode one by one so the others survive
        items = []
        for frame in frames:
            self._records = self._new_record_decoder()
            try:
                decoded = self._records.write_and_decode(frame)
                items.append(decoded[0] if len(decoded) == 1 else BadFrame("record did not decode to one record"))
            except dbn.DBNError as exc:
                items.append(BadFrame(f"record cannot be decoded: {exc}"))
        self._records = self._new_record_decoder()
        return items


def _chunks(path: Path, chunk_size: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        yield from decompressed_chunks(f, path.suffix == ".zst", chunk_size)


def decompressed_chunks(f: BinaryIO, compressed: bool, chunk_size: int) -> Iterator[bytes]:
    """The bytes of ``f`` in chunks, zstd-decompressed when ``compressed`` (FramingError when it is not zstd)."""
    if not compressed:
        while chunk := f.read(chunk_size):
            yield chunk
        return
    try:
        import zstandard  # present with apache-beam (a dependency of apache-flink)
    except ImportError:  # pragma: no cover - depends on the environment
        raise RuntimeError("reading .zst files needs the 'zstandard' module") from None
    reader = zstandard.ZstdDecompressor().stream_reader(f)
    while True:
        try:
            chunk = reader.read(chunk_size)
        except zstandard.ZstdError as exc:
            raise FramingError(f"not a valid zstd stream: {exc}") from None
        if not chunk:
            return
        yield chunk


def iter_dbn_file(path: Path | str, chunk_size: int = 1 << 20) -> Iterator[list[tuple[bytes, Item]]]:
    """The (record bytes, item) pairs of a ``.dbn`` or ``.dbn.zst`` file, one list per chunk read."""
    path = Path(path)
    return iter_dbn_chunks(_chunks(path, chunk_size), path.name)


def iter_dbn_chunks(chunks: Iterable[bytes], name: str) -> Iterator[list[tuple[bytes, Item]]]:
    """The (record bytes, item) pairs of a DBN byte stream given in chunks, one list per chunk.

    A broken framing or a truncated last record ends the stream with one ``BadFrame`` carrying the bytes
    that could not be framed (at most 64 KiB of them); ``name`` names the stream in its detail.
    """
    decoder = DbnFrameDecoder()
    source = iter(chunks)
    while True:
        try:
            chunk = next(source, None)  # a .zst stream that is not zstd fails here
            if chunk is None:
                break
            items = decoder.feed(chunk)
        except FramingError as exc:
            yield exc.items + [(decoder.pending[:1 << 16], BadFrame(f"{name}: {exc}; rest of the file skipped"))]
            return
        if items:
            yield items
    if decoder.pending:
        yield [(decoder.pending[:1 << 16], BadFrame(f"{name}: truncated record at the end of the file"))]
