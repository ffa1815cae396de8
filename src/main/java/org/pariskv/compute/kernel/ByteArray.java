package org.pariskv.compute.kernel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Signed bytes over a {@link MemorySegment}: {@code get}/{@code set} are plain loads and stores in kernels. */
public final class ByteArray implements KernelArray {
    static final ValueLayout.OfByte LAYOUT = ValueLayout.JAVA_BYTE;
    private final MemorySegment segment;
    private final int size;

    private ByteArray(MemorySegment segment) {
        this.segment = segment;
        this.size = KernelArray.checkedSize(segment, 1);
    }

    /** A view of {@code segment} (not copied). */
    public static ByteArray of(MemorySegment segment) {
        return new ByteArray(segment);
    }

    /** {@code n} zeroed elements of native memory freed by the garbage collector. */
    public static ByteArray allocate(int n) {
        return allocate(Arena.ofAuto(), n);
    }

    /** {@code n} zeroed elements of native memory owned by {@code arena}. */
    public static ByteArray allocate(Arena arena, int n) {
        return new ByteArray(arena.allocate((long) 1 * n, 16));
    }

    /** A view of a Java array (heap memory: fine for the JVM and for copies, not for atomics on unaligned views). */
    public static ByteArray wrap(byte[] values) {
        return new ByteArray(MemorySegment.ofArray(values));
    }

    /** Native memory holding a copy of {@code values}. */
    public static ByteArray copyOf(byte... values) {
        ByteArray a = allocate(values.length);
        MemorySegment.copy(MemorySegment.ofArray(values), 0, a.segment, 0, (long) 1 * values.length);
        return a;
    }

    public byte get(int i) {
        return segment.getAtIndex(LAYOUT, i);
    }

    public void set(int i, byte v) {
        segment.setAtIndex(LAYOUT, i, v);
    }

    /** Element {@code i} of a long index (arrays of more than 2^31 bytes: K/V caches). */
    public byte get(long i) {
        return segment.getAtIndex(LAYOUT, i);
    }

    public void set(long i, byte v) {
        segment.setAtIndex(LAYOUT, i, v);
    }

    /**
     * Element {@code i} through the read-only data path (CUDA {@code __ldg}): for data no kernel writes while this
     * one runs, where the compiler cannot tell that by itself. A plain load on OpenCL and on the JVM.
     */
    public byte getReadOnly(long i) {
        return get(i);
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public int elementBytes() {
        return 1;
    }

    @Override
    public MemorySegment segment() {
        return segment;
    }

    /** A copy of the elements as a Java array. */
    public byte[] toArray() {
        return segment.toArray(ValueLayout.JAVA_BYTE);
    }

    @Override
    public String toString() {
        return "ByteArray[" + size + "]";
    }
}
