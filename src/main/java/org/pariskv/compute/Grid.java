package org.pariskv.compute;

import java.util.Arrays;

/**
 * An NDRange: {@code global} work-items in each dimension, in work-groups (thread blocks) of {@code local}.
 * {@code local == null} lets the backend choose. When given, every global size is a multiple of its local
 * size (the factories round up), so the same grid means the same thing on OpenCL and CUDA; kernels guard
 * the tail with an explicit element count.
 */
public record Grid(long[] global, long[] local) {

    public Grid {
        if (global == null || global.length < 1 || global.length > 3) {
            throw new IllegalArgumentException("grid needs 1 to 3 global dimensions");
        }
        global = global.clone();
        for (long g : global) if (g < 1) throw new IllegalArgumentException("global size must be >= 1: " + Arrays.toString(global));
        if (local != null) {
            if (local.length != global.length) {
                throw new IllegalArgumentException("local " + Arrays.toString(local) + " and global "
                        + Arrays.toString(global) + " differ in dimensions");
            }
            local = local.clone();
            for (int d = 0; d < local.length; d++) {
                if (local[d] < 1 || global[d] % local[d] != 0) {
                    throw new IllegalArgumentException("global " + Arrays.toString(global)
                            + " is not a multiple of local " + Arrays.toString(local));
                }
            }
        }
    }

    /** {@code n} work-items rounded up to whole groups of {@code groupSize}. */
    public static Grid linear(long n, int groupSize) {
        long groups = Math.max(1, (n + groupSize - 1) / groupSize);
        return new Grid(new long[] {groups * groupSize}, new long[] {groupSize});
    }

    /** Exactly {@code groups} work-groups of {@code groupSize} work-items. */
    public static Grid groups(long groups, int groupSize) {
        return new Grid(new long[] {groups * groupSize}, new long[] {groupSize});
    }

    /** {@code n} work-items, group size left to the backend. */
    public static Grid of(long n) {
        return new Grid(new long[] {n}, null);
    }

    public int dimensions() {
        return global.length;
    }

    @Override
    public long[] global() {
        return global.clone();
    }

    @Override
    public long[] local() {
        return local == null ? null : local.clone();
    }

    /** Number of work-groups along {@code d} (only when local is set). */
    public long groupCount(int d) {
        if (local == null) throw new IllegalStateException("grid has no local size");
        return global[d] / local[d];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Grid g && Arrays.equals(global, g.global) && Arrays.equals(local, g.local);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(global) * 31 + Arrays.hashCode(local);
    }

    @Override
    public String toString() {
        return "global " + Arrays.toString(global) + " local " + (local == null ? "auto" : Arrays.toString(local));
    }
}
