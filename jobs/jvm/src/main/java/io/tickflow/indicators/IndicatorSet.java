package io.tickflow.indicators;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;

/**
 * Every indicator of one series as O(1)-per-bar state machines, the JVM twin of jobs/indicator_math.py: the
 * same definitions (TA-Lib's, seeds included) and the same floating-point operations in the same order, so
 * the values are bit for bit the Python reference's. Set 1 is the original set; set 2 adds the slow
 * stochastic. A value is {@code NaN} while its indicator warms up (written as JSON null); with inputs below
 * 1e18 no indicator can produce a NaN of its own.
 *
 * <p>State is written field by field ({@link #write}); a set-2 state carries the stochastic, a set-1 state
 * does not, and a set 2 restored from a set-1 state starts its stochastic from nothing (a set 1 restored
 * from a set-2 state drops it), as the Python reference does with its state keyed by indicator name.
 */
public final class IndicatorSet {
    /** The output fields, in the order of the md.indicators record. */
    public static final String[] FIELDS = {"sma_20", "sma_50", "ema_12", "ema_26", "rsi_14", "atr_14", "vwap_day",
            "macd", "macd_signal", "macd_hist", "bb_upper", "bb_mid", "bb_lower", "stoch_k", "stoch_d"};
    /** Fields of set 1 (the first {@code SET_1_FIELDS} of {@link #FIELDS}); set 2 has all. */
    public static final int SET_1_FIELDS = 13;

    private final int version;
    final Window sma20 = new Window(20);
    final Window sma50 = new Window(50);
    final Ema ema12 = new Ema(12);
    final Ema ema26 = new Ema(26);
    final Macd macd = new Macd(12, 26, 9);
    final Rsi rsi14 = new Rsi(14);
    final Window bollinger = new Window(20);
    final Atr atr14 = new Atr(14);
    final AnchoredVwap vwapDay = new AnchoredVwap();
    Stochastic stoch;

    public IndicatorSet(int version) {
        this.version = version;
        this.stoch = version >= 2 ? new Stochastic(14, 3, 3) : null;
    }

    public int version() {
        return version;
    }

    public int fieldCount() {
        return version >= 2 ? FIELDS.length : SET_1_FIELDS;
    }

    /** Apply one bar; writes {@link #fieldCount()} values into {@code out} in {@link #FIELDS} order. */
    public void update(BarPoint p, double[] out) {
        double c = p.close;
        out[0] = sma20.smaOf(c);
        out[1] = sma50.smaOf(c);
        out[2] = ema12.update(c);
        out[3] = ema26.update(c);
        out[4] = rsi14.update(c);
        out[5] = atr14.update(p.high, p.low, c);
        out[6] = vwapDay.update(p.vwap, p.volume, p.day);
        macd.update(c, out, 7);
        bollinger.push(c);
        if (bollinger.full()) {
            double mean = bollinger.total / bollinger.n;
            double variance = bollinger.totalSq / bollinger.n - mean * mean;
            double sd = variance > 0 ? Math.sqrt(variance) : 0.0;
            out[10] = mean + 2.0 * sd;
            out[11] = mean;
            out[12] = mean - 2.0 * sd;
        } else {
            out[10] = out[11] = out[12] = Double.NaN;
        }
        if (stoch != null) {
            stoch.update(p.high, p.low, c, out, 13);
        }
    }

    /** A copy of this set's state as a set of {@code version} (see the class comment). */
    public IndicatorSet copyAs(int newVersion) {
        IndicatorSet s = new IndicatorSet(newVersion);
        s.sma20.copyFrom(sma20);
        s.sma50.copyFrom(sma50);
        s.ema12.copyFrom(ema12);
        s.ema26.copyFrom(ema26);
        s.macd.copyFrom(macd);
        s.rsi14.copyFrom(rsi14);
        s.bollinger.copyFrom(bollinger);
        s.atr14.copyFrom(atr14);
        s.vwapDay.copyFrom(vwapDay);
        if (newVersion >= 2 && stoch != null) {
            s.stoch.copyFrom(stoch);
        }
        return s;
    }

    void write(ByteBuffer out) {
        sma20.write(out);
        sma50.write(out);
        ema12.write(out);
        ema26.write(out);
        macd.write(out);
        rsi14.write(out);
        bollinger.write(out);
        atr14.write(out);
        vwapDay.write(out);
        out.put((byte) (stoch != null ? 1 : 0));
        if (stoch != null) {
            stoch.write(out);
        }
    }

    /** A state written by {@link #write}, as a set of {@code version}. */
    static IndicatorSet read(ByteBuffer in, int version) {
        IndicatorSet s = new IndicatorSet(version);
        s.sma20.read(in);
        s.sma50.read(in);
        s.ema12.read(in);
        s.ema26.read(in);
        s.macd.read(in);
        s.rsi14.read(in);
        s.bollinger.read(in);
        s.atr14.read(in);
        s.vwapDay.read(in);
        if (in.get() != 0) {
            Stochastic st = new Stochastic(14, 3, 3);
            st.read(in);
            if (version >= 2) {
                s.stoch = st;
            }
        }
        return s;
    }

    /** Python's max()/min() of two floats: the first argument unless the second is strictly beyond it. */
    static double pyMax(double a, double b) {
        return b > a ? b : a;
    }

    static double pyMin(double a, double b) {
        return b < a ? b : a;
    }

    /** The last n values with a running sum and sum of squares (added before the oldest is taken off). */
    static final class Window {
        final int n;
        final double[] values;
        int start;
        int size;
        double total;
        double totalSq;

        Window(int n) {
            this.n = n;
            this.values = new double[n];
        }

        void push(double x) {
            total += x;
            totalSq += x * x;
            if (size < n) {
                int j = start + size;
                values[j < n ? j : j - n] = x;
                size++;
            } else {
                double old = values[start];
                values[start] = x;
                start = start + 1 == n ? 0 : start + 1;
                total -= old;
                totalSq -= old * old;
            }
        }

        boolean full() {
            return size == n;
        }

        double smaOf(double x) {
            push(x);
            return full() ? total / n : Double.NaN;
        }

        double get(int i) {
            int j = start + i;
            return values[j < n ? j : j - n];
        }

        void copyFrom(Window w) {
            System.arraycopy(w.values, 0, values, 0, n);
            start = w.start;
            size = w.size;
            total = w.total;
            totalSq = w.totalSq;
        }

        void write(ByteBuffer out) {
            out.put((byte) size);
            for (int i = 0; i < size; i++) {
                out.putDouble(get(i));
            }
            out.putDouble(total);
            out.putDouble(totalSq);
        }

        void read(ByteBuffer in) {
            size = Byte.toUnsignedInt(in.get());
            if (size > n) {
                throw new BufferUnderflowException();
            }
            start = 0;
            for (int i = 0; i < size; i++) {
                values[i] = in.getDouble();
            }
            total = in.getDouble();
            totalSq = in.getDouble();
        }
    }

    /** TA-Lib's EMA: the SMA of the first n values, then {@code ema += (x - ema) * 2/(n+1)}. */
    static final class Ema {
        final int n;
        final double k;
        double seedSum;
        int count;
        double value = Double.NaN;

        Ema(int n) {
            this.n = n;
            this.k = 2.0 / (n + 1);
        }

        double update(double x) {
            if (Double.isNaN(value)) {
                seedSum += x;
                count++;
                if (count == n) {
                    value = seedSum / n;
                }
                return value;
            }
            value = (x - value) * k + value;
            return value;
        }

        void copyFrom(Ema e) {
            seedSum = e.seedSum;
            count = e.count;
            value = e.value;
        }

        void write(ByteBuffer out) {
            out.putDouble(seedSum);
            out.putInt(count);
            out.putDouble(value);
        }

        void read(ByteBuffer in) {
            seedSum = in.getDouble();
            count = in.getInt();
            value = in.getDouble();
        }
    }

    /** MACD aligned as TA-Lib aligns it: both EMAs begin at bar {@code slow}. */
    static final class Macd {
        final int fastN;
        final int slowN;
        final Window recent;
        final Ema fast;
        final Ema slow;
        final Ema signal;
        int count;

        Macd(int fast, int slow, int signal) {
            this.fastN = fast;
            this.slowN = slow;
            this.recent = new Window(fast);
            this.fast = new Ema(fast);
            this.slow = new Ema(slow);
            this.signal = new Ema(signal);
        }

        void update(double x, double[] out, int at) {
            count++;
            recent.push(x);
            double s = slow.update(x);
            out[at] = out[at + 1] = out[at + 2] = Double.NaN;
            if (Double.isNaN(s)) {
                return;
            }
            double f;
            if (count == slowN) {
                f = recent.total / fastN;
                fast.value = f;
            } else {
                f = fast.update(x);
            }
            double line = f - s;
            double sig = signal.update(line);
            if (!Double.isNaN(sig)) {
                out[at] = line;
                out[at + 1] = sig;
                out[at + 2] = line - sig;
            }
        }

        void copyFrom(Macd m) {
            recent.copyFrom(m.recent);
            fast.copyFrom(m.fast);
            slow.copyFrom(m.slow);
            signal.copyFrom(m.signal);
            count = m.count;
        }

        void write(ByteBuffer out) {
            recent.write(out);
            fast.write(out);
            slow.write(out);
            signal.write(out);
            out.putInt(count);
        }

        void read(ByteBuffer in) {
            recent.read(in);
            fast.read(in);
            slow.read(in);
            signal.read(in);
            count = in.getInt();
        }
    }

    /** Wilder's RSI as TA-Lib computes it (unstable period 0). */
    static final class Rsi {
        final int n;
        boolean hasPrev;
        double prev;
        double gain;
        double loss;
        int changes;

        Rsi(int n) {
            this.n = n;
        }

        double update(double x) {
            if (!hasPrev) {
                hasPrev = true;
                prev = x;
                return Double.NaN;
            }
            double change = x - prev;
            prev = x;
            double g;
            double l;
            if (change > 0) {
                g = change;
                l = 0.0;
            } else {
                g = 0.0;
                l = -change;
            }
            changes++;
            if (changes < n) {
                gain += g;
                loss += l;
                return Double.NaN;
            }
            if (changes == n) {
                gain = (gain + g) / n;
                loss = (loss + l) / n;
            } else {
                gain = (gain * (n - 1) + g) / n;
                loss = (loss * (n - 1) + l) / n;
            }
            double total = gain + loss;
            return total != 0 ? 100.0 * gain / total : 0.0;
        }

        void copyFrom(Rsi r) {
            hasPrev = r.hasPrev;
            prev = r.prev;
            gain = r.gain;
            loss = r.loss;
            changes = r.changes;
        }

        void write(ByteBuffer out) {
            out.put((byte) (hasPrev ? 1 : 0));
            out.putDouble(prev);
            out.putDouble(gain);
            out.putDouble(loss);
            out.putInt(changes);
        }

        void read(ByteBuffer in) {
            hasPrev = in.get() != 0;
            prev = in.getDouble();
            gain = in.getDouble();
            loss = in.getDouble();
            changes = in.getInt();
        }
    }

    /** Wilder's average true range as TA-Lib computes it. */
    static final class Atr {
        final int n;
        boolean hasPrev;
        double prevClose;
        double sum;
        int count;
        double value = Double.NaN;

        Atr(int n) {
            this.n = n;
        }

        double update(double high, double low, double close) {
            if (!hasPrev) {
                hasPrev = true;
                prevClose = close;
                return Double.NaN;
            }
            double tr = pyMax(high, prevClose) - pyMin(low, prevClose);
            prevClose = close;
            if (Double.isNaN(value)) {
                sum += tr;
                count++;
                if (count == n) {
                    value = sum / n;
                }
                return value;
            }
            value = (value * (n - 1) + tr) / n;
            return value;
        }

        void copyFrom(Atr a) {
            hasPrev = a.hasPrev;
            prevClose = a.prevClose;
            sum = a.sum;
            count = a.count;
            value = a.value;
        }

        void write(ByteBuffer out) {
            out.put((byte) (hasPrev ? 1 : 0));
            out.putDouble(prevClose);
            out.putDouble(sum);
            out.putInt(count);
            out.putDouble(value);
        }

        void read(ByteBuffer in) {
            hasPrev = in.get() != 0;
            prevClose = in.getDouble();
            sum = in.getDouble();
            count = in.getInt();
            value = in.getDouble();
        }
    }

    /** Slow stochastic (k, smooth, d): fast %K over k bars, %K = SMA(fast %K), %D = SMA(%K). */
    static final class Stochastic {
        final int k;
        final Window highs;
        final Window lows;
        final Window slowK;
        final Window slowD;

        Stochastic(int k, int smooth, int d) {
            this.k = k;
            this.highs = new Window(k);
            this.lows = new Window(k);
            this.slowK = new Window(smooth);
            this.slowD = new Window(d);
        }

        void update(double high, double low, double close, double[] out, int at) {
            highs.push(high);
            lows.push(low);
            out[at] = out[at + 1] = Double.NaN;
            if (!highs.full()) {
                return;
            }
            double hh = highs.get(0);
            double ll = lows.get(0);
            for (int i = 1; i < k; i++) {
                hh = pyMax(hh, highs.get(i));
                ll = pyMin(ll, lows.get(i));
            }
            double fastK = hh != ll ? 100.0 * (close - ll) / (hh - ll) : 0.0;
            double slowKValue = slowK.smaOf(fastK);
            if (Double.isNaN(slowKValue)) {
                return;
            }
            double d = slowD.smaOf(slowKValue);
            if (!Double.isNaN(d)) {
                out[at] = slowKValue;
                out[at + 1] = d;
            }
        }

        void copyFrom(Stochastic s) {
            highs.copyFrom(s.highs);
            lows.copyFrom(s.lows);
            slowK.copyFrom(s.slowK);
            slowD.copyFrom(s.slowD);
        }

        void write(ByteBuffer out) {
            highs.write(out);
            lows.write(out);
            slowK.write(out);
            slowD.write(out);
        }

        void read(ByteBuffer in) {
            highs.read(in);
            lows.read(in);
            slowK.read(in);
            slowD.read(in);
        }
    }

    /** Σ(vwap × volume) / Σ volume since the start of the bar's trading day. */
    static final class AnchoredVwap {
        boolean hasDay;
        long day;
        double notional;
        double volume;

        double update(double vwap, double barVolume, long barDay) {
            if (!hasDay || barDay != day) {
                hasDay = true;
                day = barDay;
                notional = 0.0;
                volume = 0.0;
            }
            notional += vwap * barVolume;
            volume += barVolume;
            return volume > 0 ? notional / volume : Double.NaN;
        }

        void copyFrom(AnchoredVwap a) {
            hasDay = a.hasDay;
            day = a.day;
            notional = a.notional;
            volume = a.volume;
        }

        void write(ByteBuffer out) {
            out.put((byte) (hasDay ? 1 : 0));
            out.putLong(day);
            out.putDouble(notional);
            out.putDouble(volume);
        }

        void read(ByteBuffer in) {
            hasDay = in.get() != 0;
            day = in.getLong();
            notional = in.getDouble();
            volume = in.getDouble();
        }
    }
}
