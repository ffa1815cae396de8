package org.pariskv.compute.opencl;

import java.lang.foreign.MemorySegment;

/**
 * A {@code cl_mem} buffer. Reads and writes are blocking (the queue is in order, so they also wait
 * for kernels enqueued before them). Release with {@link #close()}.
 */
public final class ClBuffer implements AutoCloseable {
    private final ClContext owner;
    private final MemorySegment mem;
    private final long bytes;
    private final MemorySegment hostMemory; // kept reachable for USE_HOST_PTR buffers
    private boolean closed;

    ClBuffer(ClContext owner, MemorySegment mem, long bytes, MemorySegment hostMemory) {
        this.owner = owner;
        this.mem = mem;
        this.bytes = bytes;
        this.hostMemory = hostMemory;
    }

    public long bytes() {
        return bytes;
    }

    MemorySegment handle() {
        return mem;
    }

    /** The caller's memory behind a USE_HOST_PTR buffer, or null. */
    public MemorySegment hostMemory() {
        return hostMemory;
    }

    /** A sub-buffer over [offset, offset + bytes) (released on close; the parent stays). */
    public ClBuffer region(long offset, long bytes) {
        checkRange(offset, bytes);
        return new ClBuffer(owner, owner.cl().createSubBuffer(mem, offset, bytes), bytes,
                hostMemory == null ? null : hostMemory.asSlice(offset, bytes));
    }

    /** Copies {@code src} (native memory) to this buffer at {@code offset}. */
    public void write(long offset, MemorySegment src) {
        checkRange(offset, src.byteSize());
        owner.cl().writeBuffer(owner.queue(), mem, offset, src);
    }

    /** Enqueues a copy of {@code src} (native memory, unchanged until the queue ran it) at {@code offset}. */
    public void writeAsync(long offset, MemorySegment src) {
        checkRange(offset, src.byteSize());
        owner.cl().writeBuffer(owner.queue(), mem, offset, src, false);
    }

    /** Copies {@code dst.byteSize()} bytes at {@code offset} into {@code dst} (native memory). */
    public void read(long offset, MemorySegment dst) {
        checkRange(offset, dst.byteSize());
        owner.cl().readBuffer(owner.queue(), mem, offset, dst);
    }

    /** Fills {@code length} bytes at {@code offset} with {@code pattern} repeated. */
    public void fill(MemorySegment pattern, long offset, long length) {
        checkRange(offset, length);
        owner.cl().fillBuffer(owner.queue(), mem, pattern, offset, length);
    }

    /** Maps the whole buffer for host access (blocking); call {@link #unmap} when done. */
    public MemorySegment map() {
        return owner.cl().mapBuffer(owner.queue(), mem, OpenCl.CL_MAP_READ | OpenCl.CL_MAP_WRITE, 0, bytes);
    }

    public void unmap(MemorySegment mapped) {
        owner.cl().unmap(owner.queue(), mem, mapped);
    }

    private void checkRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset + length > bytes) {
            throw new IndexOutOfBoundsException("range [" + offset + ", " + (offset + length) + ") outside buffer of "
                    + bytes + " bytes");
        }
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            owner.cl().releaseMemObject(mem);
        }
    }
}
