package org.pariskv.compute.kernel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** 16-bit shorts (also bf16 and fp16 bits) over a {@link MemorySegment}: {@code get}/{@code set} are plain loads and stores in kernels. */
public final class ShortArray implements KernelArray {
    static final ValueLayout.OfShort LAYOUT = ValueLayout.JAVA_SHORT_UNALIGNED;
    private final MemorySegment segment;
    private final int size;

    private ShortArray(MemorySegment segment) {
        this.segment = segment;
        this.size = KernelArray.checkedSize(segment, 2);
    }

    /** A view of {@code segment} (not copied). */
    public static ShortArray of(MemorySegment segment) {
        return new ShortArray(segment);
    }

    /** {@code n} zeroed elements of native memory freed by the garbage collector. */
    public static ShortArray allocate(int n) {
        return allocate(Arena.ofAuto(), n);
    }

    /** {@code n} zeroed elements of native memory owned by {@code arena}. */
    public static ShortArray allocate(Arena arena, int n) {
        return new ShortArray(arena.allocate((long) 2 * n, 16));
    }

    /** A view of a Java array (heap memory: fine for the JVM and for copies, not for atomics on unaligned views). */
    public static ShortArray wrap(short[] values) {
        return new ShortArray(MemorySegment.ofArray(values));
    }

    /** Native memory holding a copy of {@code values}. */
    public static ShortArray copyOf(short... values) {
        ShortArray a = allocate(values.length);
        MemorySegment.copy(MemorySegment.ofArray(values), 0, a.segment, 0, (long) 2 * values.length);
        return a;
    }

    public short get(int i) {
        return segment.getAtIndex(LAYOUT, i);
    }

    public void set(int i, short v) {
        segment.setAtIndex(LAYOUT, i, v);
    }

    /** Element {@code i} of a long index (arrays of more than 2^31 bytes: K/V caches). */
    public short get(long i) {
        return segment.getAtIndex(LAYOUT, i);
    }

    public void set(long i, short v) {
        segment.setAtIndex(LAYOUT, i, v);
    }

    /**
     * Element {@code i} through the read-only data path (CUDA {@code __ldg}): for data no kernel writes while this
     * one runs, where the compiler cannot tell that by itself. A plain load on OpenCL and on the JVM.
     */
    public short getReadOnly(long i) {
        return get(i);
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public int elementBytes() {
        return 2;
    }

    @Override
    public MemorySegment segment() {
        return segment;
    }

    /** A copy of the elements as a Java array. */
    public short[] toArray() {
        return segment.toArray(ValueLayout.JAVA_SHORT);
    }

    @Override
    public String toString() {
        return "ShortArray[" + size + "]";
    }
}
