package org.pariskv.compute.kernel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** 32-bit floats over a {@link MemorySegment}: {@code get}/{@code set} are plain loads and stores in kernels. */
public final class FloatArray implements KernelArray {
    static final ValueLayout.OfFloat LAYOUT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private final MemorySegment segment;
    private final int size;

    private FloatArray(MemorySegment segment) {
        this.segment = segment;
        this.size = KernelArray.checkedSize(segment, 4);
    }

    /** A view of {@code segment} (not copied). */
    public static FloatArray of(MemorySegment segment) {
        return new FloatArray(segment);
    }

    /** {@code n} zeroed elements of native memory freed by the garbage collector. */
    public static FloatArray allocate(int n) {
        return allocate(Arena.ofAuto(), n);
    }

    /** {@code n} zeroed elements of native memory owned by {@code arena}. */
    public static FloatArray allocate(Arena arena, int n) {
        return new FloatArray(arena.allocate((long) 4 * n, 16));
    }

    /** A view of a Java array (heap memory: fine for the JVM and for copies, not for atomics on unaligned views). */
    public static FloatArray wrap(float[] values) {
        return new FloatArray(MemorySegment.ofArray(values));
    }

    /** Native memory holding a copy of {@code values}. */
    public static FloatArray copyOf(float... values) {
        FloatArray a = allocate(values.length);
        MemorySegment.copy(MemorySegment.ofArray(values), 0, a.segment, 0, (long) 4 * values.length);
        return a;
    }

    public float get(int i) {
        return segment.getAtIndex(LAYOUT, i);
    }

    public void set(int i, float v) {
        segment.setAtIndex(LAYOUT, i, v);
    }

    /** Element {@code i} of a long index (arrays of more than 2^31 bytes: K/V caches). */
    public float get(long i) {
        return segment.getAtIndex(LAYOUT, i);
    }

    public void set(long i, float v) {
        segment.setAtIndex(LAYOUT, i, v);
    }

    /**
     * Element {@code i} through the read-only data path (CUDA {@code __ldg}): for data no kernel writes while this
     * one runs, where the compiler cannot tell that by itself. A plain load on OpenCL and on the JVM.
     */
    public float getReadOnly(long i) {
        return get(i);
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
    public float[] toArray() {
        return segment.toArray(ValueLayout.JAVA_FLOAT);
    }

    @Override
    public String toString() {
        return "FloatArray[" + size + "]";
    }
}
