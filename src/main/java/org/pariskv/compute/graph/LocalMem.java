package org.pariskv.compute.graph;

/**
 * Work-group-local scratch passed to a kernel's {@code LOCAL_ARG(T, name)} parameter. Java twins
 * receive this object and may derive the work-group size from it (e.g. {@code floats()}).
 */
public record LocalMem(long bytes) {
    public LocalMem {
        if (bytes < 1) throw new IllegalArgumentException("local memory must be at least one byte");
    }

    public static LocalMem floats(int n) {
        return new LocalMem(4L * n);
    }

    public static LocalMem ints(int n) {
        return new LocalMem(4L * n);
    }

    public static LocalMem bytes(int n) {
        return new LocalMem(n);
    }

    /** How many floats (or ints) fit. */
    public int floats() {
        return (int) (bytes / 4);
    }
}
