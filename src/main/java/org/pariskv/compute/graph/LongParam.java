package org.pariskv.compute.graph;

/**
 * A mutable long argument: its value is read at each execution, so one graph serves e.g. a growing
 * sequence length. Thread-safe (volatile).
 */
public final class LongParam {
    private volatile long value;

    public LongParam(long value) {
        this.value = value;
    }

    public long get() {
        return value;
    }

    public void set(long value) {
        this.value = value;
    }

    @Override
    public String toString() {
        return Long.toString(value);
    }
}
