package org.pariskv.compute.graph;

/**
 * A mutable float argument: its value is read at each execution, so one graph serves e.g. a
 * changing scale. Thread-safe (volatile).
 */
public final class FloatParam {
    private volatile float value;

    public FloatParam(float value) {
        this.value = value;
    }

    public float get() {
        return value;
    }

    public void set(float value) {
        this.value = value;
    }

    @Override
    public String toString() {
        return Float.toString(value);
    }
}
