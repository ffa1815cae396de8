package org.pariskv.compute.opencl;

import java.lang.foreign.MemorySegment;

/**
 * A context on one device with one in-order command queue that has profiling enabled.
 * Owns both; {@link #close()} releases them (buffers and programs are released by their owners first).
 *
 * <p>Thread-safe for enqueueing (OpenCL queues are); close once, after all users are done.
 */
public final class ClContext implements AutoCloseable {
    private final OpenCl cl;
    private final ClDevice device;
    private final MemorySegment context;
    private final MemorySegment queue;

    public ClContext(OpenCl cl, ClDevice device) {
        this.cl = cl;
        this.device = device;
        this.context = cl.createContext(device.id());
        MemorySegment q;
        try {
            q = cl.createCommandQueue(context, device.id(), OpenCl.CL_QUEUE_PROFILING_ENABLE);
        } catch (RuntimeException e) {
            cl.releaseContext(context);
            throw e;
        }
        this.queue = q;
    }

    public OpenCl cl() {
        return cl;
    }

    public ClDevice device() {
        return device;
    }

    MemorySegment handle() {
        return context;
    }

    MemorySegment queue() {
        return queue;
    }

    /** A device buffer (CL_MEM_READ_WRITE). */
    public ClBuffer createBuffer(long bytes) {
        return new ClBuffer(this, cl.createBuffer(context, OpenCl.CL_MEM_READ_WRITE, bytes, MemorySegment.NULL), bytes, null);
    }

    /**
     * A buffer over caller-owned host memory (CL_MEM_USE_HOST_PTR): the device reads and writes
     * {@code host} in place (or caches it, driver's choice); {@code host} must outlive the buffer.
     */
    public ClBuffer createHostBuffer(MemorySegment host) {
        long flags = OpenCl.CL_MEM_READ_WRITE | OpenCl.CL_MEM_USE_HOST_PTR;
        return new ClBuffer(this, cl.createBuffer(context, flags, host.byteSize(), host), host.byteSize(), host);
    }

    /** A buffer the driver allocates in host-visible (pinned) memory (CL_MEM_ALLOC_HOST_PTR); reach it with map. */
    public ClBuffer createPinnedBuffer(long bytes) {
        long flags = OpenCl.CL_MEM_READ_WRITE | OpenCl.CL_MEM_ALLOC_HOST_PTR;
        return new ClBuffer(this, cl.createBuffer(context, flags, bytes, MemorySegment.NULL), bytes, null);
    }

    /**
     * Compiles OpenCL C for this context's device.
     *
     * @throws ClBuildException with the complete build log when compilation fails
     */
    public ClProgram buildProgram(String sourceName, String source, String options) {
        MemorySegment program = cl.createProgramWithSource(context, source);
        int rc = cl.buildProgram(program, device.id(), options);
        String log;
        try {
            log = cl.buildLog(program, device.id());
        } catch (ClException e) {
            log = "(build log unavailable: " + e.getMessage() + ")";
        }
        if (rc != 0) {
            cl.releaseProgram(program);
            throw new ClBuildException(sourceName, options, rc, log);
        }
        return new ClProgram(this, program, sourceName, log);
    }

    /** Blocks until every queued command finished. */
    /** A marker event at this point of the queue (profiling enabled: its END time is when it was reached). */
    public MemorySegment marker() {
        return cl.enqueueMarker(queue());
    }

    public void finish() {
        cl.finish(queue);
    }

    @Override
    public void close() {
        cl.releaseCommandQueue(queue);
        cl.releaseContext(context);
    }
}
