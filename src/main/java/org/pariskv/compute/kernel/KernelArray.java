package org.pariskv.compute.kernel;

import java.lang.foreign.MemorySegment;

/**
 * An array in off-heap (or heap-backed) memory that kernels read and write: a kernel parameter of one of these
 * types is a {@code GLOBAL T*} on devices and the segment itself on the JVM. As a task argument it binds to one device
 * buffer per plan, like a Java array.
 */
public sealed interface KernelArray permits FloatArray, IntArray, ByteArray, ShortArray, LongArray {
    /** The memory, {@code size() * elementBytes()} bytes. */
    MemorySegment segment();

    /** Number of elements. */
    int size();

    /** Bytes per element. */
    int elementBytes();

    static int checkedSize(MemorySegment s, int elementBytes) {
        if (s.byteSize() % elementBytes != 0 || s.byteSize() / elementBytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a segment of " + s.byteSize() + " bytes is not a whole array of "
                    + elementBytes + "-byte elements of int size");
        }
        return (int) (s.byteSize() / elementBytes);
    }
}
