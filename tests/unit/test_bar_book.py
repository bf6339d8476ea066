"""The BarBook: emission on the watermark, revisions for late input, roll-ups that equal their 1m bars."""
from decimal import Decimal as D

from jobs.bar_book import BarBook
from jobs.bars import trade_bar

M = 60 * 10**9
T0 = 1378072800 * 10**9  # a Sunday 22:00 UTC; minute, 5m, 15m and hour aligned
MS = 10**6
LATENESS = 60 * 10**9


def book() -> BarBook:
    return BarBook("ES", None, LATENESS)


def part(ts, seq, price, size="1"):
    return trade_bar("ES", ts, seq, D(price), D(size), "replay")


def wm_of(ts_ns):
    return ts_ns // MS


def test_bars_are_emitted_when_the_watermark_reaches_their_last_millisecond():
    b = book()
    assert b.add(part(T0 + 1, 1, "10")) == []
    assert b.advance(wm_of(T0 + M) - 2) == []
    emitted = b.advance(wm_of(T0 + M) - 1)
    assert [(x.timeframe, x.revision) for x in emitted] == [("1m", 0)]


def test_roll_ups_equal_their_minutes_and_emit_in_timeframe_order():
    b = book()
    for i in range(5):
        b.add(part(T0 + i * M + 1, i + 1, str(10 + i), str(i + 1)))
    emitted = b.advance(wm_of(T0 + 5 * M) - 1)
    assert [x.timeframe for x in emitted] == ["1m"] * 5 + ["5m"]
    five = emitted[-1]
    assert (five.open, five.high, five.low, five.close) == (D("10"), D("14"), D("10"), D("14"))
    assert five.volume == D("15") and five.trade_count == 5
    assert five.notional == sum(x.notional for x in emitted[:5])


def test_late_input_revises_every_emitted_bar_that_contains_it_and_only_those():
    b = book()
    b.add(part(T0 + 10, 1, "10"))
    b.advance(wm_of(T0 + M) - 1)                      # 1m emitted; 5m, 15m, 1h, 1d still open
    revised = b.add(part(T0 + 5, 2, "9"))             # late, earlier than the open
    assert [(x.timeframe, x.revision) for x in revised] == [("1m", 1)]
    assert (revised[0].open, revised[0].low, revised[0].trade_count) == (D("9"), D("9"), 2)
    later = b.advance(wm_of(T0 + 5 * M) - 1)
    assert [(x.timeframe, x.revision, x.trade_count) for x in later] == [("5m", 0, 2)]


def test_bars_are_forgotten_after_the_allowed_lateness():
    b = book()
    b.add(part(T0 + 10, 1, "10"))
    b.advance(wm_of(T0 + M) - 1)
    assert ("1m", T0) in b.bars
    b.advance(wm_of(T0 + M) - 1 + LATENESS // MS)
    assert ("1m", T0) not in b.bars


def test_timers_cover_emission_and_expiry():
    b = book()
    b.add(part(T0 + 10, 1, "10"))
    assert wm_of(T0 + M) - 1 in b.timers_ms()
    b.advance(wm_of(T0 + M) - 1)
    assert wm_of(T0 + M) - 1 + LATENESS // MS in b.timers_ms()


def test_daily_bar_follows_the_venue_session():
    b = BarBook("ES", "CMES", LATENESS)
    b.add(part(T0 + 10, 1, "10"))
    day = [x for x in b.bars.values() if x.timeframe == "1d"][0]
    assert (day.bucket_start, day.bucket_end) == (T0, T0 + 19 * 3600 * 10**9)
