"""Turning rows of a trades CSV (``DateTime,Price,Volume`` in exchange-local time) into canonical raw trades.

Pure logic, no I/O: the replay command feeds it lines and publishes what comes out.

Time zones: the file's clock is local (US/Central for CME). Each local time is converted with the IANA
rules of its zone, so daylight-saving changes are honoured. A wall time that does not exist (the spring
gap) is a malformed row. A wall time that exists twice (the autumn overlap) is read as the first
occurrence until the file's clock steps backwards inside the overlap; from then until the overlap ends it
is read as the second occurrence. That is the only reading under which a file in time order stays in
order; a file that *starts* inside the second pass cannot be told apart and is read as the first.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from connectors.raw_contract import PositionNumbering, TradeEncoder, is_decimal_text

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_SECONDS = (2**63 - 1) // 1_000_000_000  # the last whole second a BIGINT of ns holds


class RowError(ValueError):
    """A CSV row that cannot become a trade; the message says why."""


class LocalClock:
    """Converts naive exchange-local timestamps (``YYYY-MM-DD HH:MM:SS[.fff…]``) to ns since epoch UTC."""

    def __init__(self, tz: str) -> None:
        self.zone = ZoneInfo(tz)
        self._cache: dict[str, tuple[datetime, int, int | None]] = {}
        self._last_local: datetime | None = None
        self._second_pass = False

    def _second(self, text: str) -> tuple[datetime, int, int | None]:
        """(naive local second, UTC seconds for the first occurrence, for the second or None)."""
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        try:
            if not text.isascii():  # strptime would take other scripts' digits
                raise ValueError
            naive = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise RowError(f"bad timestamp {text[:40]!r}, expected YYYY-MM-DD HH:MM:SS[.fraction]") from None
        first = naive.replace(tzinfo=self.zone, fold=0)
        second = naive.replace(tzinfo=self.zone, fold=1)
        # A wall time in the spring gap does not survive the round trip through UTC.
        try:
            if first.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None) != naive:
                raise RowError(f"local time {text} does not exist in {self.zone.key} (daylight-saving gap)")
        except OverflowError:  # years 1 and 9999 leave datetime's range in UTC
            raise RowError(f"local time {text} is outside the ns time range") from None
        utc_first = int((first - _EPOCH).total_seconds())
        utc_second = int((second - _EPOCH).total_seconds())
        if not 0 <= min(utc_first, utc_second) <= max(utc_first, utc_second) < MAX_SECONDS:
            raise RowError(f"local time {text} is outside the ns time range")
        result = (naive, utc_first, utc_second if utc_second != utc_first else None)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[text] = result
        return result

    def to_utc_ns(self, text: str) -> int:
        whole, _, frac = text.strip().partition(".")
        if frac and (not frac.isascii() or not frac.isdigit() or len(frac) > 9):
            raise RowError(f"bad fractional seconds in {text[:40]!r}")
        naive, utc_first, utc_second = self._second(whole)
        if utc_second is None:
            self._second_pass = False
            utc = utc_first
        else:
            if not self._second_pass and self._last_local is not None and naive < self._last_local:
                self._second_pass = True
            utc = utc_second if self._second_pass else utc_first
        self._last_local = naive
        return utc * 1_000_000_000 + (int(frac.ljust(9, "0")) if frac else 0)


@dataclass(frozen=True)
class CsvTradeSource:
    """What the file does not say and the canonical record needs."""

    source: str = "replay"
    symbol: str = "ES"
    venue: str | None = "XCME"
    tz: str = "America/Chicago"
    # The identity of the file being read (``replay.file_identity``): each row's trade_id is then
    # "<file_id>:<line or row number>". None: rows have no id and are identified by their seq.
    file_id: str | None = None


class CsvTradeNormalizer:
    """Stateful row → raw-trade JSON converter: each good row's ``seq`` is its place in time
    (``raw_contract.position_seq``), so the same file read twice gives the same trades and two files of
    different trades never share one."""

    HEADER = ["DateTime", "Price", "Volume"]

    def __init__(self, meta: CsvTradeSource) -> None:
        self.meta = meta
        self.clock = LocalClock(meta.tz)
        self.encoder = TradeEncoder(meta.source, meta.symbol, meta.venue)
        self.numbering = PositionNumbering()

    def normalize(self, line: str, line_no: int | None = None) -> tuple[int, bytes]:
        """(ts_event ns, JSON bytes) for one data line (number ``line_no`` of the file, 1 = the header);
        RowError if the row is malformed."""
        parts = line.rstrip("\r\n").split(",")
        if len(parts) != 3:
            raise RowError(f"expected 3 columns (DateTime,Price,Volume), got {len(parts)}")
        stamp, price, size = (p.strip() for p in parts)
        if not is_decimal_text(price):
            raise RowError(f"price {price!r} is not a decimal with at most 9+9 digits")
        if not is_decimal_text(size):
            raise RowError(f"volume {size!r} is not a decimal with at most 9+9 digits")
        ts = self.clock.to_utc_ns(stamp)
        try:
            seq = self.numbering.seq(self.meta.symbol, ts)
        except ValueError as exc:
            raise RowError(str(exc)) from None
        trade_id = f"{self.meta.file_id}:{line_no}" if self.meta.file_id and line_no else None
        return ts, self.encoder.encode(ts, ts, seq, price, size, trade_id)
