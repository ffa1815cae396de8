package org.pariskv.compute.cuda;

import java.lang.foreign.MemorySegment;

/**
 * Page-locked host memory that kernels read directly through {@link #devicePointer()} (UVA):
 * either allocated by {@code cuMemHostAlloc(DEVICEMAP)} or registered with {@code cuMemHostRegister}.
 * Close it before the memory (or its Arena) goes away. Not thread-safe to close concurrently.
 */
public final class CudaHostMemory implements AutoCloseable {
    private final CudaContext owner;
    private final MemorySegment host;
    private final long devicePointer;
    private final boolean registered;
    private boolean closed;

    CudaHostMemory(CudaContext owner, MemorySegment host, long devicePointer, boolean registered) {
        this.owner = owner;
        this.host = host;
        this.devicePointer = devicePointer;
        this.registered = registered;
    }

    /** The host view (read and write it from Java). */
    public MemorySegment host() {
        return host;
    }

    /** The address kernels use for the same bytes. */
    public long devicePointer() {
        return devicePointer;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        owner.makeCurrent();
        if (registered) owner.driver().memHostUnregister(host);
        else owner.driver().memFreeHost(host);
    }
}
