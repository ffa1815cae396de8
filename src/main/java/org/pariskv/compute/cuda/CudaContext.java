package org.pariskv.compute.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.pariskv.compute.Backend;

/**
 * The primary context of one CUDA device. CUDA 13 changed {@code cuCtxCreate}; the primary context
 * (shared with any runtime-API user in the process) is the stable path. The current context is
 * per thread, so every method makes it current first: callers may use one context from any thread.
 *
 * <p>Thread-safe. {@link #close()} releases the retain taken at construction.
 */
public final class CudaContext implements AutoCloseable {
    private final CudaDriver driver;
    private final int ordinal;
    private final int device;
    private final MemorySegment context;
    private final int ccMajor, ccMinor;
    private final MemorySegment stream; // every launch and enqueued copy: one stream, so capture can record them
    /** The last thing enqueued on the stream was a kernel: only then may the next start early (launchDependent). */
    private boolean afterKernel;
    private boolean closed;

    public CudaContext(CudaDriver driver, int ordinal) {
        this.driver = driver;
        this.ordinal = ordinal;
        this.device = driver.device(ordinal);
        this.context = driver.primaryCtxRetain(device);
        driver.ctxSetCurrent(context);
        this.ccMajor = driver.deviceAttribute(CudaDriver.ATTR_COMPUTE_CAPABILITY_MAJOR, device);
        this.ccMinor = driver.deviceAttribute(CudaDriver.ATTR_COMPUTE_CAPABILITY_MINOR, device);
        this.stream = driver.streamCreate();
    }

    public CudaDriver driver() {
        return driver;
    }

    public int ordinal() {
        return ordinal;
    }

    /** The CUdevice handle. */
    public int device() {
        return device;
    }

    public int computeCapabilityMajor() {
        return ccMajor;
    }

    public int computeCapabilityMinor() {
        return ccMinor;
    }

    /** Makes this context current on the calling thread (cheap; done before every driver call here). */
    public void makeCurrent() {
        driver.ctxSetCurrent(context);
    }

    public long alloc(long bytes) {
        makeCurrent();
        return driver.memAlloc(Math.max(1, bytes));
    }

    public void free(long devicePtr) {
        makeCurrent();
        driver.memFree(devicePtr);
    }

    public void copyIn(long dst, MemorySegment src) {
        makeCurrent();
        driver.memcpyHtoD(dst, src);
    }

    /** Enqueued copy (see {@link CudaDriver#memcpyHtoDAsync}). */
    public void copyInAsync(long dst, MemorySegment src) {
        makeCurrent();
        driver.memcpyHtoDAsync(dst, src, stream);
        afterKernel = false;
    }

    public void copyOut(MemorySegment dst, long src) {
        makeCurrent();
        driver.memcpyDtoH(dst, src);
    }

    public void fill(long dst, byte value, long bytes) {
        makeCurrent();
        driver.memsetD8(dst, value, bytes);
    }

    /** {free, total} bytes of device memory. */
    public long[] memoryInfo() {
        makeCurrent();
        return driver.memGetInfo();
    }

    /** Loads a cubin or NUL-terminated PTX image. */
    public CudaModule loadModule(byte[] image) {
        makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment img = a.allocate(image.length + 1L, 16); // trailing NUL for PTX; harmless for cubins
            MemorySegment.copy(image, 0, img, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, image.length);
            return new CudaModule(this, driver.moduleLoadDataEx(img));
        }
    }

    /**
     * Launches {@code function} on the context's stream.
     *
     * @param argValues one native segment per kernel parameter holding its value
     * @param profile   when true, brackets the launch with events, waits, and returns device time in ns
     * @return device time in ns, or -1 when not profiling (the launch is asynchronous)
     */
    public long launch(MemorySegment function, int[] grid, int[] block, int sharedBytes, MemorySegment[] argValues,
                       boolean profile) {
        makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment params = params(a, argValues);
            if (!profile) {
                driver.launchKernel(function, grid, block, sharedBytes, stream, params);
                afterKernel = true;
                return -1;
            }
            afterKernel = false;
            MemorySegment start = driver.eventCreate();
            MemorySegment end = driver.eventCreate();
            try {
                driver.eventRecord(start, stream);
                driver.launchKernel(function, grid, block, sharedBytes, stream, params);
                driver.eventRecord(end, stream);
                driver.eventSynchronize(end);
                return Math.round(driver.eventElapsedMillis(start, end) * 1e6);
            } finally {
                driver.eventDestroy(start);
                driver.eventDestroy(end);
            }
        }
    }

    /** The {@code void*[]} of pointers to each argument value that the launch calls take. */
    private static MemorySegment params(Arena a, MemorySegment[] argValues) {
        MemorySegment params = a.allocate(ADDRESS, Math.max(1, argValues.length));
        for (int i = 0; i < argValues.length; i++) params.setAtIndex(ADDRESS, i, argValues[i]);
        return params;
    }

    /** Whether {@link #launchDependent} can let kernels overlap here: the driver has it and the GPU is sm_90 or later. */
    public boolean canLaunchDependent() {
        return driver.hasDependentLaunch() && ccMajor >= 9;
    }

    /**
     * Launches {@code function} so that it may start while the kernel enqueued just before it finishes
     * (programmatic dependent launch), when that kernel was the last thing enqueued; otherwise as {@link #launch}.
     * The kernel must wait for its inputs itself ({@code AWAIT_INPUTS} in pkv.h).
     */
    public void launchDependent(MemorySegment function, int[] grid, int[] block, int sharedBytes, MemorySegment[] argValues) {
        makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment params = params(a, argValues);
            if (afterKernel && canLaunchDependent()) driver.launchKernelDependent(function, grid, block, sharedBytes, stream, params);
            else driver.launchKernel(function, grid, block, sharedBytes, stream, params);
            afterKernel = true;
        }
    }

    /** Launches between two events on the stream without waiting; the returned supplier waits and reads them. */
    public Backend.DeferredTime launchTimed(MemorySegment function, int[] grid, int[] block, int sharedBytes,
                                                       MemorySegment[] argValues) {
        makeCurrent();
        MemorySegment start = driver.eventCreate(), end = driver.eventCreate();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment params = params(a, argValues);
            afterKernel = false;
            driver.eventRecord(start, stream);
            driver.launchKernel(function, grid, block, sharedBytes, stream, params);
            driver.eventRecord(end, stream);
        } catch (RuntimeException | Error e) {
            driver.eventDestroy(start);
            driver.eventDestroy(end);
            throw e;
        }
        return Backend.DeferredTime.once(() -> elapsedNanos(start, end), () -> {
            destroyEvent(start);
            destroyEvent(end);
        });
    }

    public void synchronize() {
        makeCurrent();
        driver.ctxSynchronize();
    }

    /** Page-locked, device-mapped host memory of {@code bytes}; see {@link CudaHostMemory}. */
    public CudaHostMemory allocateHost(long bytes) {
        makeCurrent();
        MemorySegment host = driver.memHostAlloc(bytes, CudaDriver.HOST_PORTABLE | CudaDriver.HOST_DEVICEMAP);
        return new CudaHostMemory(this, host, driver.memHostGetDevicePointer(host), false);
    }

    /** Page-locks and maps caller-owned memory (page-aligned, outliving the returned object). */
    public CudaHostMemory register(MemorySegment host) {
        makeCurrent();
        driver.memHostRegister(host, CudaDriver.HOST_PORTABLE | CudaDriver.HOST_DEVICEMAP);
        return new CudaHostMemory(this, host, driver.memHostGetDevicePointer(host), true);
    }

    /** A timing event recorded on the context's stream now (destroy it with {@link CudaDriver#eventDestroy}). */
    public MemorySegment recordEvent() {
        makeCurrent();
        MemorySegment e = driver.eventCreate();
        driver.eventRecord(e, stream);
        afterKernel = false;
        return e;
    }

    /** Nanoseconds between two recorded events; waits for {@code end}. */
    public long elapsedNanos(MemorySegment start, MemorySegment end) {
        makeCurrent();
        driver.eventSynchronize(end);
        return Math.round(driver.eventElapsedMillis(start, end) * 1e6);
    }

    public void destroyEvent(MemorySegment e) {
        makeCurrent();
        driver.eventDestroy(e);
    }

    /** Whether {@link #capture} works here (the driver has CUDA graphs). */
    public boolean canCapture() {
        return driver.supportsGraphs();
    }

    /**
     * Records the launches and enqueued copies {@code work} makes on this context's stream into a CUDA graph,
     * instead of running them, and returns it instantiated. The calling thread must make no blocking call meanwhile.
     */
    public CudaGraph capture(Runnable work) {
        makeCurrent();
        driver.streamBeginCapture(stream, CudaDriver.STREAM_CAPTURE_MODE_THREAD_LOCAL);
        afterKernel = false; // a graph's first kernel waits for whatever runs before the graph
        MemorySegment graph;
        try {
            work.run();
        } catch (RuntimeException | Error e) {
            try {
                driver.graphDestroy(driver.streamEndCapture(stream));
            } catch (RuntimeException ignored) {
                // the capture was invalidated by the failure; the stream is usable again either way
            }
            throw e;
        }
        graph = driver.streamEndCapture(stream);
        afterKernel = false;
        try {
            return new CudaGraph(this, driver.graphInstantiate(graph));
        } finally {
            driver.graphDestroy(graph); // the executable keeps what it needs
        }
    }

    /** Enqueues one run of an instantiated graph on the context's stream. */
    void launchGraph(MemorySegment exec) {
        makeCurrent();
        driver.graphLaunch(exec, stream);
        afterKernel = false;
    }

    void destroyGraph(MemorySegment exec) {
        makeCurrent();
        driver.graphExecDestroy(exec);
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            makeCurrent();
            synchronize();
            driver.streamDestroy(stream);
            driver.primaryCtxRelease(device);
        }
    }
}
