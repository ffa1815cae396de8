package org.pariskv.compute.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.pariskv.compute.Backend;
import org.pariskv.compute.BackendKind;
import org.pariskv.compute.Backends;
import org.pariskv.compute.DeviceBuffer;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Grid;
import org.pariskv.compute.OpenClTestSupport;
import org.pariskv.compute.smoke.SmokeTasks;

/**
 * Tasks that run only in some executions, read-backs into host memory, and CUDA-graph replay: one graph executed
 * with changing inputs, lengths and conditions must give what running its steps one by one gives, on every backend.
 * On CUDA the plan must also have recorded one graph per distinct signature and replayed the rest.
 */
class TaskGraphReplayTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final int MAX = 1000, GROUP = 64, GROUPS = (MAX + GROUP - 1) / GROUP;

    private static DeviceInfo device(String backend) {
        return switch (backend) {
            case "java" -> Backends.open(DeviceSpec.JAVA).device();
            case "cuda" -> OpenClTestSupport.cudaDevice();
            default -> OpenClTestSupport.openClDevice();
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"java", "opencl", "cuda"})
    void conditionalTasksAndReadBacksReplayLikeStepByStep(String backendName) {
        DeviceInfo device = device(backendName);
        Backend b = Backends.open(device);
        try (Arena arena = Arena.ofConfined();
             DeviceBuffer x = b.allocate(4L * MAX);
             DeviceBuffer y = b.allocate(4L * MAX);
             DeviceBuffer partial = b.allocate(4L * GROUPS)) {
            MemorySegment staging = arena.allocate(4L * MAX, 4096);
            MemorySegment sums = arena.allocate(4L * GROUPS, 64);
            try (Backend.HostPin pin = b.pin(staging)) {
                b.zero(y, 0, y.bytes());
                IntParam n = new IntParam(MAX);
                boolean[] accumulate = {true};
                ImmutableTaskGraph g = new TaskGraph("replay").source(SmokeTasks.class)
                        .upload(staging, x)
                        .task("saxpy", () -> Grid.linear(n.get(), GROUP), x, y, 1f, n)
                        .onlyIf(() -> accumulate[0])
                        .task("blockSum", () -> Grid.linear(n.get(), GROUP), y, partial, n)
                        .download(partial, sums)
                        .snapshot();
                float[] want = new float[MAX]; // small integers: every order of sums is exact
                try (ExecutionPlan plan = new ExecutionPlan(g).withBackend(b).withProfiler(ProfilerMode.OFF).withCudaGraph(true)) {
                    int[] lengths = {MAX, MAX, 37, MAX, 37, 500, MAX};
                    boolean[] on = {true, true, true, false, true, false, true};
                    for (int e = 0; e < lengths.length; e++) {
                        for (int i = 0; i < MAX; i++) staging.setAtIndex(F32, i, (i + e) % 5 - 2);
                        n.set(lengths[e]);
                        accumulate[0] = on[e];
                        sums.fill((byte) 0x7f);
                        ExecutionResult r = plan.execute();
                        if (on[e]) for (int i = 0; i < lengths[e]; i++) want[i] += (i + e) % 5 - 2;
                        assertEquals(4L * MAX, r.bytesIn(), "execution " + e);
                        assertEquals(4L * GROUPS, r.bytesOut(), "execution " + e + ": the download waited and landed");
                        List<String> ran = r.tasks().stream().map(TaskProfile::task).toList();
                        assertEquals(on[e] ? List.of("saxpy", "blockSum") : List.of("blockSum"), ran, "execution " + e);
                        int groups = (lengths[e] + GROUP - 1) / GROUP;
                        for (int k = 0; k < groups; k++) {
                            float s = 0;
                            for (int i = k * GROUP; i < Math.min(lengths[e], (k + 1) * GROUP); i++) s += want[i];
                            assertEquals(s, sums.getAtIndex(F32, k), "execution " + e + " partial[" + k + "]");
                        }
                    }
                    float[] y1 = new float[MAX];
                    b.copyOut(MemorySegment.ofArray(y1), y);
                    assertArrayEquals(want, y1);
                    // signatures: (on, 1000), (on, 37), (off, 1000), (off, 500); repeats replay
                    boolean graphs = device.backend() == BackendKind.CUDA;
                    assertEquals(graphs ? 4 : 0, plan.recordings(), "recorded runs");
                }
            }
        }
    }

    @Test
    void onlyIfFollowsATaskAndDownloadsFit() {
        var empty = new TaskGraph("t").source(SmokeTasks.class);
        assertThrows(IllegalStateException.class, () -> empty.onlyIf(() -> true));
        Backend b = Backends.open(DeviceSpec.JAVA);
        try (DeviceBuffer small = b.allocate(8); Arena a = Arena.ofConfined()) {
            var e = assertThrows(IllegalArgumentException.class, () -> new TaskGraph("t").download(small, a.allocate(16)));
            assertTrue(e.getMessage().contains("16 bytes"), e.getMessage());
        }
    }

    @Test
    void javaBackendHasNoRecordings() {
        assertNull(Backends.open(DeviceSpec.JAVA).record(() -> { }));
    }
}
