package org.pariskv.compute.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.pariskv.compute.BackendKind;
import org.pariskv.compute.ComputeException;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Grid;
import org.pariskv.compute.KernelSource;
import org.pariskv.compute.OpenClTestSupport;
import org.pariskv.compute.smoke.SmokeTasks;

/** The smoke graph on OpenCL (PoCL on CI) against its Java twins. */
class TaskGraphOpenClTest {

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 63, 64, 65, 1009, 65537})
    void openClMatchesJavaTwinsOnOddSizes(int n) {
        DeviceInfo device = OpenClTestSupport.openClDevice();
        SmokeTasks.Data want = SmokeTasks.Data.random(n, n);
        SmokeTasks.Data got = SmokeTasks.Data.random(n, n); // same inputs, outputs poisoned
        try (ExecutionPlan plan = new ExecutionPlan(SmokeTasks.graph(want)).withDevice(DeviceSpec.JAVA)) {
            plan.execute();
        }
        try (ExecutionPlan plan = new ExecutionPlan(SmokeTasks.graph(got)).withDevice(device)) {
            ExecutionResult r = plan.execute();
            assertEquals(BackendKind.OPENCL, r.device().backend());
            assertTrue(r.tasks().stream().allMatch(t -> t.kernelNanos() > 0), r.table());
        }
        for (int i = 0; i < n; i++) assertEquals(want.y()[i], got.y()[i], 1e-6f * (1 + Math.abs(want.y()[i])), "y[" + i + "]");
        for (int g = 0; g < want.partial().length; g++) {
            assertEquals(want.partial()[g], got.partial()[g], 1e-5f * (1 + Math.abs(want.partial()[g])), "partial[" + g + "]");
        }
        assertArrayEquals(want.counts(), got.counts());
        assertEquals(n, Arrays.stream(got.counts()).sum());
        for (int i = 0; i < n; i++) assertTrue(Math.abs(want.bf16()[i] - got.bf16()[i]) <= 1, "bf16[" + i + "]");
    }

    @Test
    void bf16RoundingMatchesTheTwinBitForBit() {
        DeviceInfo device = OpenClTestSupport.openClDevice();
        float[] x = {1f, -1f, 0f, -0f, 1.00390625f /* tie, rounds to even (down) */, 1.01171875f /* tie, up */,
                Float.MIN_VALUE, 3.3895314e38f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, 1e-40f,
                (float) Math.PI, -123.456f};
        short[] out = new short[x.length];
        var g = new TaskGraph("bf16").source(SmokeTasks.class)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, x)
                .task("toBf16", Grid.linear(x.length, 16), x, out, new FloatParam(1f), new IntParam(x.length))
                .transferToHost(DataTransferMode.EVERY_EXECUTION, out).snapshot();
        try (ExecutionPlan plan = new ExecutionPlan(g).withDevice(device)) {
            plan.execute();
        }
        for (int i = 0; i < x.length; i++) {
            assertEquals(SmokeTasks.floatToBf16(x[i]), out[i], "x=" + x[i]);
        }
        assertEquals((short) 0x3f80, out[0]);
        assertEquals((short) 0x3f80, out[4]);
        assertEquals((short) 0x3f82, out[5]);
        assertEquals((short) 0x7fc0, out[10]);
    }

    @Test
    void firstExecutionInputsAreCopiedOnceAndEveryExecutionOnesEachTime() {
        DeviceInfo device = OpenClTestSupport.openClDevice();
        int n = 1001;
        SmokeTasks.Data d = SmokeTasks.Data.random(n, 5);
        long first = 4L * n + n; // x + codes (FIRST_EXECUTION)
        long every = 4L * n + 4 * 256; // y + counts (EVERY_EXECUTION)
        long out = 4L * n + 4L * d.partial().length + 4 * 256 + 2L * n;
        try (ExecutionPlan plan = new ExecutionPlan(SmokeTasks.graph(d)).withDevice(device)) {
            ExecutionResult r1 = plan.execute();
            ExecutionResult r2 = plan.execute();
            assertEquals(first + every, r1.bytesIn());
            assertEquals(every, r2.bytesIn());
            assertEquals(first + every, r1.task("saxpy").bytesIn(), "copies are charged to the next task");
            assertEquals(0, r1.task("blockSum").bytesIn());
            assertEquals(out, r1.bytesOut());
            assertEquals(out, r2.task("toBf16").bytesOut());
        }
    }

    @Test
    void underDemandResultsArriveOnlyWhenAsked() {
        DeviceInfo device = OpenClTestSupport.openClDevice();
        float[] x = {1, 2, 3}, y = {10, 20, 30};
        var g = new TaskGraph("od").source(SmokeTasks.class)
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, x, y)
                .task("saxpy", Grid.linear(3, 4), x, y, new FloatParam(2), new IntParam(3))
                .transferToHost(DataTransferMode.UNDER_DEMAND, y).snapshot();
        try (ExecutionPlan plan = new ExecutionPlan(g).withDevice(device)) {
            ExecutionResult r1 = plan.execute();
            assertEquals(0, r1.bytesOut());
            assertArrayEquals(new float[] {10, 20, 30}, y, "device result must not land before it is asked for");
            ExecutionResult r2 = plan.execute(); // y stays on the device: applied twice there
            assertEquals(0, r2.bytesIn(), "FIRST_EXECUTION inputs are not copied again");
            assertEquals(12, r2.transferToHost(y));
            assertArrayEquals(new float[] {14, 28, 42}, y);
        }
    }

    @Test
    void firstExecutionOutputsComeBackOnce() {
        DeviceInfo device = OpenClTestSupport.openClDevice();
        float[] x = {1}, y = {0};
        var g = new TaskGraph("fo").source(SmokeTasks.class)
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, x, y)
                .task("saxpy", Grid.linear(1, 1), x, y, new FloatParam(1), new IntParam(1))
                .transferToHost(DataTransferMode.FIRST_EXECUTION, y).snapshot();
        try (ExecutionPlan plan = new ExecutionPlan(g).withDevice(device)) {
            assertEquals(4, plan.execute().bytesOut());
            assertEquals(0, plan.execute().bytesOut());
            assertArrayEquals(new float[] {1}, y);
        }
    }

    @Test
    void warmUpRunsBeforeTheMeasuredExecution() {
        DeviceInfo device = OpenClTestSupport.openClDevice();
        float[] x = {1}, y = {0};
        var g = new TaskGraph("w").source(SmokeTasks.class)
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, x, y)
                .task("saxpy", Grid.linear(1, 1), x, y, new FloatParam(1), new IntParam(1))
                .transferToHost(DataTransferMode.EVERY_EXECUTION, y).snapshot();
        try (ExecutionPlan plan = new ExecutionPlan(g).withDevice(device).withWarmUp(2)) {
            ExecutionResult r = plan.execute();
            assertEquals(0, r.bytesIn(), "the first (copying) execution was a warm-up");
            assertArrayEquals(new float[] {3}, y);
        }
    }

    @Test
    void compileErrorCarriesTheBuildLog() {
        DeviceInfo device = OpenClTestSupport.openClDevice();
        var src = KernelSource.of("broken.c", "KERNEL void broken(GLOBAL float* y) { y[0] = undefined_symbol_xyz; }\n");
        var g = new TaskGraph("b").source(src).task("broken", (float[] y) -> {}, Grid.of(1), new float[1]).snapshot();
        try (ExecutionPlan plan = new ExecutionPlan(g).withDevice(device)) {
            ComputeException e = assertThrows(ComputeException.class, plan::execute);
            assertTrue(e.getMessage().contains("CL_BUILD_PROGRAM_FAILURE"), e.getMessage());
            assertTrue(e.getMessage().contains("undefined_symbol_xyz"), e.getMessage());
            assertTrue(e.getMessage().contains("broken.c"), e.getMessage());
        }
    }

    @Test
    void missingKernelIsNamed() {
        DeviceInfo device = OpenClTestSupport.openClDevice();
        var g = new TaskGraph("m").source(KernelSource.of("m.c", "KERNEL void other(GLOBAL float* y) { }\n")).task("noSuchKernel", (float[] y) -> {}, Grid.of(1), new float[1])
                .snapshot();
        try (ExecutionPlan plan = new ExecutionPlan(g).withDevice(device)) {
            ComputeException e = assertThrows(ComputeException.class, plan::execute);
            assertTrue(e.getMessage().contains("CL_INVALID_KERNEL_NAME") && e.getMessage().contains("noSuchKernel"),
                    e.getMessage());
        }
    }

    @Test
    void definesReachTheKernelAndPrintKernelShowsTheSource() {
        DeviceInfo device = OpenClTestSupport.openClDevice();
        var src = KernelSource.of("def.c", "KERNEL void fill(GLOBAL int* o) { o[GLOBAL_ID(0)] = VALUE * 2; }\n");
        int[] o = new int[8];
        var g = new TaskGraph("d").source(src).define("VALUE", 21)
                .task("fill", (int[] a) -> Arrays.fill(a, 42), Grid.of(8), o)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, o).snapshot();
        try (ExecutionPlan plan = new ExecutionPlan(g).withDevice(device)) {
            plan.execute();
            assertTrue(plan.kernelSource("fill").contains("VALUE * 2"));
            assertTrue(plan.kernelSource("fill").contains("#define KERNEL __kernel"));
        }
        int[] want = new int[8];
        Arrays.fill(want, 42);
        assertArrayEquals(want, o);
    }

    @Test
    void closedPlanRefusesToRun() {
        DeviceInfo device = OpenClTestSupport.openClDevice();
        var g = SmokeTasks.graph(SmokeTasks.Data.random(3, 1));
        ExecutionPlan plan = new ExecutionPlan(g).withDevice(device);
        plan.execute();
        plan.close();
        assertThrows(IllegalStateException.class, plan::execute);
    }
}
