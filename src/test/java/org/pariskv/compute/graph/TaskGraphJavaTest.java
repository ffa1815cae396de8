package org.pariskv.compute.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.pariskv.compute.BackendKind;
import org.pariskv.compute.ComputeException;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Grid;
import org.pariskv.compute.smoke.SmokeTasks;

class TaskGraphJavaTest {
    private static final org.pariskv.compute.KernelSource C_SOURCE =
            org.pariskv.compute.KernelSource.of("saxpy.c", "KERNEL void saxpy(GLOBAL float* p) { }\n");

    @Test
    void runsTwinsOnTheArraysThemselves() {
        SmokeTasks.Data d = SmokeTasks.Data.random(1009, 3);
        float[] x = d.x().clone(), y0 = d.y().clone();
        float a = d.a().get();
        try (ExecutionPlan plan = new ExecutionPlan(SmokeTasks.graph(d)).withDevice(DeviceSpec.JAVA)) {
            ExecutionResult r = plan.execute();
            assertEquals(BackendKind.JAVA, r.device().backend());
            assertEquals(4, r.tasks().size());
            assertEquals(0, r.bytesIn());
            assertTrue(r.task("saxpy").kernelNanos() >= 0);
        }
        for (int i = 0; i < x.length; i++) assertEquals(Math.fma(a, x[i], y0[i]), d.y()[i], 0f);
        for (int g = 0; g < d.partial().length; g++) {
            double s = 0;
            for (int i = g * SmokeTasks.GROUP; i < Math.min(x.length, (g + 1) * SmokeTasks.GROUP); i++) s += d.y()[i];
            assertEquals(s, d.partial()[g], 1e-4 * (1 + Math.abs(s)));
        }
        int[] counts = new int[256];
        for (byte c : d.codes()) counts[c & 0xFF]++;
        assertArrayEquals(counts, d.counts());
        assertEquals(0x3f80, SmokeTasks.floatToBf16(1f) & 0xFFFF);
    }

    @Test
    void paramsAreReadAtEachExecution() {
        float[] x = {1, 2, 3, 4}, y = new float[4];
        FloatParam a = new FloatParam(1);
        IntParam n = new IntParam(2);
        var g = new TaskGraph("p").source(SmokeTasks.class)
                .task("saxpy", Grid.linear(4, 4), x, y, a, n).snapshot();
        try (ExecutionPlan plan = new ExecutionPlan(g).withDevice(DeviceSpec.JAVA)) {
            plan.execute();
            a.set(10);
            n.set(4);
            plan.execute();
        }
        assertArrayEquals(new float[] {11, 22, 30, 40}, y);
    }

    @Test
    void builderRejectsWhatNoBackendCouldRun() {
        float[] x = new float[4];
        var noSource = assertThrows(IllegalStateException.class,
                () -> new TaskGraph("g").task("saxpy", (float[] p) -> {}, Grid.of(4), x));
        assertTrue(noSource.getMessage().contains("source("));
        var badArg = assertThrows(IllegalArgumentException.class, () -> new TaskGraph("g").source(C_SOURCE)
                .task("saxpy", (float[] p, String s) -> {}, Grid.of(4), x, "text"));
        assertTrue(badArg.getMessage().contains("argument #1"), badArg.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new TaskGraph("g").source(C_SOURCE)
                .task("not-a-c-name", (float[] p) -> {}, Grid.of(4), x));
        assertThrows(IllegalArgumentException.class,
                () -> new TaskGraph("g").transferToDevice(DataTransferMode.UNDER_DEMAND, x));
        assertThrows(IllegalArgumentException.class,
                () -> new TaskGraph("g").transferToHost(DataTransferMode.EVERY_EXECUTION, new double[1]));
        assertThrows(IllegalStateException.class, () -> new TaskGraph("empty").snapshot());
    }

    @Test
    void javaKernelTasksAreCheckedAgainstTheMethod() {
        float[] x = new float[4];
        var unknown = assertThrows(IllegalArgumentException.class,
                () -> new TaskGraph("g").source(SmokeTasks.class).task("noSuchKernel", Grid.of(4), x));
        assertTrue(unknown.getMessage().contains("no @Kernel method 'noSuchKernel'"), unknown.getMessage());
        var arity = assertThrows(IllegalArgumentException.class,
                () -> new TaskGraph("g").source(SmokeTasks.class).task("saxpy", Grid.of(4), x, x, 1f));
        assertTrue(arity.getMessage().contains("takes 4 arguments after the KernelContext, got 3"), arity.getMessage());
        var type = assertThrows(IllegalArgumentException.class,
                () -> new TaskGraph("g").source(SmokeTasks.class).task("saxpy", Grid.of(4), x, new int[4], 1f, 4));
        assertTrue(type.getMessage().contains("argument #1: int[] does not fit parameter type FloatArray"), type.getMessage());
        var noTwin = assertThrows(IllegalStateException.class,
                () -> new TaskGraph("g").source(C_SOURCE).task("saxpy", Grid.of(4), x));
        assertTrue(noTwin.getMessage().contains("source(SomeKernels.class)"), noTwin.getMessage());
    }

    @Test
    void javaKernelsTakeKernelArraysSegmentsAndJavaArrays() {
        var x = org.pariskv.compute.kernel.FloatArray.copyOf(1, 2, 3, 4);
        float[] y = {10, 20, 30, 40};
        var g = new TaskGraph("a").source(SmokeTasks.class)
                .task("saxpy", Grid.linear(4, 4), x, y, 2f, 4)
                .task("saxpy", Grid.linear(4, 4), x.segment(), java.lang.foreign.MemorySegment.ofArray(y), 1f, new IntParam(2))
                .snapshot();
        try (ExecutionPlan plan = new ExecutionPlan(g).withDevice(DeviceSpec.JAVA)) {
            plan.execute();
        }
        assertArrayEquals(new float[] {13, 26, 36, 48}, y);
    }

    @Test
    void javaBackendHasNoKernelsToLaunch() {
        var b = org.pariskv.compute.Backends.open(DeviceSpec.JAVA);
        var k = b.compile("smoke.c", "unused", java.util.Map.of()).kernel("saxpy");
        var e = assertThrows(ComputeException.class, () -> b.launch(k, Grid.of(1), java.util.List.of(), false));
        assertTrue(e.getMessage().contains("Java twin"));
    }

    @Test
    void badDeviceSpecInAPlanIsAClearError() {
        var g = new TaskGraph("g").source(SmokeTasks.class)
                .task("saxpy", Grid.of(1), new float[1], new float[1], new FloatParam(1), new IntParam(1))
                .snapshot();
        var e = assertThrows(IllegalArgumentException.class, () -> new ExecutionPlan(g).withDevice(DeviceSpec.parse("tpu:0")));
        assertTrue(e.getMessage().contains("unknown device 'tpu:0'"));
        try (ExecutionPlan plan = new ExecutionPlan(g).withDevice(DeviceSpec.parse("cuda:99"))) {
            var missing = assertThrows(ComputeException.class, plan::execute);
            assertTrue(missing.getMessage().contains("cuda"), missing.getMessage());
        }
    }
}
