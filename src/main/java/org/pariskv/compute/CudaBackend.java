package org.pariskv.compute;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.pariskv.compute.cuda.CudaContext;
import org.pariskv.compute.cuda.CudaDriver;
import org.pariskv.compute.cuda.CudaHostMemory;
import org.pariskv.compute.cuda.CudaModule;
import org.pariskv.compute.cuda.Nvrtc;

/**
 * A CUDA device through the driver API, kernels compiled by NVRTC to a cubin for the device's own
 * {@code sm_XY} (PTX fallback). Cubins are cached in memory and on disk under
 * {@code ~/.cache/pariskv/cuda/} keyed by device name + source + options.
 */
public final class CudaBackend implements Backend {
    private static final System.Logger LOG = System.getLogger("org.pariskv.compute");

    private final DeviceInfo device;
    private final CudaContext context;
    private final Nvrtc nvrtc;
    private final int maxThreadsPerBlock;
    private final boolean hostPointerIsDevicePointer;
    private final Map<String, CudaProgram> programs = new ConcurrentHashMap<>();

    CudaBackend(DeviceInfo device, CudaDriver driver, Nvrtc nvrtc) {
        this.device = device;
        this.nvrtc = nvrtc;
        this.context = new CudaContext(driver, device.index());
        this.maxThreadsPerBlock = driver.deviceAttribute(CudaDriver.ATTR_MAX_THREADS_PER_BLOCK, context.device());
        boolean hostPointer;
        try {
            hostPointer = driver.deviceAttribute(CudaDriver.ATTR_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM, context.device()) == 1;
        } catch (RuntimeException e) {
            hostPointer = false; // attribute unknown to this driver
        }
        this.hostPointerIsDevicePointer = hostPointer;
    }

    /**
     * Whether kernels may use the host address of registered host memory as its device address (device attribute
     * {@code CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM}: 64-bit Linux with unified addressing); {@link #mapHostRange}
     * needs it.
     */
    public boolean hostPointerIsDevicePointer() {
        return hostPointerIsDevicePointer;
    }

    /** Describes CUDA device {@code ordinal}; peak bandwidth from memory clock x bus width (x2 for DDR). */
    static DeviceInfo describe(CudaDriver d, int ordinal) {
        int dev = d.device(ordinal);
        int major = d.deviceAttribute(CudaDriver.ATTR_COMPUTE_CAPABILITY_MAJOR, dev);
        int minor = d.deviceAttribute(CudaDriver.ATTR_COMPUTE_CAPABILITY_MINOR, dev);
        double bandwidth;
        try {
            long clockKHz = d.deviceAttribute(CudaDriver.ATTR_MEMORY_CLOCK_RATE, dev);
            long busBits = d.deviceAttribute(CudaDriver.ATTR_GLOBAL_MEMORY_BUS_WIDTH, dev);
            bandwidth = 2.0 * clockKHz * 1000 * busBits / 8;
        } catch (RuntimeException e) {
            bandwidth = 0; // attribute retired by some drivers
        }
        int v = d.driverVersion();
        return new DeviceInfo(BackendKind.CUDA, ordinal, "CUDA " + v / 1000 + "." + (v % 1000) / 10 + " sm_" + major + minor,
                d.deviceName(dev), DeviceType.GPU, d.deviceTotalMem(dev),
                d.deviceAttribute(CudaDriver.ATTR_MULTIPROCESSOR_COUNT, dev),
                d.deviceAttribute(CudaDriver.ATTR_MAX_THREADS_PER_BLOCK, dev),
                d.deviceAttribute(CudaDriver.ATTR_MAX_SHARED_MEMORY_PER_BLOCK, dev), bandwidth);
    }

    /** The underlying context, for work the uniform API does not cover (mapped host memory). */
    public CudaContext context() {
        return context;
    }

    /** The {@code CUfunction} behind a kernel of this backend, for launches through {@link #context()}. */
    public MemorySegment functionHandle(Kernel kernel) {
        return ((CudaKernel) kernel).function;
    }

    @Override
    public DeviceInfo device() {
        return device;
    }

    @Override
    public Program compile(String sourceName, String source, Map<String, String> defines) {
        List<String> options = new ArrayList<>(ProgramKey.defineOptions(defines));
        if (defines.containsKey(STRICT_FP)) options.add("--fmad=false");
        String arch = context.computeCapabilityMajor() + "" + context.computeCapabilityMinor();
        String key = ProgramKey.of(device.name(), "sm_" + arch, String.join(" ", options), source);
        return programs.computeIfAbsent(key, k -> {
            byte[] image = readCache(k);
            if (image == null) {
                Nvrtc.Output out = nvrtc.compile(sourceName, source, options,
                        context.computeCapabilityMajor(), context.computeCapabilityMinor());
                image = out.image();
                if (out.cubin()) writeCache(k, image);
            }
            return new CudaProgram(sourceName, source, options, context.loadModule(image));
        });
    }

    private static Path cacheFile(String key) {
        return Path.of(System.getProperty("user.home"), ".cache", "pariskv", "cuda", key + ".cubin");
    }

    private static byte[] readCache(String key) {
        try {
            Path f = cacheFile(key);
            return Files.isRegularFile(f) ? Files.readAllBytes(f) : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static void writeCache(String key, byte[] cubin) {
        Path f = cacheFile(key);
        try {
            Files.createDirectories(f.getParent());
            Path tmp = Files.createTempFile(f.getParent(), key, ".tmp");
            Files.write(tmp, cubin);
            try {
                Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "cubin cache not written: " + e.getMessage());
        }
    }

    @Override
    public DeviceBuffer allocate(long bytes) {
        return new Buffer(context, context.alloc(bytes), Math.max(1, bytes), null, null, MemoryKind.DEVICE, true);
    }

    /**
     * Page-locked host memory mapped into the device ({@code cuMemHostAlloc(PORTABLE|DEVICEMAP)}); kernels
     * get the pointer of {@code cuMemHostGetDevicePointer_v2}. Copies and zeroing are host-side memcpy/fill
     * after waiting for the device (so they stay ordered after earlier kernels, like device copies).
     */
    @Override
    public DeviceBuffer allocateHostMapped(long bytes) {
        CudaHostMemory host = context.allocateHost(Math.max(1, bytes));
        return new Buffer(context, host.devicePointer(), Math.max(1, bytes), host.host(), host, MemoryKind.CUDA_HOST_MAPPED, true);
    }

    /**
     * The range at its own address: each committed piece is registered once ({@code cuMemHostRegister(PORTABLE|
     * DEVICEMAP)}, page-rounded, pages already registered skipped, so neighbouring pieces never register a page twice)
     * and its device pointer checked to equal its host address; close unregisters every piece. Copies and zeroing
     * are host-side, after waiting for the device, as for {@link #allocateHostMapped}.
     */
    @Override
    public MappedHostRange mapHostRange(MemorySegment range) {
        if (!hostPointerIsDevicePointer) {
            throw new UnsupportedOperationException(device.spec() + " reports CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM = 0:"
                    + " registered host memory has a device address of its own, so kernels cannot reach a range registered piece by piece at one base pointer");
        }
        if (!range.isNative()) throw new IllegalArgumentException("mapHostRange needs native memory");
        return new RegisteredRange(context, range);
    }

    @Override
    public void copyIn(DeviceBuffer dst, long offset, MemorySegment src) {
        Buffer b = (Buffer) dst;
        if (b.host != null) {
            context.synchronize();
            MemorySegment.copy(src, 0, b.host, offset, src.byteSize());
            return;
        }
        long ptr = b.ptr + offset;
        if (src.isNative()) {
            context.copyIn(ptr, src);
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment staged = a.allocate(src.byteSize(), 64);
            staged.copyFrom(src);
            context.copyIn(ptr, staged);
        }
    }

    @Override
    public void copyInAsync(DeviceBuffer dst, long offset, MemorySegment src) {
        Buffer b = (Buffer) dst;
        if (b.host != null || !src.isNative()) {
            copyIn(dst, offset, src); // host-mapped destination or heap source: nothing to overlap
            return;
        }
        context.copyInAsync(b.ptr + offset, src);
    }

    @Override
    public HostPin pin(MemorySegment host) {
        var registered = context.register(host);
        return registered::close;
    }

    @Override
    public void zero(DeviceBuffer dst, long offset, long bytes) {
        if (bytes <= 0) return;
        Buffer b = (Buffer) dst;
        if (b.host != null) {
            context.synchronize();
            b.host.asSlice(offset, bytes).fill((byte) 0);
            return;
        }
        context.fill(b.ptr + offset, (byte) 0, bytes);
    }

    @Override
    public void copyOut(MemorySegment dst, DeviceBuffer src, long offset) {
        Buffer b = (Buffer) src;
        if (b.host != null) {
            context.synchronize();
            MemorySegment.copy(b.host, offset, dst, 0, dst.byteSize());
            return;
        }
        long ptr = b.ptr + offset;
        if (dst.isNative()) {
            context.copyOut(dst, ptr);
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment staged = a.allocate(dst.byteSize(), 64);
            context.copyOut(staged, ptr);
            dst.copyFrom(staged);
        }
    }

    /**
     * Local-memory arguments ({@code LOCAL_ARG} in pkv.h) become an {@code int} byte count parameter
     * plus dynamic shared memory; at most one per kernel, since CUDA has one dynamic shared region.
     */
    @Override
    public long launch(Kernel kernel, Grid grid, List<KernelArg> args, boolean profile) {
        try (Arena a = Arena.ofConfined()) {
            Launch l = prepare((CudaKernel) kernel, grid, args, a);
            return context.launch(l.function(), l.blocks(), l.block(), l.shared(), l.values(), profile);
        }
    }

    @Override
    public boolean canLaunchDependent() {
        return context.canLaunchDependent();
    }

    @Override
    public void launchDependent(Kernel kernel, Grid grid, List<KernelArg> args) {
        try (Arena a = Arena.ofConfined()) {
            Launch l = prepare((CudaKernel) kernel, grid, args, a);
            context.launchDependent(l.function(), l.blocks(), l.block(), l.shared(), l.values());
        }
    }

    /** Events around the launch, read when asked: timed kernels stay back to back on the stream. */
    @Override
    public DeferredTime launchTimed(Kernel kernel, Grid grid, List<KernelArg> args) {
        try (Arena a = Arena.ofConfined()) {
            Launch l = prepare((CudaKernel) kernel, grid, args, a);
            return context.launchTimed(l.function(), l.blocks(), l.block(), l.shared(), l.values());
        }
    }

    private record Launch(MemorySegment function, int[] blocks, int[] block, int shared, MemorySegment[] values) {}

    /**
     * Grid in blocks and the parameter values. Local-memory arguments ({@code LOCAL_ARG} in pkv.h) become an
     * {@code int} byte count parameter plus dynamic shared memory; at most one per kernel, since CUDA has one
     * dynamic shared region.
     */
    private Launch prepare(CudaKernel k, Grid grid, List<KernelArg> args, Arena a) {
        long[] global = grid.global();
        long[] local = grid.local() != null ? grid.local() : defaultBlock(global);
        int[] block = {1, 1, 1};
        int[] blocks = {1, 1, 1};
        for (int d = 0; d < global.length; d++) {
            block[d] = Math.toIntExact(local[d]);
            blocks[d] = Math.toIntExact((global[d] + local[d] - 1) / local[d]);
        }
        long shared = 0;
        MemorySegment[] values = new MemorySegment[args.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = switch (args.get(i)) {
                case KernelArg.Buffer b -> a.allocateFrom(JAVA_LONG, ((Buffer) b.buffer()).ptr);
                case KernelArg.Local l -> {
                    if (shared != 0) throw new ComputeException("kernel " + k.name + ": CUDA allows one LOCAL_ARG");
                    shared = l.bytes();
                    yield a.allocateFrom(JAVA_INT, Math.toIntExact(l.bytes()));
                }
                case KernelArg.Int v -> a.allocateFrom(JAVA_INT, v.value());
                case KernelArg.Long v -> a.allocateFrom(JAVA_LONG, v.value());
                case KernelArg.Float v -> a.allocateFrom(JAVA_FLOAT, v.value());
            };
        }
        if (shared > 48 * 1024) k.allowSharedBytes(shared);
        return new Launch(k.function, blocks, block, Math.toIntExact(shared), values);
    }

    private long[] defaultBlock(long[] global) {
        return switch (global.length) {
            case 1 -> new long[] {Math.min(256, maxThreadsPerBlock)};
            case 2 -> new long[] {32, 8};
            default -> new long[] {8, 8, 4};
        };
    }

    @Override
    public void finish() {
        context.synchronize();
    }

    @Override
    public DeviceBuffer slice(DeviceBuffer parent, long offset, long bytes) {
        java.util.Objects.checkFromIndexSize(offset, bytes, parent.bytes());
        if (offset % sliceAlignment() != 0) throw new IllegalArgumentException("slice offset " + offset + " is not a multiple of " + sliceAlignment());
        return new View((Buffer) parent, offset, bytes);
    }

    @Override
    public long sliceAlignment() {
        return 256;
    }

    @Override
    public Mark mark() {
        return new EventMark(context, context.recordEvent());
    }

    /** A CUDA event recorded on the context's stream. */
    private static final class EventMark implements Mark {
        private final CudaContext context;
        private MemorySegment event;

        EventMark(CudaContext context, MemorySegment event) {
            this.context = context;
            this.event = event;
        }

        @Override
        public long nanosTo(Mark later) {
            if (event == null || !(later instanceof EventMark l) || l.event == null) {
                throw new IllegalArgumentException("marks must be open marks of the same CUDA device");
            }
            return context.elapsedNanos(event, l.event);
        }

        @Override
        public synchronized void close() {
            if (event != null) context.destroyEvent(event);
            event = null;
        }
    }

    /** CUDA graphs: {@code work} runs under stream capture, the graph is instantiated once and replayed. */
    @Override
    public Recording record(Runnable work) {
        if (!context.canCapture()) return null;
        org.pariskv.compute.cuda.CudaGraph graph = context.capture(work);
        return new Recording() {
            @Override
            public void replay() {
                graph.launch();
            }

            @Override
            public void close() {
                graph.close();
            }
        };
    }

    @Override
    public void close() {
        programs.values().forEach(p -> p.module.close());
        programs.clear();
        context.close();
    }

    /** Device memory ({@code host == null}) or mapped host memory ({@code ptr} is then its device pointer, {@code host} its host view). */
    private static class Buffer implements DeviceBuffer {
        final CudaContext context;
        final long ptr;
        private final long bytes;
        final MemorySegment host;
        private final CudaHostMemory allocation; // cuMemHostAlloc'd memory freed on close, or null
        private final MemoryKind kind;
        private final boolean counted;
        private boolean closed;

        /** @param counted whether the backend's ledger counts it (not for caller-owned host ranges) */
        Buffer(CudaContext context, long ptr, long bytes, MemorySegment host, CudaHostMemory allocation, MemoryKind kind, boolean counted) {
            this.context = context;
            this.ptr = ptr;
            this.bytes = bytes;
            this.host = host;
            this.allocation = allocation;
            this.kind = kind;
            this.counted = counted;
            if (counted) NativeMemoryLedger.allocated(kind, bytes);
        }

        @Override
        public long bytes() {
            return bytes;
        }

        @Override
        public MemoryKind kind() {
            return kind;
        }

        @Override
        public MemorySegment hostSegment() {
            return host;
        }

        /** Frees what this buffer owns. */
        void release() {
            if (allocation != null) allocation.close(); // cuMemFreeHost; the device pointer dies with it
            else context.free(ptr);
        }

        @Override
        public final synchronized void close() {
            if (closed) return;
            closed = true;
            release();
            if (counted) NativeMemoryLedger.freed(kind, bytes);
        }
    }

    /** A device-memory view: frees nothing, not on the ledger. */
    private static final class View extends Buffer {
        View(Buffer parent, long offset, long bytes) {
            super(parent.context, parent.ptr + offset, bytes, parent.host == null ? null : parent.host.asSlice(offset, bytes),
                    null, parent.kind(), false);
        }

        @Override
        void release() {}
    }

    /** A caller-owned host range at its own address, registered piece by piece ({@link #mapHostRange}). */
    private static final class RegisteredRange extends Buffer implements MappedHostRange {
        private final long page = org.pariskv.compute.ffm.ReservedMemory.pageSize();
        private final java.util.TreeMap<Long, CudaHostMemory> pieces = new java.util.TreeMap<>(); // by offset in the range
        private long registered;

        RegisteredRange(CudaContext context, MemorySegment range) {
            super(context, range.address(), range.byteSize(), range, null, MemoryKind.CUDA_HOST_REGISTERED, false);
        }

        @Override
        public synchronized void commit(long offset, long bytes) {
            java.util.Objects.checkFromIndexSize(offset, bytes, bytes());
            if (bytes == 0) return;
            long at = offset / page * page, hi = Math.min(bytes(), (offset + bytes + page - 1) / page * page);
            while (at < hi) {
                var covering = pieces.floorEntry(at);
                if (covering != null && covering.getKey() + covering.getValue().host().byteSize() > at) {
                    at = covering.getKey() + covering.getValue().host().byteSize();
                    continue;
                }
                Long next = pieces.higherKey(at);
                long end = next == null ? hi : Math.min(hi, next);
                register(at, end - at);
                at = end;
            }
        }

        private void register(long offset, long length) {
            MemorySegment piece = host.asSlice(offset, length);
            CudaHostMemory m = context.register(piece);
            if (m.devicePointer() != piece.address()) {
                m.close();
                throw new IllegalStateException("cuMemHostGetDevicePointer_v2 gave 0x" + Long.toHexString(m.devicePointer())
                        + " for host memory at 0x" + Long.toHexString(piece.address()) + ": kernels would not find it at the range's base pointer");
            }
            pieces.put(offset, m);
            registered += length;
        }

        @Override
        public synchronized int registrations() {
            return pieces.size();
        }

        @Override
        public synchronized long registeredBytes() {
            return registered;
        }

        /** Unregisters every piece (all are tried; the first failure is thrown after). */
        @Override
        synchronized void release() {
            RuntimeException first = null;
            for (CudaHostMemory m : pieces.values()) {
                try {
                    m.close();
                } catch (RuntimeException e) {
                    if (first == null) first = e;
                }
            }
            pieces.clear();
            registered = 0;
            if (first != null) throw first;
        }
    }

    private final class CudaKernel implements Kernel {
        final String name;
        final MemorySegment function;
        private volatile long allowedShared = 48 * 1024;

        CudaKernel(String name, MemorySegment function) {
            this.name = name;
            this.function = function;
        }

        @Override
        public String name() {
            return name;
        }

        synchronized void allowSharedBytes(long bytes) {
            if (bytes <= allowedShared) return;
            context.makeCurrent();
            context.driver().funcSetAttribute(function, CudaDriver.FUNC_ATTR_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    Math.toIntExact(bytes));
            allowedShared = bytes;
        }
    }

    private final class CudaProgram implements Program {
        private final String sourceName;
        private final String source;
        private final List<String> options;
        private final CudaModule module;
        private final Map<String, CudaKernel> kernels = new ConcurrentHashMap<>();
        private volatile String ptx;

        CudaProgram(String sourceName, String source, List<String> options, CudaModule module) {
            this.sourceName = sourceName;
            this.source = source;
            this.options = options;
            this.module = module;
        }

        @Override
        public String sourceName() {
            return sourceName;
        }

        @Override
        public String source() {
            return source;
        }

        /** PTX for this device's compute capability, compiled on first request. */
        @Override
        public String assembly() {
            String p = ptx;
            if (p == null) {
                byte[] img = nvrtc.ptx(sourceName, source, options, context.computeCapabilityMajor(),
                        context.computeCapabilityMinor()).image();
                int n = img.length;
                while (n > 0 && img[n - 1] == 0) n--;
                p = new String(img, 0, n, java.nio.charset.StandardCharsets.UTF_8);
                ptx = p;
            }
            return p;
        }

        @Override
        public Kernel kernel(String name) {
            return kernels.computeIfAbsent(name, n -> new CudaKernel(n, module.function(n)));
        }
    }
}
