package org.pariskv.compute;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.pariskv.compute.opencl.ClBuffer;
import org.pariskv.compute.opencl.ClContext;
import org.pariskv.compute.opencl.ClDevice;
import org.pariskv.compute.opencl.ClKernel;
import org.pariskv.compute.opencl.ClProgram;
import org.pariskv.compute.opencl.OpenCl;

/** An OpenCL device (a GPU driver or PoCL on the CPU): one context, one profiling queue, cached programs. */
public final class OpenClBackend implements Backend {
    private final DeviceInfo device;
    private final ClContext context;
    private final Map<String, ClProgramHandle> programs = new ConcurrentHashMap<>();

    OpenClBackend(DeviceInfo device, OpenCl cl, ClDevice clDevice) {
        this.device = device;
        this.context = new ClContext(cl, clDevice);
    }

    /** Describes an OpenCL device for listings; bandwidth is unknown to OpenCL, hence 0. */
    static DeviceInfo describe(int index, ClDevice d) {
        DeviceType type = d.isGpu() ? DeviceType.GPU : d.isCpu() ? DeviceType.CPU
                : (d.type() & OpenCl.CL_DEVICE_TYPE_ACCELERATOR) != 0 ? DeviceType.ACCELERATOR : DeviceType.OTHER;
        return new DeviceInfo(BackendKind.OPENCL, index, d.platformName(), d.name(), type, d.globalMemBytes(),
                d.computeUnits(), d.maxWorkGroupSize(), d.localMemBytes(), 0);
    }

    /** The underlying context, for work the uniform API does not cover (host-pointer buffers). */
    public ClContext context() {
        return context;
    }

    @Override
    public DeviceInfo device() {
        return device;
    }

    @Override
    public Program compile(String sourceName, String source, Map<String, String> defines) {
        String options = String.join(" ", ProgramKey.defineOptions(defines))
                + (defines.containsKey(STRICT_FP) ? " -cl-fp32-correctly-rounded-divide-sqrt" : "");
        String key = ProgramKey.of(source, options);
        return programs.computeIfAbsent(key, k ->
                new ClProgramHandle(sourceName, source, context.buildProgram(sourceName, source, options)));
    }

    @Override
    public DeviceBuffer allocate(long bytes) {
        return new Buffer(context.createBuffer(Math.max(1, bytes)), MemoryKind.DEVICE);
    }

    /**
     * A {@code CL_MEM_ALLOC_HOST_PTR} buffer: host-visible memory the driver allocates. PoCL reads it in place;
     * whether NVIDIA's OpenCL reads it over the bus or migrates it to the device is the driver's choice (measured
     * on the GPU machine). Copies go through the queue like any buffer.
     */
    @Override
    public DeviceBuffer allocateHostMapped(long bytes) {
        return new Buffer(context.createPinnedBuffer(Math.max(1, bytes)), MemoryKind.OPENCL_ALLOC_HOST_PTR);
    }

    /**
     * A {@code CL_MEM_USE_HOST_PTR} buffer over {@code range}: PoCL reads and writes the range in place, so its pages
     * are committed as kernels and copies write them; a GPU driver may keep a device copy instead (NVIDIA's OpenCL
     * does for host-pointer buffers, measured with ALLOC_HOST_PTR), which is then no offload at all. Commit has nothing
     * to do here: the buffer covers the whole range from the start.
     */
    @Override
    public MappedHostRange mapHostRange(MemorySegment range) {
        return new HostRangeBuffer(context.createHostBuffer(range));
    }

    /**
     * Maps all of {@code buffer} (one of this backend's) for host reads and writes until {@link #unmap}. For a
     * {@code CL_MEM_ALLOC_HOST_PTR} buffer the mapping is the driver's pinned host memory: the fast source of
     * {@link #copyIn} into a device buffer (NVIDIA's pinned-transfer pattern). The segment may be used from any
     * thread; no kernel may use the buffer while it is mapped.
     */
    public MemorySegment map(DeviceBuffer buffer) {
        return ((Buffer) buffer).buffer.map();
    }

    /** Ends a mapping of {@link #map}. */
    public void unmap(DeviceBuffer buffer, MemorySegment mapped) {
        ((Buffer) buffer).buffer.unmap(mapped);
    }

    @Override
    public void copyIn(DeviceBuffer dst, long offset, MemorySegment src) {
        ClBuffer b = ((Buffer) dst).buffer;
        if (src.isNative()) {
            b.write(offset, src);
            return;
        }
        try (Arena a = Arena.ofConfined()) { // the driver needs native memory
            MemorySegment staged = a.allocate(src.byteSize(), 64);
            staged.copyFrom(src);
            b.write(offset, staged);
        }
    }

    @Override
    public void copyInAsync(DeviceBuffer dst, long offset, MemorySegment src) {
        if (!src.isNative()) throw new IllegalArgumentException("copyInAsync needs native memory, got a heap segment");
        ((Buffer) dst).buffer.writeAsync(offset, src);
    }

    /** OpenCL has no pinning call: ALLOC_HOST_PTR buffers are the driver's pinned memory. */
    @Override
    public HostPin pin(MemorySegment host) {
        return () -> { };
    }

    @Override
    public void zero(DeviceBuffer dst, long offset, long bytes) {
        if (bytes <= 0) return;
        try (Arena a = Arena.ofConfined()) {
            ((Buffer) dst).buffer.fill(a.allocate(1), offset, bytes);
        }
    }

    @Override
    public void copyOut(MemorySegment dst, DeviceBuffer src, long offset) {
        ClBuffer b = ((Buffer) src).buffer;
        if (dst.isNative()) {
            b.read(offset, dst);
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment staged = a.allocate(dst.byteSize(), 64);
            b.read(offset, staged);
            dst.copyFrom(staged);
        }
    }

    @Override
    public long launch(Kernel kernel, Grid grid, List<KernelArg> args, boolean profile) {
        ClKernel k = ((ClKernelHandle) kernel).kernel;
        synchronized (k) { // arguments live on the kernel object until the enqueue
            setArgs(k, args);
            return k.enqueue(grid.global(), grid.local(), profile);
        }
    }

    @Override
    public DeferredTime launchTimed(Kernel kernel, Grid grid, List<KernelArg> args) {
        ClKernel k = ((ClKernelHandle) kernel).kernel;
        synchronized (k) {
            setArgs(k, args);
            return k.enqueueTimed(grid.global(), grid.local());
        }
    }

    private static void setArgs(ClKernel k, List<KernelArg> args) {
        for (int i = 0; i < args.size(); i++) {
            switch (args.get(i)) {
                case KernelArg.Buffer b -> k.setArg(i, ((Buffer) b.buffer()).buffer);
                case KernelArg.Local l -> k.setLocalArg(i, l.bytes());
                case KernelArg.Int v -> k.setArg(i, v.value());
                case KernelArg.Long v -> k.setArg(i, v.value());
                case KernelArg.Float v -> k.setArg(i, v.value());
            }
        }
    }

    @Override
    public void finish() {
        context.finish();
    }

    @Override
    public DeviceBuffer slice(DeviceBuffer parent, long offset, long bytes) {
        if (offset % sliceAlignment() != 0) throw new IllegalArgumentException("slice offset " + offset + " is not a multiple of " + sliceAlignment());
        Buffer p = (Buffer) parent;
        return new Buffer(p.buffer.region(offset, bytes), p.kind(), false);
    }

    /** CL_DEVICE_MEM_BASE_ADDR_ALIGN, in bytes (the driver gives bits). */
    @Override
    public long sliceAlignment() {
        return Math.max(1, context.cl().deviceInfoNumber(context.device().id(), OpenCl.CL_DEVICE_MEM_BASE_ADDR_ALIGN) / 8);
    }

    @Override
    public Mark mark() {
        return new MarkerMark(context.cl(), context.marker());
    }

    /** A marker command; its profiling END time is when the queue reached it. */
    private static final class MarkerMark implements Mark {
        private final OpenCl cl;
        private MemorySegment event;

        MarkerMark(OpenCl cl, MemorySegment event) {
            this.cl = cl;
            this.event = event;
        }

        private long reached() {
            cl.waitForEvent(event);
            return cl.eventProfilingInfo(event, OpenCl.CL_PROFILING_COMMAND_END);
        }

        @Override
        public long nanosTo(Mark later) {
            if (event == null || !(later instanceof MarkerMark l) || l.event == null) {
                throw new IllegalArgumentException("marks must be open marks of the same OpenCL device");
            }
            return l.reached() - reached();
        }

        @Override
        public synchronized void close() {
            if (event != null) cl.releaseEvent(event);
            event = null;
        }
    }

    @Override
    public void close() {
        programs.values().forEach(p -> p.program.close());
        programs.clear();
        context.close();
    }

    private static class Buffer implements DeviceBuffer {
        final ClBuffer buffer;
        private final MemoryKind kind;
        private final boolean counted;
        private boolean closed;

        Buffer(ClBuffer buffer, MemoryKind kind) {
            this(buffer, kind, true);
        }

        /** @param counted whether the backend's ledger counts it (not for caller-owned host ranges) */
        Buffer(ClBuffer buffer, MemoryKind kind, boolean counted) {
            this.buffer = buffer;
            this.kind = kind;
            this.counted = counted;
            if (counted) NativeMemoryLedger.allocated(kind, buffer.bytes());
        }

        @Override
        public long bytes() {
            return buffer.bytes();
        }

        @Override
        public MemoryKind kind() {
            return kind;
        }

        @Override
        public synchronized void close() {
            if (closed) return;
            closed = true;
            buffer.close();
            if (counted) NativeMemoryLedger.freed(kind, buffer.bytes());
        }
    }

    /** A USE_HOST_PTR buffer over a caller-owned range ({@link #mapHostRange}). */
    private static final class HostRangeBuffer extends Buffer implements MappedHostRange {
        HostRangeBuffer(ClBuffer buffer) {
            super(buffer, MemoryKind.OPENCL_USE_HOST_PTR, false);
        }

        @Override
        public void commit(long offset, long bytes) {
            java.util.Objects.checkFromIndexSize(offset, bytes, bytes());
        }
    }

    private record ClKernelHandle(String name, ClKernel kernel) implements Kernel {}

    private record ClProgramHandle(String sourceName, String source, ClProgram program) implements Program {
        @Override
        public String assembly() {
            return "";
        }

        @Override
        public Kernel kernel(String name) {
            return new ClKernelHandle(name, program.kernel(name));
        }
    }
}
