package io.tickflow.indicators;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link IndicatorBook} over a recorded sequence of md.bars records, outside Flink: what the parity test
 * (tests/unit/test_indicator_parity.py) compares with the Python reference, and the JVM-alone figure of
 * bench/indicators_throughput.py.
 *
 * <pre>
 * java -cp tickflow-udfs.jar io.tickflow.indicators.IndicatorReplay [--set 1|2] [--keep 16] [--now-ns N]
 *      [--calendars FILE] [--symbol-calendars SYM=CAL,…] [--repeat N]   &lt; records
 * java -cp tickflow-udfs.jar io.tickflow.indicators.IndicatorReplay --repr   &lt; doubles
 * </pre>
 * A record is one line: key, value (base64, "-" for none), partition, offset, separated by tabs; "set N" on a
 * line of its own switches the indicator set from there on (an upgrade). Each output record is one line:
 * "indicators" or "dlq", key and value (base64). With --repeat N the records run N times, each time under
 * empty state, and only the rate is printed: {"records": …, "per_s": …, "per_cpu_s": …} (per second of
 * wall time, and of the thread's CPU time, which a busy machine does not dilute).
 * With --repr each input line is a double's bits in hex and each output line Python's repr of it.
 */
public final class IndicatorReplay {
    private IndicatorReplay() {
    }

    public static void main(String[] args) throws IOException {
        int set = 1;
        int keep = 16;
        long nowNs = 0;
        int repeat = 0;
        String calendars = "";
        String symbolCalendars = "";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--set" -> set = Integer.parseInt(args[++i]);
                case "--keep" -> keep = Integer.parseInt(args[++i]);
                case "--now-ns" -> nowNs = Long.parseLong(args[++i]);
                case "--repeat" -> repeat = Integer.parseInt(args[++i]);
                case "--calendars" -> calendars = Files.readString(Path.of(args[++i]));
                case "--symbol-calendars" -> symbolCalendars = args[++i];
                case "--repr" -> {
                    repr();
                    return;
                }
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        SymbolDays days = SymbolDays.parse(calendars, symbolCalendars);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        List<String[]> records = new ArrayList<>();
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            if (!line.isEmpty()) {
                records.add(line.split("\t", -1));
            }
        }
        if (repeat > 0) {
            bench(records, set, keep, days, repeat);
            return;
        }
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.US_ASCII));
        Map<String, byte[]> states = new HashMap<>();
        IndicatorBook book = book(set, keep, days);
        Base64.Encoder b64 = Base64.getEncoder();
        for (String[] r : records) {
            if (r.length == 1 && r[0].startsWith("set ")) {
                book = book(Integer.parseInt(r[0].substring(4)), keep, days);
                continue;
            }
            byte[] key = bytes(r[0]);
            String series = IndicatorBook.seriesKey(key);
            IndicatorBook.Step step = book.apply(series, key, bytes(r[1]), Integer.valueOf(r[2]), Long.valueOf(r[3]),
                    states.get(series), nowNs);
            if (step.deadLetter != null) {
                out.write("dlq\t" + b64.encodeToString(step.deadLetter.key) + "\t"
                        + b64.encodeToString(step.deadLetter.value) + "\n");
                continue;
            }
            states.put(series, step.state);
            for (IndicatorBook.Out o : step.indicators) {
                out.write("indicators\t" + b64.encodeToString(o.key) + "\t" + b64.encodeToString(o.value) + "\n");
            }
        }
        out.flush();
    }

    private static IndicatorBook book(int set, int keep, SymbolDays days) {
        return new IndicatorBook(new IndicatorBook.Settings(set, keep, "ind-1", "indicators",
                new IndicatorRecords.Limits(256 * 1024, 4096, 500)), days);
    }

    private static byte[] bytes(String b64) {
        return b64.equals("-") ? null : Base64.getDecoder().decode(b64);
    }

    /** The state machine alone: every record, with its state in a map as keyed state would hold it. */
    private static void bench(List<String[]> lines, int set, int keep, SymbolDays days, int repeat) {
        IndicatorBook book = book(set, keep, days);
        List<Object[]> records = new ArrayList<>(lines.size());
        for (String[] r : lines) {
            byte[] key = bytes(r[0]);
            records.add(new Object[] {IndicatorBook.seriesKey(key), key, bytes(r[1]), Integer.valueOf(r[2]),
                Long.valueOf(r[3])});
        }
        long produced = 0;
        long count = 0;
        java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
        long cpu0 = threads.getCurrentThreadCpuTime();
        long t0 = System.nanoTime();
        for (int round = 0; round < repeat; round++) {
            Map<String, byte[]> states = new HashMap<>();
            for (Object[] r : records) {
                String series = (String) r[0];
                IndicatorBook.Step step = book.apply(series, (byte[]) r[1], (byte[]) r[2], (Integer) r[3],
                        (Long) r[4], states.get(series), 0);
                if (step.state != null) {
                    states.put(series, step.state);
                }
                produced += step.indicators.size();
                count++;
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        double cpuSeconds = (threads.getCurrentThreadCpuTime() - cpu0) / 1e9;
        System.out.println("{\"records\": " + count + ", \"records_out\": " + produced + ", \"per_s\": "
                + Math.round(count / seconds) + ", \"per_cpu_s\": " + Math.round(count / cpuSeconds) + "}");
    }

    private static void repr() throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.US_ASCII));
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            if (!line.isEmpty()) {
                out.write(PyJson.repr(Double.longBitsToDouble(Long.parseUnsignedLong(line.trim(), 16))));
                out.write('\n');
            }
        }
        out.flush();
    }
}
