package org.pariskv.compute.kernel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** 32-bit ints over a {@link MemorySegment}: {@code get}/{@code set} are plain loads and stores in kernels. */
public final class IntArray implements KernelArray {
    static final ValueLayout.OfInt LAYOUT = ValueLayout.JAVA_INT_UNALIGNED;
    private final MemorySegment segment;
    private final int size;

    private IntArray(MemorySegment segment) {
        this.segment = segment;
        this.size = KernelArray.checkedSize(segment, 4);
    }

    /** A view of {@code segment} (not copied). */
    public static IntArray of(MemorySegment segment) {
        return new IntArray(segment);
    }

    /** {@code n} zeroed elements of native memory freed by the garbage collector. */
    public static IntArray allocate(int n) {
        return allocate(Arena.ofAuto(), n);
    }

    /** {@code n} zeroed elements of native memory owned by {@code arena}. */
    public static IntArray allocate(Arena arena, int n) {
        return new IntArray(arena.allocate((long) 4 * n, 16));
    }

    /** A view of a Java array (heap memory: fine for the JVM and for copies, not for atomics on unaligned views). */
    public static IntArray wrap(int[] values) {
        return new IntArray(MemorySegment.ofArray(values));
    }

    /** Native memory holding a copy of {@code values}. */
    public static IntArray copyOf(int... values) {
        IntArray a = allocate(values.length);
        MemorySegment.copy(MemorySegment.ofArray(values), 0, a.segment, 0, (long) 4 * values.length);
        return a;
    }

    public int get(int i) {
        return segment.getAtIndex(LAYOUT, i);
    }

    public void set(int i, int v) {
        segment.setAtIndex(LAYOUT, i, v);
    }

    /** Element {@code i} of a long index (arrays of more than 2^31 bytes: K/V caches). */
    public int get(long i) {
        return segment.getAtIndex(LAYOUT, i);
    }

    public void set(long i, int v) {
        segment.setAtIndex(LAYOUT, i, v);
    }

    /**
     * Element {@code i} through the read-only data path (CUDA {@code __ldg}): for data no kernel writes while this
     * one runs, where the compiler cannot tell that by itself. A plain load on OpenCL and on the JVM.
     */
    public int getReadOnly(long i) {
        return get(i);
    }

    /**
     * Elements {@code [2i, 2i + 2)} into {@code dst[at..at + 2)} in one 8-byte load (CUDA {@code uint2}, OpenCL
     * {@code vload2}); the array's device buffer is 8-byte aligned, so {@code i} counts pairs.
     */
    public void load2(long i, int[] dst, int at) {
        dst[at] = get(2 * i);
        dst[at + 1] = get(2 * i + 1);
    }

    /** {@link #load2} through the read-only data path (CUDA {@code __ldg}). */
    public void load2ReadOnly(long i, int[] dst, int at) {
        load2(i, dst, at);
    }

    /** Elements {@code [4i, 4i + 4)} into {@code dst[at..at + 4)} in one 16-byte load (CUDA {@code uint4}, OpenCL {@code vload4}). */
    public void load4(long i, int[] dst, int at) {
        for (int u = 0; u < 4; u++) dst[at + u] = get(4 * i + u);
    }

    /** {@link #load4} through the read-only data path (CUDA {@code __ldg}). */
    public void load4ReadOnly(long i, int[] dst, int at) {
        load4(i, dst, at);
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public int elementBytes() {
        return 4;
    }

    @Override
    public MemorySegment segment() {
        return segment;
    }

    /** A copy of the elements as a Java array. */
    public int[] toArray() {
        return segment.toArray(ValueLayout.JAVA_INT);
    }

    @Override
    public String toString() {
        return "IntArray[" + size + "]";
    }
}
