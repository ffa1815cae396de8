package org.pariskv.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.pariskv.compute.Backend;
import org.pariskv.compute.Backends;
import org.pariskv.compute.DeviceBuffer;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Grid;
import org.pariskv.compute.KernelArg;
import org.pariskv.compute.OpenClTestSupport;
import org.pariskv.compute.graph.DataTransferMode;
import org.pariskv.compute.graph.ExecutionPlan;
import org.pariskv.compute.graph.TaskGraph;

/** The Java kernels of {@link DecodeKernels} against their hand-written originals in pariskv.c, on PoCL and the JVM. */
class DecodeKernelsTest {

    @ParameterizedTest(name = "capTok {0}, ringBase {1}, ring {2}")
    @CsvSource({"50, 8, 16", "50, 0, 0", "0, 4, 8", "33, 1, 32"})
    void appendTokensEqualsTheHandWrittenKernel(int capTok, int ringBase, int ring) {
        var device = OpenClTestSupport.openClDevice();
        Backend b = Backends.open(device);
        int streams = 3, d = 64;
        Random r = new Random(capTok * 31 + ring);
        short[] newKeys = shorts(r, streams * d), newValues = shorts(r, streams * d);
        int[] plan = new int[streams * DecodeTwins.PLAN_STRIDE];
        for (int s = 0; s < streams; s++) plan[s * DecodeTwins.PLAN_STRIDE + DecodeTwins.P_LEN] = 1 + r.nextInt(capTok > 0 ? capTok : 60); // tokens inside the cache
        int capRows = Math.max(capTok, 1), winRows = Math.max(ringBase + ring, 1);
        short[] keys = shorts(r, streams * capRows * d), values = shorts(r, streams * capRows * d);
        short[] winKeys = shorts(r, streams * winRows * d), winValues = shorts(r, streams * winRows * d);
        Grid grid = Grid.groups(streams, d);

        // the hand-written kernel
        short[][] c = {keys.clone(), values.clone(), winKeys.clone(), winValues.clone()};
        try (KernelRig rig = new KernelRig(b)) {
            var program = rig.compile(KernelRig.defines(d, 1, 2, 16));
            DeviceBuffer[] out = new DeviceBuffer[4];
            for (int i = 0; i < 4; i++) out[i] = rig.upload(MemorySegment.ofArray(c[i]));
            rig.launch(program, "appendTokens", grid, rig.upload(MemorySegment.ofArray(newKeys)),
                    rig.upload(MemorySegment.ofArray(newValues)), rig.upload(MemorySegment.ofArray(plan)), out[0], out[1],
                    out[2], out[3], new KernelArg.Int(capTok), new KernelArg.Int(ringBase), new KernelArg.Int(ring));
            for (int i = 0; i < 4; i++) c[i] = rig.read(out[i]).toArray(ValueLayout.JAVA_SHORT);
        }
        // the Java kernel, on OpenCL and on the JVM
        for (DeviceSpec spec : new DeviceSpec[] {DeviceSpec.parse(device.spec()), DeviceSpec.JAVA}) {
            short[][] j = {keys.clone(), values.clone(), winKeys.clone(), winValues.clone()};
            var g = new TaskGraph("append").source(DecodeKernels.class)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, newKeys, newValues, plan, j[0], j[1], j[2], j[3])
                    .task("appendTokens", grid, newKeys, newValues, plan, j[0], j[1], j[2], j[3], capTok, ringBase, ring, d)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, j[0], j[1], j[2], j[3]).snapshot();
            try (ExecutionPlan p = new ExecutionPlan(g).withDevice(spec)) {
                p.execute();
            }
            String[] names = {"keys", "values", "winKeys", "winValues"};
            for (int i = 0; i < 4; i++) assertArrayEquals(c[i], j[i], names[i] + " on " + spec);
        }
    }

    private static short[] shorts(Random r, int n) {
        short[] a = new short[n];
        for (int i = 0; i < n; i++) a[i] = (short) r.nextInt();
        return a;
    }
}
