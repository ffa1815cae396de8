package org.pariskv.compute;

import java.lang.foreign.MemorySegment;

/**
 * Memory a backend's kernels read and write: device memory ({@link Backend#allocate}) or host memory the
 * device reads in place ({@link Backend#allocateHostMapped}). Either works as a kernel argument and with
 * the backend's copies. Close to free it; the owning backend must still be open. Closing twice is harmless.
 */
public interface DeviceBuffer extends AutoCloseable {
    long bytes();

    /** Which memory path this buffer takes. */
    default MemoryKind kind() {
        return MemoryKind.DEVICE;
    }

    /** True when the bytes live in host memory the device reads in place (not {@link MemoryKind#DEVICE}). */
    default boolean isHostMapped() {
        return kind().isHost();
    }

    /**
     * The host view of the bytes, when the host may read and write them directly (CUDA host-mapped and Java
     * buffers), else null (device memory; OpenCL buffers, which are reached through the queue). Host access
     * must not overlap kernels still running on the buffer: call {@link Backend#finish()} first.
     */
    default MemorySegment hostSegment() {
        return null;
    }

    @Override
    void close();
}
