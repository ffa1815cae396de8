package org.pariskv.compute;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;

/**
 * One device driven by one backend. Obtain with {@link Backends#open(DeviceInfo)}: instances are shared
 * per device for the life of the process, so compiled programs are reused across plans.
 *
 * <p>All implementations are thread-safe: compilation is cached atomically, launches of one kernel are
 * serialised (OpenCL keeps arguments on the kernel object), copies are blocking.
 */
public sealed interface Backend extends AutoCloseable permits JavaBackend, OpenClBackend, CudaBackend {

    DeviceInfo device();

    /**
     * Compiles {@code source} (already including pkv.h) with {@code defines} as {@code -DNAME=VALUE}.
     * Cached per device + source hash + options.
     *
     * @throws ComputeException carrying the compiler's full log when the source does not compile
     */
    Program compile(String sourceName, String source, Map<String, String> defines);

    /** A device allocation of {@code bytes} (contents undefined). */
    DeviceBuffer allocate(long bytes);

    /**
     * Host memory of {@code bytes} (contents undefined) that kernels read and write in place, used exactly
     * like a device buffer: as a kernel argument and with {@link #copyIn}, {@link #copyOut} and {@link #zero}.
     * Meant for host memory kernels touch sparsely or that copies start from (staging rows; offloaded K/V rows where
     * {@link #mapHostRange} is unavailable: they grow by segments there).
     * <ul>
     *   <li>CUDA: page-locked host memory mapped into the device's address space
     *       ({@code cuMemHostAlloc(PORTABLE|DEVICEMAP)}, kernels get {@code cuMemHostGetDevicePointer_v2});
     *       {@link DeviceBuffer#hostSegment()} is the host view; freed with {@code cuMemFreeHost}.</li>
     *   <li>OpenCL: a {@code CL_MEM_ALLOC_HOST_PTR} buffer. The driver decides whether kernels read it in
     *       place over the bus or from a device-side copy: PoCL (CPU) reads it in place; NVIDIA's OpenCL may or
     *       may not (to be measured on the GPU). No host view: copies go through the queue.</li>
     *   <li>Java: plain native memory (as {@link #allocate}).</li>
     * </ul>
     * The buffer's {@link DeviceBuffer#kind()} says which path was taken.
     */
    DeviceBuffer allocateHostMapped(long bytes);

    /**
     * Kernels' view of {@code range}: caller-owned, page-aligned host memory (typically reserved address space that is
     * committed as it is written), addressed by kernels at one base pointer, with {@link #copyIn}, {@link #copyOut} and
     * {@link #zero} like any buffer. Pieces must be {@link MappedHostRange#commit committed} before kernels use them;
     * {@code range} must outlive the returned buffer. Nothing is allocated or copied.
     * <ul>
     *   <li>CUDA: each committed piece is page-locked and mapped once ({@code cuMemHostRegister(PORTABLE|DEVICEMAP)});
     *       kernels use the host address itself, which needs the device attribute
     *       {@code CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM} (64-bit Linux with unified addressing; checked per piece
     *       with {@code cuMemHostGetDevicePointer_v2}); {@link DeviceBuffer#hostSegment()} is {@code range}.</li>
     *   <li>OpenCL: a {@code CL_MEM_USE_HOST_PTR} buffer over the whole range; commit does nothing. PoCL reads the
     *       range in place; a GPU driver may keep a device copy of it (NVIDIA's does for host-pointer buffers).
     *       No host view: copies go through the queue.</li>
     *   <li>Java: the range itself.</li>
     * </ul>
     *
     * @throws UnsupportedOperationException with the reason, where kernels cannot address the range at one base
     *                                       pointer (CUDA without CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM)
     */
    MappedHostRange mapHostRange(MemorySegment range);

    /** Blocking copy of all of {@code src} (heap or native) to the start of {@code dst}. */
    default void copyIn(DeviceBuffer dst, MemorySegment src) {
        copyIn(dst, 0, src);
    }

    /** Blocking copy of all of {@code src} into {@code dst} at byte {@code offset}. */
    void copyIn(DeviceBuffer dst, long offset, MemorySegment src);

    /**
     * Enqueues a copy of {@code src} into {@code dst} at byte {@code offset}, in order with launches, and returns at
     * once: one step's small uploads then cost no round trip each. {@code src} must be native memory that stays
     * unchanged until the next {@link #finish()} or blocking copy; {@link #pin} it so CUDA copies it by DMA.
     */
    void copyInAsync(DeviceBuffer dst, long offset, MemorySegment src);

    /**
     * Page-locks native, page-aligned {@code host} memory until the returned handle is closed (CUDA
     * {@code cuMemHostRegister}; a no-op elsewhere). Costly: pin long-lived staging memory once.
     */
    HostPin pin(MemorySegment host);

    /** A pinned host range; {@link #close()} unpins it (before its memory is freed). */
    interface HostPin extends AutoCloseable {
        @Override
        void close();
    }

    /** Blocking copy of {@code dst.byteSize()} bytes from the start of {@code src} into {@code dst}. */
    default void copyOut(MemorySegment dst, DeviceBuffer src) {
        copyOut(dst, src, 0);
    }

    /** Blocking copy of {@code dst.byteSize()} bytes from {@code src} at byte {@code offset} into {@code dst}. */
    void copyOut(MemorySegment dst, DeviceBuffer src, long offset);

    /** Sets {@code bytes} bytes of {@code dst} from {@code offset} to zero. */
    void zero(DeviceBuffer dst, long offset, long bytes);

    /**
     * Define that turns on strict float semantics at compile time: no FMA contraction and correctly rounded
     * division and square root (CUDA {@code --fmad=false}, OpenCL {@code -cl-fp32-correctly-rounded-divide-sqrt}),
     * so kernels reproduce their Java twins' arithmetic.
     */
    String STRICT_FP = "PKV_STRICT_FP";

    /**
     * Launches {@code kernel} over {@code grid} with {@code args} in parameter order.
     *
     * @param profile when true, waits for the kernel and returns its device time
     * @return device time in ns when profiling, else -1
     */
    long launch(Kernel kernel, Grid grid, List<KernelArg> args, boolean profile);

    /** Waits for everything enqueued so far. */
    void finish();

    /**
     * Launches like {@link #launch} and returns the kernel's device time to read later: nothing waits now, so timed
     * launches stay back to back on the device and their times leave out the host's launch latency.
     */
    default DeferredTime launchTimed(Kernel kernel, Grid grid, List<KernelArg> args) {
        long ns = launch(kernel, grid, args, true);
        return () -> ns;
    }

    /** A kernel's device time, known once it ran: {@link #nanos()} waits for it (and frees what timed it). */
    @FunctionalInterface
    interface DeferredTime {
        long nanos();

        /** A time {@code read} gives on the first call (it may wait), after which {@code release} runs once. */
        static DeferredTime once(java.util.function.LongSupplier read, Runnable release) {
            return new DeferredTime() {
                private long ns = -1;

                @Override
                public synchronized long nanos() {
                    if (ns < 0) {
                        try {
                            ns = read.getAsLong();
                        } finally {
                            release.run();
                        }
                    }
                    return ns;
                }
            };
        }
    }

    /**
     * A view of bytes {@code [offset, offset + bytes)} of {@code parent}, usable wherever a buffer is (kernel argument,
     * copies): several small buffers carved out of one can then be filled by one copy. It shares the parent's memory,
     * frees nothing of it and must not outlive it. {@code offset} must be a multiple of {@link #sliceAlignment()}.
     */
    DeviceBuffer slice(DeviceBuffer parent, long offset, long bytes);

    /** The alignment {@link #slice} offsets need (OpenCL: the device's base address alignment; CUDA 256). */
    long sliceAlignment();

    /**
     * Marks the device's queue here: the mark is reached when all work enqueued before it has run. Two marks give
     * the device time between them ({@link Mark#nanosTo}) without waiting in between, so a step's device time
     * excludes the host's waits (CUDA events, OpenCL markers with profiling; java: the host clock).
     */
    Mark mark();

    /** A point in the device's queue; close it once read. */
    interface Mark extends AutoCloseable {
        /** Device nanoseconds from this mark to {@code later} (waits until {@code later} is reached). */
        long nanosTo(Mark later);

        @Override
        void close();
    }

    /** Whether {@link #launchDependent} lets a kernel start before the one enqueued before it ends (CUDA, sm_90+). */
    default boolean canLaunchDependent() {
        return false;
    }

    /**
     * Enqueues {@code kernel} so that it may be scheduled while the kernel enqueued just before it finishes (CUDA
     * programmatic dependent launch); the kernel waits for its inputs itself ({@code AWAIT_INPUTS} in pkv.h).
     * Elsewhere, and after anything but a kernel, a plain {@link #launch}.
     */
    default void launchDependent(Kernel kernel, Grid grid, List<KernelArg> args) {
        launch(kernel, grid, args, false);
    }

    /**
     * Records what {@code work} enqueues on this device ({@link #launch} without profiling, {@link #copyInAsync} from
     * page-locked memory) into one replayable unit instead of running it: CUDA graphs by stream capture. Returns
     * null where the backend has no such thing (OpenCL, java); {@code work} has then not run.
     */
    default Recording record(Runnable work) {
        return null;
    }

    /** Recorded work: each {@link #replay()} enqueues all of it again, with the arguments and addresses it had. */
    interface Recording extends AutoCloseable {
        void replay();

        @Override
        void close();
    }

    /** Releases the context; only {@link Backends#closeAll()} should call this on shared instances. */
    @Override
    void close();
}
