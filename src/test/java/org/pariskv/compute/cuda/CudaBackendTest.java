package org.pariskv.compute.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;
import org.pariskv.compute.BackendKind;
import org.pariskv.compute.BackendUnavailableException;
import org.pariskv.compute.Backends;
import org.pariskv.compute.ComputeException;
import org.pariskv.compute.CudaBackend;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.Devices;
import org.pariskv.compute.Grid;
import org.pariskv.compute.KernelSource;
import org.pariskv.compute.OpenClTestSupport;
import org.pariskv.compute.graph.DataTransferMode;
import org.pariskv.compute.graph.ExecutionPlan;
import org.pariskv.compute.graph.ExecutionResult;
import org.pariskv.compute.graph.TaskGraph;
import org.pariskv.compute.smoke.SmokeTasks;

/** CUDA through the driver API and NVRTC; skipped where libcuda.so.1 (or NVRTC, or a GPU) is absent. */
class CudaBackendTest {

    @Test
    void absentDriverIsAClearReason() {
        if (!Devices.list().of(BackendKind.CUDA).isEmpty()) return; // present: nothing to check here
        String why = Devices.list().unavailable().get(BackendKind.CUDA);
        assertTrue(why.contains("libcuda.so.1") || why.contains("NVRTC") || why.contains("no device"), why);
        if (why.contains("libcuda.so.1")) {
            BackendUnavailableException e = assertThrows(BackendUnavailableException.class, CudaDriver::load);
            assertEquals(why, e.getMessage().lines().findFirst().orElseThrow());
        }
    }

    @Test
    void smokeGraphMatchesJavaTwins() {
        DeviceInfo device = OpenClTestSupport.cudaDevice();
        for (int n : new int[] {1, 63, 65, 100_003}) {
            SmokeTasks.Data want = SmokeTasks.Data.random(n, n);
            SmokeTasks.Data got = SmokeTasks.Data.random(n, n);
            try (ExecutionPlan plan = new ExecutionPlan(SmokeTasks.graph(want)).withDevice(org.pariskv.compute.DeviceSpec.JAVA)) {
                plan.execute();
            }
            try (ExecutionPlan plan = new ExecutionPlan(SmokeTasks.graph(got)).withDevice(device)) {
                ExecutionResult r = plan.execute();
                assertTrue(r.tasks().stream().allMatch(t -> t.kernelNanos() > 0), r.table());
                assertTrue(plan.kernelSource("saxpy").contains(".entry saxpy"), "PTX of the kernel is shown");
            }
            for (int i = 0; i < n; i++) assertEquals(want.y()[i], got.y()[i], 1e-6f * (1 + Math.abs(want.y()[i])));
            for (int g = 0; g < want.partial().length; g++) {
                assertEquals(want.partial()[g], got.partial()[g], 1e-5f * (1 + Math.abs(want.partial()[g])));
            }
            assertArrayEquals(want.counts(), got.counts());
        }
    }

    @Test
    void compileErrorCarriesTheNvrtcLog() {
        DeviceInfo device = OpenClTestSupport.cudaDevice();
        var src = KernelSource.of("broken.c", "KERNEL void broken(GLOBAL float* y) { y[0] = undefined_symbol_xyz; }\n");
        var g = new TaskGraph("b").source(src).task("broken", (float[] y) -> {}, Grid.of(1), new float[1]).snapshot();
        try (ExecutionPlan plan = new ExecutionPlan(g).withDevice(device)) {
            ComputeException e = assertThrows(ComputeException.class, plan::execute);
            assertTrue(e.getMessage().contains("undefined_symbol_xyz") && e.getMessage().contains("NVRTC"), e.getMessage());
        }
    }

    @Test
    void mappedHostMemoryIsReadByKernels() {
        DeviceInfo device = OpenClTestSupport.cudaDevice();
        CudaBackend b = (CudaBackend) Backends.open(device);
        var program = b.compile("twice.c", KernelSource.of("twice.c", "KERNEL void twice(GLOBAL float* v, int n) {"
                + " int i = GLOBAL_ID(0); if (i < n) v[i] = 2.0f * v[i]; }").compilable(), java.util.Map.of());
        try (CudaHostMemory host = b.context().allocateHost(16); Arena a = Arena.ofConfined()) {
            host.host().copyFrom(MemorySegment.ofArray(new float[] {1, 2, 3, 4}));
            // launch through the context directly: the argument is the mapped device pointer
            long ns = b.context().launch(b.functionHandle(program.kernel("twice")), new int[] {1, 1, 1}, new int[] {32, 1, 1}, 0,
                    new MemorySegment[] {a.allocateFrom(ValueLayout.JAVA_LONG, host.devicePointer()),
                            a.allocateFrom(ValueLayout.JAVA_INT, 4)}, true);
            assertTrue(ns > 0);
            assertArrayEquals(new float[] {2, 4, 6, 8}, host.host().toArray(ValueLayout.JAVA_FLOAT));
        }
    }

    @Test
    void errorNamesComeFromTheDriver() {
        OpenClTestSupport.cudaDevice();
        CudaDriver d = CudaDriver.load();
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", d.errorName(2));
        CudaContext c = ((CudaBackend) Backends.open(OpenClTestSupport.cudaDevice())).context();
        CudaException e = assertThrows(CudaException.class, () -> c.alloc(1L << 50)); // a petabyte
        assertTrue(e.getMessage().contains("CUDA_ERROR_OUT_OF_MEMORY") && e.getMessage().contains("out of device memory"),
                e.getMessage());
    }

    @Test
    void cubinsAreCachedOnDisk() throws Exception {
        DeviceInfo device = OpenClTestSupport.cudaDevice();
        java.nio.file.Path dir = java.nio.file.Path.of(System.getProperty("user.home"), ".cache", "pariskv", "cuda");
        String unique = "// " + System.nanoTime() + "\nKERNEL void one(GLOBAL int* o) { o[0] = 1; }\n";
        long before = count(dir);
        Backends.open(device).compile("one.c", KernelSource.of("one.c", unique).compilable(), java.util.Map.of());
        assertEquals(before + 1, count(dir), "a new cubin file under " + dir);
    }

    private static long count(java.nio.file.Path dir) throws java.io.IOException {
        if (!java.nio.file.Files.isDirectory(dir)) return 0;
        try (var s = java.nio.file.Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".cubin")).count();
        }
    }

    @Test
    void anyThreadCanRunAPlan() throws Exception {
        DeviceInfo device = OpenClTestSupport.cudaDevice();
        float[] x = {1, 2}, y = {1, 1};
        var g = new TaskGraph("t").source(SmokeTasks.class)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, x, y)
                .task("saxpy", Grid.linear(2, 32), x, y,
                        new org.pariskv.compute.graph.FloatParam(3), new org.pariskv.compute.graph.IntParam(2))
                .transferToHost(DataTransferMode.EVERY_EXECUTION, y).snapshot();
        Throwable[] failure = new Throwable[1];
        // a fresh thread has no current context: the backend must set it itself
        Thread t = Thread.ofPlatform().start(() -> {
            try (ExecutionPlan plan = new ExecutionPlan(g).withDevice(device)) {
                plan.execute();
            } catch (Throwable e) {
                failure[0] = e;
            }
        });
        t.join();
        if (failure[0] != null) throw new AssertionError(failure[0]);
        assertArrayEquals(new float[] {4, 7}, y);
    }
}
