package org.pariskv.compute.jit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Grid;
import org.pariskv.compute.OpenClTestSupport;
import org.pariskv.compute.graph.DataTransferMode;
import org.pariskv.compute.graph.ExecutionPlan;
import org.pariskv.compute.graph.TaskGraph;

/**
 * Each construct of the subset ({@link SubsetKernels}) on random inputs, run by the JVM executor and as generated
 * OpenCL C on PoCL (and as CUDA C through NVRTC where there is a GPU): outputs must be bit-equal (NaN equals NaN whatever its bits, which Java leaves to the hardware;
 * ints that hold float bits are compared as ints, so a kernel that stores them must not compute NaNs).
 */
class SubsetTranslationTest {
    private static final int N = 999; // a multiple of 3, not of the group size

    /** Runs {@code kernel} on the JVM and on {@code backend} (OpenCL; CUDA where there is a GPU) with equal inputs ({@code args} from the same seed); compares every array. */
    private static void agree(String backend, String kernel, Grid grid, Function<Random, Object[]> args) {
        agree(backend, kernel, grid, args, 0);
    }

    /** As above, floats within {@code ulps} units in the last place (the device's own transcendental functions). */
    private static void agree(String backend, String kernel, Grid grid, Function<Random, Object[]> args, int ulps) {
        DeviceInfo device = backend.equals("cuda") ? OpenClTestSupport.cudaDevice() : OpenClTestSupport.openClDevice();
        Object[] jvm = args.apply(new Random(42)), cl = args.apply(new Random(42));
        run(DeviceSpec.JAVA, null, kernel, grid, jvm);
        run(null, device, kernel, grid, cl);
        for (int a = 0; a < jvm.length; a++) {
            if (!jvm[a].getClass().isArray()) continue;
            List<String> diffs = differences(jvm[a], cl[a], ulps);
            if (!diffs.isEmpty()) fail(kernel + " argument #" + a + ": " + diffs.size() + " elements differ (JVM vs " + backend + "), first " + diffs.subList(0, Math.min(5, diffs.size())));
        }
    }

    private static void run(DeviceSpec spec, DeviceInfo device, String kernel, Grid grid, Object[] args) {
        List<Object> arrays = Arrays.stream(args).filter(a -> a.getClass().isArray()).toList();
        var g = new TaskGraph(kernel).source(SubsetKernels.class)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, arrays.toArray())
                .task(kernel, grid, args)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, arrays.toArray()).snapshot();
        try (ExecutionPlan plan = new ExecutionPlan(g)) {
            if (spec != null) plan.withDevice(spec);
            else plan.withDevice(device);
            plan.execute();
        }
    }

    private static List<String> differences(Object a, Object b, int ulps) {
        List<String> d = new ArrayList<>();
        int n = java.lang.reflect.Array.getLength(a);
        for (int i = 0; i < n; i++) {
            Object x = java.lang.reflect.Array.get(a, i), y = java.lang.reflect.Array.get(b, i);
            boolean same = switch (x) {
                // Java leaves the bits of a computed NaN to the hardware: any NaN equals any NaN, all else by bits
                case Float f -> Float.isNaN(f) ? Float.isNaN((Float) y) : Math.abs((long) Float.floatToRawIntBits(f) - Float.floatToRawIntBits((Float) y)) <= ulps;
                case Double v -> Double.isNaN(v) ? Double.isNaN((Double) y) : Double.doubleToRawLongBits(v) == Double.doubleToRawLongBits((Double) y);
                default -> x.equals(y);
            };
            if (!same) d.add("[" + i + "] " + x + " vs " + y);
        }
        return d;
    }

    /** Random ints with the edge cases mixed in. */
    private static int[] ints(Random r, int n) {
        int[] v = new int[n];
        int[] edge = {0, 1, -1, Integer.MIN_VALUE, Integer.MAX_VALUE, 31, 32, 33, -33, 7, 1000, -1000};
        for (int i = 0; i < n; i++) v[i] = i % 5 == 0 ? edge[r.nextInt(edge.length)] : i % 2 == 0 ? r.nextInt() : r.nextInt(2000) - 1000;
        return v;
    }

    private static long[] longs(Random r, int n) {
        long[] v = new long[n];
        long[] edge = {0, 1, -1, Long.MIN_VALUE, Long.MAX_VALUE, 63, 64, 65, Integer.MIN_VALUE};
        for (int i = 0; i < n; i++) v[i] = i % 5 == 0 ? edge[r.nextInt(edge.length)] : i % 2 == 0 ? r.nextLong() : r.nextInt(200) - 100;
        return v;
    }

    /** Random floats with NaN, infinities, signed zeros, subnormals and huge values mixed in. */
    private static float[] floats(Random r, int n) {
        float[] v = new float[n];
        float[] edge = {0f, -0f, 1f, -1f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MIN_VALUE,
                -Float.MIN_VALUE, Float.MAX_VALUE, 1e-40f, 3e9f, -3e9f, 1e20f, 0.5f, 2.5f, -2.5f};
        for (int i = 0; i < n; i++) v[i] = i % 4 == 0 ? edge[r.nextInt(edge.length)] : (float) (r.nextGaussian() * Math.pow(10, r.nextInt(7) - 3));
        return v;
    }

    private static Grid grid(int n) {
        return Grid.linear(n, 64);
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void intArithmeticWrapsAndMasksLikeJava(String backend) {
        agree(backend, "intArithmetic", grid(N), r -> new Object[] {ints(r, N), ints(r, N), new int[16 * N], N});
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void localsNamedLikeCFunctionsDoNotShadowThem(String backend) {
        agree(backend, "localsNamedLikeCFunctions", grid(N), r -> new Object[] {floats(r, N), new float[N], N});
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void longArithmetic(String backend) {
        agree(backend, "longArithmetic", grid(N), r -> new Object[] {longs(r, N), longs(r, N), new long[12 * N], N});
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void floatArithmeticIsBitEqual(String backend) {
        agree(backend, "floatArithmetic", grid(N), r -> new Object[] {floats(r, N), floats(r, N), new float[14 * N], N});
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void conversionsSaturateAndNarrowLikeJava(String backend) {
        agree(backend, "conversions", grid(N), r -> new Object[] {floats(r, N), new int[8 * N], new long[2 * N], N});
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void comparisonsHonourNaN(String backend) {
        agree(backend, "comparisons", grid(N), r -> {
            float[] a = floats(r, N), b = floats(r, N);
            for (int i = 0; i < N; i += 7) b[i] = a[i]; // equal pairs too
            return new Object[] {a, b, new int[N], N};
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void loopsBranchesAndShortCircuits(String backend) {
        agree(backend, "loopsAndBranches", grid(N), r -> new Object[] {ints(r, N), new int[3 * N], N});
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void switches(String backend) {
        agree(backend, "switches", grid(N), r -> {
            int[] v = ints(r, N);
            for (int i = 0; i < N; i += 9) v[i] = new int[] {-500, 17, 999, 100000, 1999, -1500}[r.nextInt(6)];
            return new Object[] {v, new int[3 * N], N};
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void callsOfStaticMethodsAndConstants(String backend) {
        agree(backend, "calls", grid(N), r -> new Object[] {floats(r, N), new float[2 * N], N});
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void bitIntrinsics(String backend) {
        agree(backend, "bits", grid(N), r -> new Object[] {ints(r, N), ints(r, N), new int[9 * N], N});
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void narrowTypes(String backend) {
        agree(backend, "narrowTypes", grid(N), r -> {
            byte[] b = new byte[N];
            short[] s = new short[N];
            r.nextBytes(b);
            for (int i = 0; i < N; i++) s[i] = (short) r.nextInt();
            return new Object[] {b, s, new byte[N], new short[N], new int[3 * N], N};
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void localMemoryBarriersAndAtomics(String backend) {
        agree(backend, "localScan", grid(N), r -> {
            int[] v = new int[N];
            for (int i = 0; i < N; i++) v[i] = r.nextInt(2001) - 1000;
            return new Object[] {v, new int[N], new int[] {Integer.MIN_VALUE, Integer.MAX_VALUE, 0, 0}, N};
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void twoDimensionalGrid(String backend) {
        int w = 48, h = 12;
        agree(backend, "grid2d", new Grid(new long[] {w, h}, new long[] {16, 4}), r -> new Object[] {new float[w * h], w});
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void ternariesAcrossBlocks(String backend) {
        agree(backend, "ternaries", grid(N), r -> {
            int[] f = new int[N];
            for (int i = 0; i < N; i++) f[i] = r.nextInt(15) - 7;
            return new Object[] {floats(r, N), f, new float[2 * N], N, true};
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void barriersInsideDeviceFunctions(String backend) {
        int n = 64 * 300;
        for (int repeat = 0; repeat < 3; repeat++) { // PoCL got this wrong now and then while such functions stayed out of line
            agree(backend, "twoReductions", grid(n), r -> {
                float[] x = new float[n];
                for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
                return new Object[] {x, new float[2 * 300], n};
            });
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void privateArrays(String backend) {
        agree(backend, "privateArrays", grid(N), r -> new Object[] {ints(r, N), new int[3 * N], N});
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void tangledLoops(String backend) {
        agree(backend, "tangledLoops", grid(N), r -> new Object[] {ints(r, N), new int[5 * N], N});
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void floatExp(String backend) {
        // the range softmax weights see (x - max <= 0) and beyond, with the edges: +-0, +-inf, NaN, under/overflow
        int n = 64 * 64;
        // KernelMath.exp is the device's float exp, as pkv.h's EXP: PoCL's is 1 ulp from the JVM's correctly rounded
        // value in a tenth of these; OpenCL allows 3 ulp, CUDA's expf is within 2 (and equals the C kernels' bit for
        // bit, which DecodeKernelsTest checks through attentionCombine)
        agree(backend, "floatExp", grid(n), r -> {
            float[] x = new float[n];
            float[] edge = {0f, -0f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, -87.5f, -104f, 88.7f, 89f, 1e-8f};
            for (int i = 0; i < n; i++) x[i] = i < edge.length ? edge[i] : i % 3 == 0 ? -20 * r.nextFloat() : (float) (r.nextGaussian() * 30);
            return new Object[] {x, new float[n], n};
        }, 3);
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void tables(String backend) {
        agree(backend, "tables", grid(N), r -> new Object[] {ints(r, N), new float[2 * N], new int[N], N});
    }

    @ParameterizedTest
    @ValueSource(strings = {"opencl", "cuda"})
    void postIncrements(String backend) {
        // the old value of a local incremented while it is still on the operand stack (it was read after the increment)
        agree(backend, "postIncrements", grid(N), r -> {
            int[] in = new int[4 * N];
            for (int i = 0; i < in.length; i++) in[i] = r.nextInt(600);
            return new Object[] {in, new int[4 * N], N};
        });
    }

    @Test
    void theJvmExecutorComputesWhatJavaComputes() {
        // the oracle of the tests above is the executor itself: hold it against a plain loop once
        int n = 300;
        int[] a = ints(new Random(1), n), b = ints(new Random(2), n), out = new int[16 * n];
        run(DeviceSpec.JAVA, null, "intArithmetic", grid(n), new Object[] {a, b, out, n});
        for (int i = 0; i < n; i++) {
            assertEquals(a[i] + b[i], out[16 * i]);
            assertEquals(a[i] << b[i], out[16 * i + 5]);
            assertEquals(a[i] >>> b[i], out[16 * i + 7]);
            assertEquals(b[i] == 0 ? 0 : a[i] / b[i], out[16 * i + 3]);
        }
        int[] v = new int[n], scanned = new int[n], extremes = {Integer.MIN_VALUE, Integer.MAX_VALUE, 0, 0};
        for (int i = 0; i < n; i++) v[i] = i % 11 - 5;
        run(DeviceSpec.JAVA, null, "localScan", grid(n), new Object[] {v, scanned, extremes, n});
        for (int g = 0; g < n; g += 64) {
            int s = 0;
            for (int i = g; i < Math.min(n, g + 64); i++) {
                s += v[i];
                assertEquals(s, scanned[i], "inclusive scan within each group of 64 at " + i);
            }
        }
        assertEquals(5, extremes[0]);
        assertEquals(-5, extremes[1]);
        assertEquals(Arrays.stream(v).filter(x -> x < 0).count(), extremes[2]);
        assertEquals(Arrays.stream(v).filter(x -> x >= 0).count(), extremes[3]);
    }

    @Test
    void loopCountersStepBySignedAddsAndOtherSumsWrap() {
        // a counter the loop's exit test reads: a signed add, so that nvcc can count the iterations (unrolling)
        String src = KernelTranslator.translateUncached(SubsetKernels.class, Dialect.CUDA).source();
        assertTrue(src.contains("a = a + (97);"), "search's 'a += 97' under 'a < n'");
        assertTrue(src.contains("c = c + (-1);"), "postIncrements' 'c--' under 'c > base'");
        // any other int sum keeps Java's wrap (unsigned in C), in a loop too
        assertTrue(src.contains("acc = ((int) ((juint) (acc) + (juint) (100)));"), "switches' 'acc += 100' in its loop");
        assertTrue(src.contains("above = ((int) ((juint) (above) + (juint) (in[pkv_t2])));"),
                "postIncrements' 'above +=': the header does not read it");
    }

    @Test
    void generatedCodeIsStructured() {
        for (Dialect d : Dialect.values()) {
            String src = KernelTranslator.translateUncached(SubsetKernels.class, d).source();
            assertFalse(src.contains("goto"), "no goto in " + d);
            assertTrue(src.contains("switch ("), "switches stay switches");
            assertTrue(src.contains("while (") || src.contains("for (;;)"));
        }
    }
}
