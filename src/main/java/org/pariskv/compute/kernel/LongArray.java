package org.pariskv.compute.kernel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** 64-bit longs over a {@link MemorySegment}: {@code get}/{@code set} are plain loads and stores in kernels. */
public final class LongArray implements KernelArray {
    static final ValueLayout.OfLong LAYOUT = ValueLayout.JAVA_LONG_UNALIGNED;
    private final MemorySegment segment;
    private final int size;

    private LongArray(MemorySegment segment) {
        this.segment = segment;
        this.size = KernelArray.checkedSize(segment, 8);
    }

    /** A view of {@code segment} (not copied). */
    public static LongArray of(MemorySegment segment) {
        return new LongArray(segment);
    }

    /** {@code n} zeroed elements of native memory freed by the garbage collector. */
    public static LongArray allocate(int n) {
        return allocate(Arena.ofAuto(), n);
    }

    /** {@code n} zeroed elements of native memory owned by {@code arena}. */
    public static LongArray allocate(Arena arena, int n) {
        return new LongArray(arena.allocate((long) 8 * n, 16));
    }

    /** A view of a Java array (heap memory: fine for the JVM and for copies, not for atomics on unaligned views). */
    public static LongArray wrap(long[] values) {
        return new LongArray(MemorySegment.ofArray(values));
    }

    /** Native memory holding a copy of {@code values}. */
    public static LongArray copyOf(long... values) {
        LongArray a = allocate(values.length);
        MemorySegment.copy(MemorySegment.ofArray(values), 0, a.segment, 0, (long) 8 * values.length);
        return a;
    }

    public long get(int i) {
        return segment.getAtIndex(LAYOUT, i);
    }

    public void set(int i, long v) {
        segment.setAtIndex(LAYOUT, i, v);
    }

    /** Element {@code i} of a long index (arrays of more than 2^31 bytes: K/V caches). */
    public long get(long i) {
        return segment.getAtIndex(LAYOUT, i);
    }

    public void set(long i, long v) {
        segment.setAtIndex(LAYOUT, i, v);
    }

    /**
     * Element {@code i} through the read-only data path (CUDA {@code __ldg}): for data no kernel writes while this
     * one runs, where the compiler cannot tell that by itself. A plain load on OpenCL and on the JVM.
     */
    public long getReadOnly(long i) {
        return get(i);
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public int elementBytes() {
        return 8;
    }

    @Override
    public MemorySegment segment() {
        return segment;
    }

    /** A copy of the elements as a Java array. */
    public long[] toArray() {
        return segment.toArray(ValueLayout.JAVA_LONG);
    }

    @Override
    public String toString() {
        return "LongArray[" + size + "]";
    }
}
