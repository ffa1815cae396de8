package org.pariskv.compute;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;

/**
 * The JVM as a device. Tasks run their Java twin bodies directly (the task graph calls them with the
 * original arrays, so there is nothing to copy); this class still offers real host "device" buffers so
 * code written against {@link Backend} works unchanged. There is no device code to launch.
 */
public final class JavaBackend implements Backend {
    private final DeviceInfo device;

    JavaBackend(DeviceInfo device) {
        this.device = device;
    }

    /** The JVM's own description: processors and max heap. */
    public static DeviceInfo describeJvm() {
        Runtime rt = Runtime.getRuntime();
        return new DeviceInfo(BackendKind.JAVA, 0, "JVM " + Runtime.version().feature(),
                "Java twins on " + System.getProperty("os.arch"), DeviceType.CPU, rt.maxMemory(),
                rt.availableProcessors(), 1, 0, 0);
    }

    @Override
    public DeviceInfo device() {
        return device;
    }

    /** Keeps the source (for printing); the Java backend never compiles device code. */
    @Override
    public Program compile(String sourceName, String source, Map<String, String> defines) {
        return new Program() {
            public String sourceName() {
                return sourceName;
            }

            public String source() {
                return source;
            }

            public String assembly() {
                return "";
            }

            public Kernel kernel(String name) {
                return () -> name;
            }
        };
    }

    @Override
    public DeviceBuffer allocate(long bytes) {
        Arena arena = Arena.ofShared();
        MemorySegment segment = arena.allocate(Math.max(1, bytes), 64);
        NativeMemoryLedger.allocated(MemoryKind.JVM_NATIVE, segment.byteSize());
        return new HostBuffer(arena, segment);
    }

    /** The same plain native memory as {@link #allocate}: on the JVM every buffer is host memory. */
    @Override
    public DeviceBuffer allocateHostMapped(long bytes) {
        return allocate(bytes);
    }

    /** The range itself: on the JVM every buffer is host memory; commit has nothing to do. */
    @Override
    public MappedHostRange mapHostRange(MemorySegment range) {
        return new HostRange(range);
    }

    @Override
    public void copyIn(DeviceBuffer dst, long offset, MemorySegment src) {
        MemorySegment.copy(src, 0, dst.hostSegment(), offset, src.byteSize());
    }

    @Override
    public void copyInAsync(DeviceBuffer dst, long offset, MemorySegment src) {
        copyIn(dst, offset, src);
    }

    @Override
    public HostPin pin(MemorySegment host) {
        return () -> { };
    }

    @Override
    public void copyOut(MemorySegment dst, DeviceBuffer src, long offset) {
        MemorySegment.copy(src.hostSegment(), offset, dst, 0, dst.byteSize());
    }

    @Override
    public void zero(DeviceBuffer dst, long offset, long bytes) {
        dst.hostSegment().asSlice(offset, bytes).fill((byte) 0);
    }

    /** Always fails: on the Java backend a task graph runs the task's Java twin instead of a kernel. */
    @Override
    public long launch(Kernel kernel, Grid grid, List<KernelArg> args, boolean profile) {
        throw new ComputeException("the java backend has no device kernels: task '" + kernel.name()
                + "' runs as its Java twin (TaskGraph does that)");
    }

    @Override
    public void finish() {}

    @Override
    public DeviceBuffer slice(DeviceBuffer parent, long offset, long bytes) {
        java.util.Objects.checkFromIndexSize(offset, bytes, parent.bytes());
        if (offset % sliceAlignment() != 0) throw new IllegalArgumentException("slice offset " + offset + " is not a multiple of " + sliceAlignment());
        return new HostRange(parent.hostSegment().asSlice(offset, bytes));
    }

    @Override
    public long sliceAlignment() {
        return 64;
    }

    /** The host clock: java work runs when called, so the time between marks is the work's. */
    @Override
    public Mark mark() {
        return new HostMark(System.nanoTime());
    }

    private record HostMark(long at) implements Mark {
        @Override
        public long nanosTo(Mark later) {
            if (!(later instanceof HostMark l)) throw new IllegalArgumentException("marks must come from the java backend");
            return l.at - at;
        }

        @Override
        public void close() {}
    }

    @Override
    public void close() {}

    /** Host memory standing in for device memory. */
    public record HostBuffer(Arena arena, MemorySegment segment) implements DeviceBuffer {
        @Override
        public long bytes() {
            return segment.byteSize();
        }

        @Override
        public MemoryKind kind() {
            return MemoryKind.JVM_NATIVE;
        }

        @Override
        public MemorySegment hostSegment() {
            return segment;
        }

        @Override
        public void close() {
            if (!arena.scope().isAlive()) return;
            arena.close();
            NativeMemoryLedger.freed(MemoryKind.JVM_NATIVE, segment.byteSize());
        }
    }

    /** A caller-owned host range standing in for a mapped buffer (not on the ledger: its owner counts it). */
    private record HostRange(MemorySegment segment) implements MappedHostRange {
        @Override
        public long bytes() {
            return segment.byteSize();
        }

        @Override
        public MemoryKind kind() {
            return MemoryKind.JVM_NATIVE;
        }

        @Override
        public MemorySegment hostSegment() {
            return segment;
        }

        @Override
        public void commit(long offset, long bytes) {
            java.util.Objects.checkFromIndexSize(offset, bytes, segment.byteSize());
        }

        @Override
        public void close() {}
    }
}
