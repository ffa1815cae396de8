package org.pariskv.compute.jit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Grid;
import org.pariskv.compute.OpenClTestSupport;
import org.pariskv.compute.graph.DataTransferMode;
import org.pariskv.compute.graph.ExecutionPlan;
import org.pariskv.compute.graph.IntParam;
import org.pariskv.compute.graph.TaskGraph;

/**
 * @Constant parameters (compiled in as literals: local arrays sized by them, one program per value), the warp-level
 * API (shuffles on CUDA behind hasWarpShuffle, the same answers elsewhere), histogramIncrement, read-only and vector
 * loads: on the JVM and on OpenCL (CUDA where there is a GPU), equal outputs.
 */
class SpecialisationTest {

    private static DeviceInfo device(String backend) {
        return backend.equals("cuda") ? OpenClTestSupport.cudaDevice() : OpenClTestSupport.openClDevice();
    }

    private static void run(Object spec, String kernel, Grid grid, Object[] arrays, Object... args) {
        var g = new TaskGraph(kernel).source(SpecialisedKernels.class)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, arrays)
                .task(kernel, grid, args)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, arrays).snapshot();
        try (ExecutionPlan plan = new ExecutionPlan(g)) {
            if (spec instanceof DeviceSpec s) plan.withDevice(s);
            else plan.withDevice((DeviceInfo) spec);
            plan.execute();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void constantsAreCompiledInAndEachValueGetsItsProgram(String backend) {
        DeviceInfo device = device(backend);
        int n = 300;
        for (int[] shape : new int[][] {{1, 8}, {4, 16}, {8, 3}}) {
            int group = shape[0], dim = shape[1];
            Random r = new Random(group * 31 + dim);
            float[] x = new float[n * dim], w = new float[group * dim];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
            float[] jvm = new float[n * group], dev = new float[n * group];
            run(DeviceSpec.JAVA, "groupDots", Grid.linear(n, 64), new Object[] {x, w, jvm}, x, w, jvm, n, group, dim, 0.75f, group == 4);
            run(device, "groupDots", Grid.linear(n, 64), new Object[] {x, w, dev}, x, w, dev, n, group, dim, 0.75f, group == 4);
            assertArrayEquals(jvm, dev, "group " + group + ", dim " + dim);
            float expect = 0f;
            for (int d = 0; d < dim; d++) expect += x[d] * w[d];
            assertEquals((group == 4 ? 2f : 1f) * 0.75f * expect, jvm[0], 1e-4f * dim);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void histogramIncrementCountsEveryKeyEvenWhenOneBinDominates(String backend) {
        DeviceInfo device = device(backend);
        int n = 5000, bins = 37;
        Random r = new Random(7);
        int[] keys = new int[n];
        for (int i = 0; i < n; i++) keys[i] = r.nextInt(4) == 0 ? r.nextInt(bins) : 5; // three quarters in bin 5
        int[] expect = new int[2 * bins];
        for (int k : keys) expect[k]++;
        for (int i = 0; i < 1024; i++) expect[bins + keys[i]]++; // the global histogram of the first 1024
        int[] jvmHist = new int[2 * bins], devHist = new int[2 * bins], jvmFlags = {-1}, devFlags = {-1};
        run(DeviceSpec.JAVA, "histogram", Grid.linear(1024, 128), new Object[] {keys, jvmHist, jvmFlags}, keys, jvmHist, jvmFlags, n, bins);
        run(device, "histogram", Grid.linear(1024, 128), new Object[] {keys, devHist, devFlags}, keys, devHist, devFlags, n, bins);
        assertArrayEquals(expect, jvmHist);
        assertArrayEquals(expect, devHist);
        assertEquals(0, jvmFlags[0], "the JVM has no warp shuffles");
        assertEquals(backend.equals("cuda") ? 1 : 0, devFlags[0], "hasWarpShuffle on " + backend);
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void vectorAndReadOnlyLoadsReadTheSameElementsAsGet(String backend) {
        DeviceInfo device = device(backend);
        int n = 333;
        Random r = new Random(3);
        int[] in = new int[4 * n];
        for (int i = 0; i < in.length; i++) in[i] = r.nextInt(1000) - 500;
        int[] jvm = new int[n], dev = new int[n];
        run(DeviceSpec.JAVA, "vectorLoads", Grid.linear(n, 64), new Object[] {in, jvm}, in, jvm, n);
        run(device, "vectorLoads", Grid.linear(n, 64), new Object[] {in, dev}, in, dev, n);
        for (int i = 0; i < n; i++) {
            int s = 0;
            for (int u = 0; u < 4; u++) s += in[4 * i + u] * (u + 1) + in[4 * i + u] * (u + 5);
            for (int u = 0; u < 2; u++) s += in[2 * i + u] * (u + 9) + in[2 * i + u] * (u + 11);
            assertEquals(s + in[i], jvm[i], "element " + i);
        }
        assertArrayEquals(jvm, dev);
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void warpShufflesAgreeWithTheLocalMemoryPath(String backend) {
        DeviceInfo device = device(backend);
        int n = 512;
        Random r = new Random(11);
        int[] x = new int[n];
        float[] fx = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = r.nextInt(2001) - 1000;
            fx[i] = (float) r.nextGaussian();
        }
        Object[][] outs = new Object[2][];
        Object[] specs = {DeviceSpec.JAVA, device};
        for (int k = 0; k < 2; k++) {
            int[] sums = new int[n], prefix = new int[n], down = new int[n], bcast = new int[n];
            float[] fsums = new float[n];
            run(specs[k], "warpOps", Grid.linear(n, 256), new Object[] {x, sums, prefix, down, bcast, fx, fsums}, x, sums, prefix, down, bcast, fx, fsums);
            outs[k] = new Object[] {sums, prefix, down, bcast, fsums};
        }
        String[] names = {"sums", "prefix", "down", "bcast"};
        for (int a = 0; a < 4; a++) assertArrayEquals((int[]) outs[0][a], (int[]) outs[1][a], names[a] + " on " + backend);
        assertArrayEquals((float[]) outs[0][4], (float[]) outs[1][4], "float sums on " + backend);
        int s = 0;
        for (int u = 0; u < 32; u++) s += x[u];
        assertEquals(s, ((int[]) outs[0][0])[7]);
        assertEquals(x[0] + x[1] + x[2], ((int[]) outs[0][1])[2]);
    }

    @Test
    void aConstantParameterRefusesARuntimeParameterWhenTheTaskIsAdded() {
        float[] x = new float[8], w = new float[8], out = new float[8];
        var e = assertThrows(IllegalArgumentException.class, () -> new TaskGraph("t").source(SpecialisedKernels.class)
                .task("groupDots", Grid.linear(8, 8), x, w, out, 1, new IntParam(1), 8, 1f, false));
        assertTrue(e.getMessage().contains("argument #4") && e.getMessage().contains("@Constant"), e.getMessage());
    }

    @Test
    void theGeneratedProgramReadsTheMacroAndKeepsTheParameterForBinding() {
        for (Dialect d : Dialect.values()) {
            String src = KernelTranslator.translateUncached(SpecialisedKernels.class, d).source();
            assertTrue(src.contains("PKV_LOCAL_DECL float pkv_local0[((int) ((juint) (((int) ((juint) (PKV_CONST_groupDots_4) * (juint) (PKV_CONST_groupDots_5)))) + (juint) (1)))];"), src);
            assertTrue(src.contains("int pkv_unused_group"), src);
            assertTrue(src.contains("#if !defined(PKV_ONLY) || defined(PKV_ONLY_groupDots)"), src);
            assertEquals(d == Dialect.CUDA, src.contains("__shfl_xor_sync"), "shuffle macros on " + d);
            // arrays a kernel never writes are const; out is written in a device function, so it is not
            assertTrue(src.contains("PKV_GLOBAL const float* x, PKV_GLOBAL const float* w, PKV_GLOBAL float* out"), src);
            assertTrue(src.contains("vectorLoads(PKV_GLOBAL const int* PKV_RESTRICT in, PKV_GLOBAL int* PKV_RESTRICT out"), src);
        }
    }
}
