"""Trading days: CME sessions from exchange-calendars, the next-session rule, and the table the JVM reads."""
from jobs.trading_days import DAY_NS, sessions_spec, trading_days

T0 = 1378072800 * 10**9  # 2013-09-01 22:00:00 UTC = Sunday 17:00 CDT
H = 3600 * 10**9


def test_cme_trading_day_starts_five_pm_central_the_evening_before():
    days = trading_days("CMES")
    # Sunday 17:00 CDT opens the Labor Day session, which closes early, 12:00 CDT
    assert days.session(T0 + 83_000_000) == (T0, T0 + 19 * H)
    # Monday 17:00 CDT opens Tuesday's session, closing 17:00 CDT Tuesday
    tue_open = T0 + 24 * H
    assert days.session(tue_open) == (tue_open, tue_open + 24 * H)


def test_trade_between_sessions_belongs_to_the_next_session():
    between = T0 + 20 * H  # Monday 13:00 CDT, after the early close
    assert trading_days("CMES").session(between)[0] == T0 + 24 * H


def test_utc_days_without_calendar():
    assert trading_days(None).session(T0 + 5) == (1378080000 * 10**9 - DAY_NS, 1378080000 * 10**9)


def test_sessions_spec_lists_each_venue_sorted_and_disjoint():
    spec = sessions_spec({"XNYS": "XNYS", "XCME": "CMES"})
    venues = dict(part.split("=", 1) for part in spec.split(";"))
    assert sorted(venues) == ["XCME", "XNYS"]
    pairs = [tuple(map(int, p.split(":"))) for p in venues["XCME"].split(",")]
    assert (T0, T0 + 19 * H) in pairs
    assert all(o < c for o, c in pairs) and all(pairs[i][1] <= pairs[i + 1][0] for i in range(len(pairs) - 1))
