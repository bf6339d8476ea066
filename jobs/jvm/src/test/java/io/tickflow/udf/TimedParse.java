package io.tickflow.udf;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * Runs parses on a worker thread with a time bound, so that a parser that loops fails the test (naming the
 * input) instead of hanging the build. A parse that misses the bound gets a grace period: if it finishes
 * then and a second run of the same input keeps the bound, the miss was the machine (a GC pause, a busy
 * core), not the parser. A parse that never finishes leaves its thread spinning; the worker is replaced.
 */
public final class TimedParse implements AutoCloseable {

    public static final long BOUND_MS = 200;
    private static final long GRACE_MS = 5_000;

    private ExecutorService worker = newWorker();

    /** {@code parse.apply(raw)} within the bound, or an AssertionError naming the input. */
    public <T> T within(Function<byte[], T> parse, byte[] raw) {
        Future<T> run = worker.submit(() -> parse.apply(raw));
        try {
            return run.get(BOUND_MS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException slow) {
            return retry(parse, raw, run);
        } catch (ExecutionException e) {
            throw new AssertionError("parse threw " + e.getCause() + " on " + describe(raw), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    private <T> T retry(Function<byte[], T> parse, byte[] raw, Future<T> first) {
        try {
            first.get(GRACE_MS, TimeUnit.MILLISECONDS);
            Future<T> again = worker.submit(() -> parse.apply(raw));
            return again.get(BOUND_MS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException hang) {
            worker.shutdownNow();
            worker = newWorker();
            throw new AssertionError("parse did not return within " + BOUND_MS + " ms on " + describe(raw));
        } catch (ExecutionException e) {
            throw new AssertionError("parse threw " + e.getCause() + " on " + describe(raw), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    @Override
    public void close() {
        worker.shutdownNow();
    }

    private static ExecutorService newWorker() {
        return Executors.newSingleThreadExecutor(task -> {
            Thread t = new Thread(task, "timed-parse");
            t.setDaemon(true);
            return t;
        });
    }

    /** An input as a failure message shows it: as text with non-ASCII and control bytes escaped (so it can
     *  be pasted into the corpus), and as base64. */
    public static String describe(byte[] raw) {
        StringBuilder b = new StringBuilder();
        String text = new String(raw, 0, Math.min(raw.length, 2_000), StandardCharsets.ISO_8859_1);
        for (char c : text.toCharArray()) {
            if (c < 0x20 || c >= 0x7f) {
                b.append(String.format("\\x%02x", (int) c));
            } else {
                b.append(c);
            }
        }
        String shown = raw.length > 2_000 ? b + "… (" + raw.length + " bytes)" : b.toString();
        return shown + "\n  base64: " + (raw.length > 2_000 ? "(too long to show)" : Base64.getEncoder().encodeToString(raw));
    }
}
