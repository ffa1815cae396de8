package org.pariskv.compute.opencl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.pariskv.compute.Backend;

/**
 * A kernel object. Arguments are state on the kernel, so "set arguments then enqueue" must not
 * interleave between threads: callers hold the kernel's monitor around both (as {@code OpenClBackend} does).
 */
public final class ClKernel implements AutoCloseable {
    private final ClContext owner;
    private final MemorySegment kernel;
    private final String name;

    ClKernel(ClContext owner, MemorySegment kernel, String name) {
        this.owner = owner;
        this.kernel = kernel;
        this.name = name;
    }

    public String name() {
        return name;
    }

    public void setArg(int index, ClBuffer buffer) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            p.set(ADDRESS, 0, buffer.handle());
            owner.cl().setKernelArg(kernel, index, ADDRESS.byteSize(), p);
        }
    }

    /** A {@code __local} array argument of {@code bytes} bytes. */
    public void setLocalArg(int index, long bytes) {
        owner.cl().setKernelArg(kernel, index, bytes, MemorySegment.NULL);
    }

    public void setArg(int index, int value) {
        try (Arena a = Arena.ofConfined()) {
            owner.cl().setKernelArg(kernel, index, 4, a.allocateFrom(JAVA_INT, value));
        }
    }

    public void setArg(int index, long value) {
        try (Arena a = Arena.ofConfined()) {
            owner.cl().setKernelArg(kernel, index, 8, a.allocateFrom(JAVA_LONG, value));
        }
    }

    public void setArg(int index, float value) {
        try (Arena a = Arena.ofConfined()) {
            owner.cl().setKernelArg(kernel, index, 4, a.allocateFrom(JAVA_FLOAT, value));
        }
    }

    /** The largest work-group this kernel can run with on its device (register/local-memory bound). */
    public long maxWorkGroupSize() {
        return owner.cl().kernelWorkGroupInfo(kernel, owner.device().id(), OpenCl.CL_KERNEL_WORK_GROUP_SIZE);
    }

    /**
     * Enqueues over {@code global} work-items in groups of {@code local} (null: driver's choice).
     *
     * @param profile when true, waits for completion and returns the kernel's device time in ns
     * @return device time in ns when profiling, else -1 (the launch is asynchronous)
     */
    public long enqueue(long[] global, long[] local, boolean profile) {
        OpenCl cl = owner.cl();
        MemorySegment event = cl.enqueueNDRange(owner.queue(), kernel, global, local, profile);
        if (!profile) return -1;
        try {
            cl.waitForEvent(event);
            return cl.eventProfilingInfo(event, OpenCl.CL_PROFILING_COMMAND_END)
                    - cl.eventProfilingInfo(event, OpenCl.CL_PROFILING_COMMAND_START);
        } finally {
            cl.releaseEvent(event);
        }
    }

    /** Enqueues with an event and returns at once; the supplier waits for it and gives END - START in ns. */
    public Backend.DeferredTime enqueueTimed(long[] global, long[] local) {
        OpenCl cl = owner.cl();
        MemorySegment event = cl.enqueueNDRange(owner.queue(), kernel, global, local, true);
        return Backend.DeferredTime.once(() -> {
            cl.waitForEvent(event);
            return cl.eventProfilingInfo(event, OpenCl.CL_PROFILING_COMMAND_END)
                    - cl.eventProfilingInfo(event, OpenCl.CL_PROFILING_COMMAND_START);
        }, () -> cl.releaseEvent(event));
    }

    @Override
    public void close() {
        owner.cl().releaseKernel(kernel);
    }
}
