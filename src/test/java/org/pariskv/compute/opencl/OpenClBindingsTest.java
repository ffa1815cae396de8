package org.pariskv.compute.opencl;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.KernelSource;
import org.pariskv.compute.OpenClTestSupport;

/** The raw bindings, below the uniform API: buffers, host-pointer buffers, kernels, errors. */
class OpenClBindingsTest {
    private static ClContext ctx;

    @BeforeAll
    static void open() {
        DeviceInfo d = OpenClTestSupport.openClDevice();
        OpenCl cl = OpenCl.load();
        ctx = new ClContext(cl, ClDevice.all(cl).get(d.index()));
    }

    @AfterAll
    static void close() {
        if (ctx != null) ctx.close();
    }

    @Test
    void deviceQueryIsConsistent() {
        ClDevice d = ctx.device();
        assertTrue(d.maxAllocBytes() > 0 && d.maxAllocBytes() <= d.globalMemBytes(), d.toString());
        assertTrue(d.isCpu() || d.isGpu() || (d.type() & OpenCl.CL_DEVICE_TYPE_ACCELERATOR) != 0);
        assertTrue(d.version().startsWith("OpenCL "), d.version());
    }

    @Test
    void writeReadAndFillRoundTrip() {
        try (Arena a = Arena.ofConfined(); ClBuffer b = ctx.createBuffer(64)) {
            MemorySegment src = a.allocateFrom(JAVA_INT, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            b.write(0, src);
            b.fill(a.allocateFrom(JAVA_INT, -7), 16, 16); // ints 4..7
            MemorySegment dst = a.allocate(64);
            b.read(0, dst);
            assertArrayEquals(new int[] {0, 1, 2, 3, -7, -7, -7, -7, 8, 9, 10, 11, 12, 13, 14, 15}, dst.toArray(JAVA_INT));
            MemorySegment tail = a.allocate(8);
            b.read(56, tail);
            assertArrayEquals(new int[] {14, 15}, tail.toArray(JAVA_INT));
            assertThrows(IndexOutOfBoundsException.class, () -> b.read(60, a.allocate(8)));
        }
    }

    @Test
    void kernelsSeeHostPointerAndPinnedBuffers() {
        String src = KernelSource.of("scale.c", "KERNEL void twice(GLOBAL float* v, int n) {"
                + " int i = GLOBAL_ID(0); if (i < n) v[i] = 2.0f * v[i]; }").compilable();
        try (Arena a = Arena.ofConfined(); ClProgram p = ctx.buildProgram("scale.c", src, "")) {
            ClKernel k = p.kernel("twice");
            MemorySegment host = a.allocate(JAVA_FLOAT, 5);
            for (int i = 0; i < 5; i++) host.setAtIndex(JAVA_FLOAT, i, i + 1);
            try (ClBuffer b = ctx.createHostBuffer(host)) {
                k.setArg(0, b);
                k.setArg(1, 5);
                assertTrue(k.enqueue(new long[] {5}, null, true) > 0);
                MemorySegment view = b.map(); // USE_HOST_PTR: mapping syncs the host copy
                assertArrayEquals(new float[] {2, 4, 6, 8, 10}, view.toArray(JAVA_FLOAT));
                b.unmap(view);
            }
            try (ClBuffer pinned = ctx.createPinnedBuffer(12)) {
                MemorySegment view = pinned.map();
                view.copyFrom(MemorySegment.ofArray(new float[] {1.5f, -2, 3}));
                pinned.unmap(view);
                k.setArg(0, pinned);
                k.setArg(1, 3);
                k.enqueue(new long[] {3}, null, false);
                MemorySegment out = a.allocate(12);
                pinned.read(0, out);
                assertArrayEquals(new float[] {3, -4, 6}, out.toArray(JAVA_FLOAT));
            }
        }
    }

    @Test
    void errorsCarryTheCallAndSymbolicName() {
        ClException e = assertThrows(ClException.class, () -> ctx.cl().createBuffer(ctx.handle(),
                OpenCl.CL_MEM_READ_WRITE, 0, MemorySegment.NULL));
        assertEquals("clCreateBuffer", e.call());
        assertEquals("CL_INVALID_BUFFER_SIZE", e.symbolicName());
        assertTrue(e.getMessage().startsWith("clCreateBuffer failed: CL_INVALID_BUFFER_SIZE (-61)"), e.getMessage());
        String oom = new ClException("clCreateBuffer", -4).getMessage();
        assertTrue(oom.contains("CL_MEM_OBJECT_ALLOCATION_FAILURE") && oom.contains("out of device memory"), oom);
        assertTrue(new ClException("clEnqueueNDRangeKernel", -5).getMessage().contains("CL_OUT_OF_RESOURCES"));
        assertEquals("CL_UNKNOWN_ERROR(-999)", ClError.name(-999));
    }

    @Test
    void badWorkGroupIsReportedWithTheGeometry() {
        String src = KernelSource.of("k.c", "KERNEL void k(GLOBAL int* o) { o[GLOBAL_ID(0)] = 1; }").compilable();
        try (ClProgram p = ctx.buildProgram("k.c", src, ""); ClBuffer b = ctx.createBuffer(4 * 64)) {
            ClKernel k = p.kernel("k");
            k.setArg(0, b);
            ClException e = assertThrows(ClException.class, () -> k.enqueue(new long[] {60}, new long[] {64}, false));
            assertTrue(e.getMessage().contains("global [60], local [64]"), e.getMessage());
        }
    }

    @Test
    void buildFailureKeepsTheWholeLog() {
        ClBuildException e = assertThrows(ClBuildException.class,
                () -> ctx.buildProgram("bad.c", "__kernel void f() { int x = ; }", "-DFOO=1"));
        assertTrue(e.getMessage().contains("bad.c") && e.getMessage().contains("-DFOO=1"), e.getMessage());
        assertTrue(!e.buildLog().isBlank(), "build log must not be empty");
        assertTrue(e.getMessage().contains(e.buildLog()));
    }
}
