package org.pariskv.profile;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Wall time spent per {@link Stage} by the Java backend, summed over threads. Off by default; when off,
 * {@link #start()} costs a field read. Thread-safe.
 */
public final class StageProfile {

    private static volatile boolean enabled;
    private static final LongAdder[] NANOS = new LongAdder[Stage.values().length];
    private static final LongAdder[] CALLS = new LongAdder[Stage.values().length];

    static {
        for (int i = 0; i < NANOS.length; i++) {
            NANOS[i] = new LongAdder();
            CALLS[i] = new LongAdder();
        }
    }

    private StageProfile() {}

    public static void enable(boolean on) {
        enabled = on;
    }

    public static boolean enabled() {
        return enabled;
    }

    /** A timestamp to pass to {@link #stop}, or 0 when profiling is off. */
    public static long start() {
        return enabled ? System.nanoTime() : 0L;
    }

    public static void stop(Stage stage, long start) {
        if (start != 0L) {
            NANOS[stage.ordinal()].add(System.nanoTime() - start);
            CALLS[stage.ordinal()].increment();
        }
    }

    public static void reset() {
        for (int i = 0; i < NANOS.length; i++) {
            NANOS[i].reset();
            CALLS[i].reset();
        }
    }

    /** Summed nanoseconds per stage since the last reset (stages never entered are absent). */
    public static Map<Stage, Long> nanos() {
        Map<Stage, Long> m = new EnumMap<>(Stage.class);
        for (Stage s : Stage.values()) if (CALLS[s.ordinal()].sum() > 0) m.put(s, NANOS[s.ordinal()].sum());
        return m;
    }
}
