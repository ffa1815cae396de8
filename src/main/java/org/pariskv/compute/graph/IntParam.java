package org.pariskv.compute.graph;

/**
 * A mutable int argument: its value is read at each execution, so one graph serves e.g. a growing
 * sequence length. Thread-safe (volatile).
 */
public final class IntParam {
    private volatile int value;

    public IntParam(int value) {
        this.value = value;
    }

    public int get() {
        return value;
    }

    public void set(int value) {
        this.value = value;
    }

    @Override
    public String toString() {
        return Integer.toString(value);
    }
}
