package io.tickflow.indicators;

/** What the indicators read from a bar (doubles: indicators are analytics, bars stay exact). */
public final class BarPoint {
    public final double high;
    public final double low;
    public final double close;
    public final double volume;
    public final double vwap;
    /** The trading day's start (ns), for the anchored VWAP. */
    public final long day;

    public BarPoint(double high, double low, double close, double volume, double vwap, long day) {
        this.high = high;
        this.low = low;
        this.close = close;
        this.volume = volume;
        this.vwap = vwap;
        this.day = day;
    }
}
