package org.pariskv.compute.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.pariskv.compute.Backend;
import org.pariskv.compute.Backends;
import org.pariskv.compute.DeviceBuffer;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Grid;
import org.pariskv.compute.OpenClTestSupport;
import org.pariskv.compute.smoke.SmokeTasks;

/**
 * Device-resident buffers (allocated by the test, not the plan) fed by enqueued uploads, over grids that follow a
 * changing length, with no wait inside the executions: the same assertions on the java backend and on OpenCL.
 */
class TaskGraphResidentTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final int MAX = 1000, GROUP = 64, GROUPS = (MAX + GROUP - 1) / GROUP;

    private static DeviceInfo device(String backend) {
        return backend.equals("java") ? Backends.open(DeviceSpec.JAVA).device() : OpenClTestSupport.openClDevice();
    }

    private static float[] read(Backend b, DeviceBuffer buf, int floats) {
        float[] out = new float[floats];
        b.copyOut(MemorySegment.ofArray(out), buf);
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"java", "opencl"})
    void residentBuffersUploadsAndPerExecutionGrids(String backendName) {
        DeviceInfo device = device(backendName);
        Backend b = Backends.open(device);
        try (Arena arena = Arena.ofConfined();
             DeviceBuffer x = b.allocate(4L * MAX);
             DeviceBuffer y = b.allocate(4L * MAX);
             DeviceBuffer partial = b.allocateHostMapped(4L * GROUPS)) {
            MemorySegment staging = arena.allocate(4L * MAX, 64);
            b.zero(y, 0, y.bytes());
            IntParam n = new IntParam(MAX);
            FloatParam a = new FloatParam(2);
            Supplier<Grid> grid = () -> Grid.linear(n.get(), GROUP);
            ImmutableTaskGraph g = new TaskGraph("resident").source(SmokeTasks.class)
                    .upload(staging, x)
                    .task("saxpy", grid, x, y, a, n)
                    .task("blockSum", grid, y, partial, n)
                    .snapshot();
            float[] want = new float[MAX]; // small integers: every order of sums is exact
            try (ExecutionPlan plan = new ExecutionPlan(g).withDevice(device).withProfiler(ProfilerMode.OFF)) {
                for (int i = 0; i < MAX; i++) staging.setAtIndex(F32, i, i % 7 - 3);
                ExecutionResult r1 = plan.execute();
                plan.execute(); // enqueued behind the first, same staged input
                plan.finish();
                for (int i = 0; i < MAX; i++) want[i] = 2 * 2 * (i % 7 - 3);
                assertEquals(4L * MAX, r1.bytesIn());
                assertEquals(4L * MAX, r1.task("saxpy").bytesIn(), "the upload is charged to the next task");
                assertArrayEquals(new long[] {GROUPS * GROUP}, r1.task("blockSum").grid().global());
                assertArrayEquals(want, read(b, y, MAX));
                float[] partials = read(b, partial, GROUPS);
                for (int k = 0; k < GROUPS; k++) {
                    float s = 0;
                    for (int i = k * GROUP; i < Math.min(MAX, (k + 1) * GROUP); i++) s += want[i];
                    assertEquals(s, partials[k], "partial[" + k + "]");
                }

                float[] nan = new float[GROUPS];
                Arrays.fill(nan, Float.NaN);
                b.copyIn(partial, MemorySegment.ofArray(nan));
                n.set(37);
                a.set(-1);
                for (int i = 0; i < MAX; i++) staging.setAtIndex(F32, i, 1);
                ExecutionResult r3 = plan.execute();
                plan.finish();
                assertArrayEquals(new long[] {GROUP}, r3.task("saxpy").grid().global());
                for (int i = 0; i < 37; i++) want[i] -= 1;
                assertArrayEquals(want, read(b, y, MAX));
                partials = read(b, partial, GROUPS);
                float s = 0;
                for (int i = 0; i < 37; i++) s += want[i];
                assertEquals(s, partials[0]);
                for (int k = 1; k < GROUPS; k++) assertTrue(Float.isNaN(partials[k]), "a one-group grid wrote partial[" + k + "]");
            }
            // the closed plan left the resident buffers to their owner
            assertArrayEquals(want, read(b, y, MAX));
            b.copyIn(x, MemorySegment.ofArray(want));
            assertArrayEquals(want, read(b, x, MAX));
        }
    }

    @Test
    void residentAndPlanManagedDataMixAndAReadBackWaits() {
        DeviceInfo device = OpenClTestSupport.openClDevice();
        Backend b = Backends.open(device);
        float[] host = {1, 2, 3, 4};
        try (DeviceBuffer x = b.allocate(16)) {
            b.copyIn(x, MemorySegment.ofArray(host));
            var g = new TaskGraph("w").source(SmokeTasks.class)
                    .transferToDevice(DataTransferMode.FIRST_EXECUTION, host)
                    .task("saxpy", () -> Grid.linear(4, 4), x, host, 1f, 4)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, host).snapshot();
            try (ExecutionPlan plan = new ExecutionPlan(g).withDevice(device).withProfiler(ProfilerMode.OFF)) {
                assertEquals(16, plan.execute().bytesOut(), "a read-back waits and lands");
                assertArrayEquals(new float[] {2, 4, 6, 8}, host);
            }
            assertArrayEquals(new float[] {1, 2, 3, 4}, read(b, x, 4));
        }
    }

    @Test
    void javaTwinNeedsHostMemory() {
        DeviceBuffer deviceOnly = new DeviceBuffer() {
            public long bytes() {
                return 4;
            }

            public void close() {}
        };
        var g = new TaskGraph("h").source(SmokeTasks.class)
                .task("saxpy", () -> Grid.of(1), deviceOnly, deviceOnly, 1f, 1).snapshot();
        try (ExecutionPlan plan = new ExecutionPlan(g).withDevice(DeviceSpec.JAVA)) {
            var e = assertThrows(IllegalArgumentException.class, plan::execute);
            assertTrue(e.getMessage().contains("argument #0") && e.getMessage().contains("no host memory"), e.getMessage());
        }
    }

    @Test
    void residentBuffersAreNotTransferredByTheGraph() {
        Backend b = Backends.open(DeviceSpec.JAVA);
        try (DeviceBuffer buf = b.allocate(16); Arena arena = Arena.ofConfined()) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> new TaskGraph("t").transferToDevice(DataTransferMode.EVERY_EXECUTION, buf));
            assertTrue(e.getMessage().contains("upload"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> new TaskGraph("t").upload(MemorySegment.ofArray(new float[4]), buf));
            assertThrows(IllegalArgumentException.class, () -> new TaskGraph("t").upload(arena.allocate(32), buf));
            var args = new TaskBodies.Args(java.util.List.of(new IntParam(3), 2f));
            assertEquals(3, args.intValue(0));
            assertThrows(IllegalArgumentException.class, () -> args.intValue(1));
        }
    }
}
