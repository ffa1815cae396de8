package org.pariskv.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.pariskv.compute.BackendKind;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Devices;
import org.pariskv.compute.Grid;
import org.pariskv.compute.OpenClTestSupport;
import org.pariskv.compute.graph.DataTransferMode;
import org.pariskv.compute.graph.ExecutionPlan;
import org.pariskv.compute.graph.TaskGraph;
import org.pariskv.encode.Bf16;
import org.pariskv.model.device.ModelKernels;

/**
 * Each kernel of {@link ModelKernels} on the JVM executor, on OpenCL (PoCL on CI) and on CUDA where present, against the CPU model's own
 * routines ({@link Matrix}, {@link Rope}, {@code LlamaModel.rmsnorm}, {@code LlamaModel.silu}). Tolerances:
 * <ul>
 *   <li>embedding, residual add: bit-equal everywhere (no rounding besides the one the CPU does);</li>
 *   <li>rmsnorm: bit-equal JVM vs device; vs the CPU at most 1 ulp (the f64 sum of squares is reduced in another
 *       order, which can round differently to f32 in rare cases);</li>
 *   <li>matvec: bit-equal JVM vs device; vs the CPU (SIMD lanes, another f32 summation order)
 *       {@code |Δ| <= 1e-5 Σ|w_i x_i|}, above the f32 error bound of either order for these sizes;</li>
 *   <li>RoPE, SwiGLU: the JVM executor is bit-equal to the CPU (same Math.cos/sin/exp); the device's cos/sin/exp
 *       are its own, so device vs CPU {@code |Δ| <= 1e-6 (|x0| + |x1|)} for RoPE and 4 ulp for SwiGLU.</li>
 * </ul>
 */
class ModelKernelsTest {

    private static final DataTransferMode EVERY = DataTransferMode.EVERY_EXECUTION;

    /** The JVM, the OpenCL device, and the first CUDA device where there is one (every comparison runs on each). */
    private static List<DeviceSpec> specs() {
        List<DeviceSpec> s = new ArrayList<>(List.of(DeviceSpec.JAVA, DeviceSpec.parse(OpenClTestSupport.openClDevice().spec())));
        var cuda = Devices.list().of(BackendKind.CUDA);
        if (!cuda.isEmpty()) s.add(DeviceSpec.parse(cuda.getFirst().spec()));
        return s;
    }

    /** Runs one task: every array argument goes up, {@code out} comes back. */
    private static void run(DeviceSpec spec, String task, Grid grid, Object[] out, Object... args) {
        List<Object> arrays = new ArrayList<>();
        for (Object a : args) if (a.getClass().isArray()) arrays.add(a);
        var g = new TaskGraph(task).transferToDevice(EVERY, arrays.toArray()).source(ModelKernels.class)
                .task(task, grid, args).transferToHost(EVERY, out).snapshot();
        try (ExecutionPlan p = new ExecutionPlan(g).withDevice(spec)) {
            p.execute();
        }
    }

    private static float[] gaussian(Random r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextGaussian() * scale);
        return a;
    }

    private static short[] bf16(Random r, int n, double scale) {
        short[] a = new short[n];
        for (int i = 0; i < n; i++) a[i] = Bf16.fromFloat((float) (r.nextGaussian() * scale));
        return a;
    }

    private static Matrix matrix(short[] w, int rows, int cols) {
        return new Matrix("w", MemorySegment.ofArray(w), true, rows, cols);
    }

    private static int ulps(float a, float b) {
        return Math.abs(Float.floatToIntBits(a) - Float.floatToIntBits(b));
    }

    @Test
    void gemvMatchesMatrixWithinF32RoundingAndIsBitEqualAcrossBackends() {
        Random r = new Random(9);
        // 9 inputs: two batch blocks; rows not a multiple of the rows a group; 1032 columns: a partial round
        int[][] shapes = {{1, 96, 64}, {3, 37, 768}, {9, 130, 256}, {1, 5, 4096}, {2, 7, 1032}, {1, 11, 1032}};
        for (int[] sh : shapes) {
            int n = sh[0], rows = sh[1], cols = sh[2];
            short[] w = bf16(r, rows * cols, 1 / Math.sqrt(cols));
            float[] x = gaussian(r, n * cols, 1);
            float[] want = new float[n * rows];
            matrix(w, rows, cols).matmul(x, n, want);
            int[] wInts = new int[rows * cols / 2], xInts = new int[n * cols]; // the same bytes, as the kernel reads them
            MemorySegment.ofArray(wInts).copyFrom(MemorySegment.ofArray(w));
            for (int i = 0; i < x.length; i++) xInts[i] = Float.floatToRawIntBits(x[i]);
            Grid grid = ModelKernels.gemvGrid(n, rows, cols);
            float[] first = null;
            for (DeviceSpec s : specs()) {
                float[] out = new float[n * rows];
                java.util.Arrays.fill(out, Float.NaN); // every element must be written
                run(s, "gemv", grid, new Object[] {out}, wInts, xInts, out, n, rows, cols, ModelKernels.gemvRowsPerWarp(n, cols));
                for (int t = 0; t < n; t++) {
                    for (int o = 0; o < rows; o++) {
                        double mag = 0;
                        for (int c = 0; c < cols; c++) mag += Math.abs(ModelKernels.bf16(w[o * cols + c]) * x[t * cols + c]);
                        int i = t * rows + o;
                        assertEquals(want[i], out[i], 1e-5 * mag, "gemv " + n + "x" + rows + "x" + cols + " [" + i + "] on " + s);
                    }
                }
                if (first == null) first = out;
                else assertArrayEquals(first, out, "gemv " + n + "x" + rows + "x" + cols + ": JVM and " + s + " differ");
                for (int rpw : new int[] {1, 2, 4}) { // the same partial sums in the same order: the same bits
                    float[] rounds = new float[n * rows], other = new float[n * rows];
                    Grid g = new Grid(new long[] {(long) ((rows + 4 * rpw - 1) / (4 * rpw)) * ModelKernels.GEMV_THREADS, grid.global()[1]}, grid.local());
                    run(s, "gemvRounds", g, new Object[] {rounds}, wInts, xInts, rounds, n, rows, cols, rpw);
                    run(s, "gemv", g, new Object[] {other}, wInts, xInts, other, n, rows, cols, rpw);
                    assertArrayEquals(first, rounds, "gemvRounds, " + rpw + " rows a warp, " + n + "x" + rows + "x" + cols + " on " + s);
                    assertArrayEquals(first, other, "gemv, " + rpw + " rows a warp, " + n + "x" + rows + "x" + cols + " on " + s);
                }
            }
        }
    }

    /** bf16 weights as the ints gemv loads (the same bytes). */
    private static int[] ints(short[] w) {
        int[] a = new int[w.length / 2];
        MemorySegment.ofArray(a).copyFrom(MemorySegment.ofArray(w));
        return a;
    }

    private static int[] floatBits(float[] x) {
        int[] a = new int[x.length];
        for (int i = 0; i < x.length; i++) a[i] = Float.floatToRawIntBits(x[i]);
        return a;
    }

    private static float[] nans(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, Float.NaN); // every element must be written
        return a;
    }

    /** gemv of one matrix with the model's grid and rows a warp, on {@code s}. */
    private static float[] gemv(DeviceSpec s, short[] w, int[] x, int n, int rows, int cols) {
        float[] out = nans(n * rows);
        run(s, "gemv", ModelKernels.gemvGrid(n, rows, cols), new Object[] {out}, ints(w), x, out, n, rows, cols, ModelKernels.gemvRowsPerWarp(n, cols));
        return out;
    }

    /** The pair kernels' grid with {@code rpw} rows a warp over {@code rows} weight rows. */
    private static Grid pairGrid(int n, int rows, int rpw) {
        int perGroup = ModelKernels.GEMV_WARPS * rpw;
        return new Grid(new long[] {(long) ((rows + perGroup - 1) / perGroup) * ModelKernels.GEMV_THREADS, (n + ModelKernels.GEMV_BATCH - 1) / ModelKernels.GEMV_BATCH},
                new long[] {ModelKernels.GEMV_THREADS, 1});
    }

    @Test
    void gemvSwigluHasTheBitsOfTwoGemvsAndSwiglu() {
        Random r = new Random(10);
        // n 9: two batch blocks; 2 ff rows not a multiple of a group's 8 or 16; 1032 and 264 columns: partial 256-column steps
        int[][] shapes = {{1, 37, 1032}, {3, 21, 264}, {9, 19, 64}, {9, 6, 1032}, {1, 64, 256}};
        for (int[] sh : shapes) {
            int n = sh[0], ff = sh[1], cols = sh[2];
            short[] gate = bf16(r, ff * cols, 1 / Math.sqrt(cols)), up = bf16(r, ff * cols, 1 / Math.sqrt(cols));
            short[] both = new short[2 * ff * cols]; // row 2r gate row r, row 2r + 1 up row r
            for (int o = 0; o < ff; o++) {
                System.arraycopy(gate, o * cols, both, 2 * o * cols, cols);
                System.arraycopy(up, o * cols, both, (2 * o + 1) * cols, cols);
            }
            int[] x = floatBits(gaussian(r, n * cols, 2));
            String shape = n + "x" + ff + "x" + cols;
            float[] first = null;
            for (DeviceSpec s : specs()) {
                float[] g = gemv(s, gate, x, n, ff, cols), u = gemv(s, up, x, n, ff, cols);
                run(s, "swiglu", Grid.linear(n * ff, 64), new Object[] {g}, g, u, n * ff);
                float[] fused = nans(n * ff);
                run(s, "gemvSwiglu", ModelKernels.gemvPairGrid(n, 2 * ff, cols), new Object[] {fused}, ints(both), x, fused, n, ff, cols,
                        ModelKernels.gemvPairRowsPerWarp(n, cols));
                assertArrayEquals(g, fused, "gemvSwiglu " + shape + " = gemv, gemv, swiglu on " + s);
                for (int rpw : new int[] {2, 4}) {
                    float[] other = nans(n * ff);
                    run(s, "gemvSwiglu", pairGrid(n, 2 * ff, rpw), new Object[] {other}, ints(both), x, other, n, ff, cols, rpw);
                    assertArrayEquals(g, other, "gemvSwiglu " + shape + ", " + rpw + " rows a warp, on " + s);
                }
                if (first == null) first = fused;
                else assertArrayEquals(first, fused, "gemvSwiglu " + shape + ": JVM and " + s + " differ");
            }
        }
    }

    @Test
    void gemvQkvHasTheBitsOfThreeGemvsAndRopeQk() {
        Random r = new Random(11);
        // {n, heads, kvHeads, headDim, cols}: stacked rows 30 and 120 not a multiple of a group's 8 or 16 rows
        int[][] shapes = {{1, 3, 1, 6, 1032}, {3, 4, 2, 16, 264}, {9, 2, 1, 32, 72}, {9, 3, 1, 6, 256}, {3, 2, 2, 64, 64}};
        for (int[] sh : shapes) {
            int n = sh[0], heads = sh[1], kvHeads = sh[2], hd = sh[3], cols = sh[4];
            int qRow = heads * hd, kvRow = kvHeads * hd, rows = qRow + 2 * kvRow;
            short[] wq = bf16(r, qRow * cols, 1 / Math.sqrt(cols)), wk = bf16(r, kvRow * cols, 1 / Math.sqrt(cols)),
                    wv = bf16(r, kvRow * cols, 1 / Math.sqrt(cols));
            short[] stacked = new short[rows * cols];
            System.arraycopy(wq, 0, stacked, 0, wq.length);
            System.arraycopy(wk, 0, stacked, wq.length, wk.length);
            System.arraycopy(wv, 0, stacked, wq.length + wk.length, wv.length);
            int[] x = floatBits(gaussian(r, n * cols, 1));
            float[] inv = new float[hd / 2];
            for (int j = 0; j < inv.length; j++) inv[j] = (float) (1.0 / Math.pow(500000, 2.0 * j / hd));
            int[] positions = new int[n];
            for (int t = 0; t < n; t++) positions[t] = r.nextInt(40000);
            String shape = n + "x(" + heads + "+2x" + kvHeads + ")x" + hd + "x" + cols;
            float[][] first = null;
            for (DeviceSpec s : specs()) {
                float[] q = gemv(s, wq, x, n, qRow, cols), k = gemv(s, wk, x, n, kvRow, cols), v = gemv(s, wv, x, n, kvRow, cols);
                float[] qPlain = q.clone(), kPlain = k.clone();
                run(s, "ropeQk", Grid.linear(n * (qRow + kvRow) / 2, 64), new Object[] {q, k}, q, k, inv, positions, n, heads, kvHeads, hd);
                int rpw = ModelKernels.gemvPairRowsPerWarp(n, cols);
                for (boolean rope : new boolean[] {true, false}) {
                    for (int w : new int[] {rpw, 6 - rpw}) { // the model's rows a warp, and the other even choice
                        float[] fq = nans(n * qRow), fk = nans(n * kvRow), fv = nans(n * kvRow);
                        Grid g = w == rpw ? ModelKernels.gemvPairGrid(n, rows, cols) : pairGrid(n, rows, w);
                        run(s, "gemvQkv", g, new Object[] {fq, fk, fv}, ints(stacked), x, fq, fk, fv, inv, positions, n, qRow, kvRow, hd, cols, w, rope);
                        String what = "gemvQkv " + shape + (rope ? "" : " without rope") + ", " + w + " rows a warp, on " + s;
                        assertArrayEquals(rope ? q : qPlain, fq, what + ": q");
                        assertArrayEquals(rope ? k : kPlain, fk, what + ": k");
                        assertArrayEquals(v, fv, what + ": v");
                    }
                }
                if (first == null) first = new float[][] {q, k, v};
                else for (int i = 0; i < 3; i++) assertArrayEquals(first[i], new float[][] {q, k, v}[i], "gemvQkv " + shape + ": JVM and " + s + " differ");
            }
        }
    }

    @Test
    void randomBf16IsUniformAndTheSameOnEveryBackend() {
        int n = 100_003;
        short[] first = null;
        for (DeviceSpec s : specs()) {
            short[] w = new short[n];
            run(s, "randomBf16", Grid.linear(4096, 256), new Object[] {w}, w, (long) n, 42, 0.5f);
            if (first == null) first = w;
            else assertArrayEquals(first, w, "randomBf16 on " + s);
        }
        double sum = 0, sq = 0;
        for (short b : first) {
            float v = Bf16.toFloat(b);
            assertTrue(v >= -0.5f && v < 0.5f, "value " + v + " outside [-0.5, 0.5)");
            sum += v;
            sq += v * v;
        }
        assertEquals(0, sum / n, 0.005, "mean");
        assertEquals(0.25 / 3, sq / n, 0.003, "variance of U(-0.5, 0.5)");
        short[] other = new short[n];
        run(DeviceSpec.JAVA, "randomBf16", Grid.linear(4096, 256), new Object[] {other}, other, (long) n, 43, 0.5f);
        int same = 0;
        for (int i = 0; i < n; i++) if (other[i] == first[i]) same++;
        assertTrue(same < n / 50, "another seed, other values: " + same + " of " + n + " equal");
    }

    @Test
    void embeddingGathersBf16RowsAsTheCpuModel() {
        Random r = new Random(1);
        int vocab = 300, dim = 96, n = 5;
        short[] table = bf16(r, vocab * dim, 1);
        int[] tokens = {0, 299, 17, 17, 150};
        float[] want = new float[n * dim];
        for (int t = 0; t < n; t++) matrix(table, vocab, dim).row(tokens[t], want, t * dim);
        for (DeviceSpec s : specs()) {
            float[] x = new float[n * dim];
            run(s, "embedding", Grid.linear(n * dim, 64), new Object[] {x}, table, tokens, x, n, dim);
            assertArrayEquals(want, x, "embedding on " + s);
        }
    }

    @Test
    void rmsnormMatchesTheCpuModelAndIsBitEqualAcrossBackends() {
        Random r = new Random(2);
        for (int size : new int[] {16, 128, 256, 1000, 4096}) {
            int rows = 3;
            float[] x = gaussian(r, rows * size, 3), w = gaussian(r, size, 1);
            float eps = 1e-5f;
            float[] want = new float[rows * size];
            LlamaModel.rmsnorm(want, x, w, rows, size, eps);
            float[] first = null;
            for (DeviceSpec s : specs()) {
                float[] out = new float[rows * size];
                run(s, "rmsnorm", Grid.groups(rows, ModelKernels.GROUP), new Object[] {out}, out, x.clone(), w, size, eps);
                for (int i = 0; i < out.length; i++) assertTrue(ulps(want[i], out[i]) <= 1, "rmsnorm size " + size + " [" + i + "] on " + s + ": " + out[i] + " vs " + want[i]);
                if (first == null) first = out;
                else assertArrayEquals(first, out, "JVM and device differ, size " + size);
                // the model's group size for the row (another f64 summation order: the same 1-ulp bound)
                float[] wide = new float[rows * size];
                run(s, "rmsnorm", Grid.groups(rows, ModelKernels.normGroup(size)), new Object[] {wide}, wide, x.clone(), w, size, eps);
                for (int i = 0; i < wide.length; i++) assertTrue(ulps(want[i], wide[i]) <= 1, "rmsnorm group " + ModelKernels.normGroup(size) + " size " + size + " [" + i + "] on " + s);
                // the residual add fused into the norm: the same bits as add, then rmsnorm
                float[] y = gaussian(new Random(size), rows * size, 1), xs = x.clone(), fused = new float[rows * size], sum = x.clone();
                for (int i = 0; i < sum.length; i++) sum[i] += y[i];
                float[] separate = new float[rows * size];
                run(s, "rmsnorm", Grid.groups(rows, ModelKernels.normGroup(size)), new Object[] {separate}, separate, sum, w, size, eps);
                run(s, "addRmsnorm", Grid.groups(rows, ModelKernels.normGroup(size)), new Object[] {xs, fused}, xs, y, fused, w, size, eps);
                assertArrayEquals(sum, xs, "addRmsnorm's residual on " + s);
                assertArrayEquals(separate, fused, "addRmsnorm = add then rmsnorm on " + s);
            }
            // in place, as the forward pass runs it for the q/k norms
            float[] inPlace = x.clone();
            run(specs().get(1), "rmsnorm", Grid.groups(rows, ModelKernels.GROUP), new Object[] {inPlace}, inPlace, inPlace, w, size, eps);
            assertArrayEquals(first, inPlace, "in place");
        }
    }

    @Test
    void matvecAndMatvec4MatchMatrixWithinF32RoundingAndAreBitEqualAcrossBackends() {
        Random r = new Random(3);
        int[][] shapes = {{1, 96, 64}, {2, 256, 768}, {1, 37, 4096}};
        for (int[] sh : shapes) {
            int n = sh[0], rows = sh[1], cols = sh[2];
            short[] w = bf16(r, rows * cols, 1 / Math.sqrt(cols));
            float[] x = gaussian(r, n * cols, 1);
            float[] want = new float[n * rows];
            matrix(w, rows, cols).matmul(x, n, want);
            float[] first = null, firstWide = null;
            long[] wide = new long[rows * cols / 4]; // the same bytes, four weights a long (little-endian)
            MemorySegment.ofArray(wide).copyFrom(MemorySegment.ofArray(w));
            for (DeviceSpec s : specs()) {
                float[] out = new float[n * rows], out4 = new float[n * rows];
                run(s, "matvec", Grid.groups((long) n * rows, ModelKernels.GROUP), new Object[] {out}, w, x, out, rows, cols);
                run(s, "matvec4", Grid.groups((long) n * rows, ModelKernels.GROUP), new Object[] {out4}, wide, x, out4, rows, cols);
                if (firstWide == null) firstWide = out4;
                else assertArrayEquals(firstWide, out4, "matvec4: JVM and device differ");
                for (int t = 0; t < n; t++) {
                    for (int o = 0; o < rows; o++) {
                        double mag = 0;
                        for (int c = 0; c < cols; c++) mag += Math.abs(ModelKernels.bf16(w[o * cols + c]) * x[t * cols + c]);
                        int i = t * rows + o;
                        assertEquals(want[i], out[i], 1e-5 * mag, "matvec " + n + "x" + rows + "x" + cols + " [" + i + "] on " + s);
                        assertEquals(want[i], out4[i], 1e-5 * mag, "matvec4 " + n + "x" + rows + "x" + cols + " [" + i + "] on " + s);
                    }
                }
                if (first == null) first = out;
                else assertArrayEquals(first, out, "JVM and device differ");
            }
        }
    }

    @Test
    void ropeMatchesTheCpuRope() {
        LlamaConfig c = LlamaConfig.read(BundledModel.directory().resolve("config.json"));
        Rope rope = new Rope(c);
        float[] inv = rope.inverseFrequencies();
        Random r = new Random(4);
        int heads = c.heads(), hd = c.headDim(), n = 4;
        int[] positions = {0, 1, 777, 31000};
        float[] x = gaussian(r, n * heads * hd, 1);
        float[] want = x.clone();
        for (int t = 0; t < n; t++) rope.rotate(want, t * heads * hd, heads, positions[t]);
        for (DeviceSpec s : specs()) {
            float[] y = x.clone();
            run(s, "rope", Grid.linear(n * heads * hd / 2, 64), new Object[] {y}, y, inv, positions, n, heads, hd);
            // q and k in one launch: each the bits of its own rope launch
            int kvHeads = c.kvHeads();
            float[] kx = gaussian(new Random(5), n * kvHeads * hd, 1), qy = x.clone(), ky = kx.clone(), kAlone = kx.clone();
            run(s, "ropeQk", Grid.linear(n * (heads + kvHeads) * hd / 2, 64), new Object[] {qy, ky}, qy, ky, inv, positions, n, heads, kvHeads, hd);
            run(s, "rope", Grid.linear(n * kvHeads * hd / 2, 64), new Object[] {kAlone}, kAlone, inv, positions, n, kvHeads, hd);
            assertArrayEquals(y, qy, "ropeQk's q on " + s);
            assertArrayEquals(kAlone, ky, "ropeQk's k on " + s);
            if (s.equals(DeviceSpec.JAVA)) {
                assertArrayEquals(want, y, "the JVM executor is the CPU's arithmetic");
                continue;
            }
            for (int i = 0; i < y.length; i++) {
                int j = i % hd, partner = j < hd / 2 ? i + hd / 2 : i - hd / 2;
                assertEquals(want[i], y[i], 1e-6 * (Math.abs(x[i]) + Math.abs(x[partner])), "rope [" + i + "] on " + s);
            }
        }
    }

    @Test
    void swigluAndResidualAdd() {
        Random r = new Random(5);
        int n = 1000;
        float[] gate = gaussian(r, n, 4), up = gaussian(r, n, 2), want = new float[n];
        for (int i = 0; i < n; i++) want[i] = LlamaModel.silu(gate[i]) * up[i];
        float[] sum = new float[n];
        for (int i = 0; i < n; i++) sum[i] = gate[i] + up[i];
        for (DeviceSpec s : specs()) {
            float[] g = gate.clone();
            run(s, "swiglu", Grid.linear(n, 64), new Object[] {g}, g, up, n);
            boolean jvm = s.equals(DeviceSpec.JAVA);
            for (int i = 0; i < n; i++) assertTrue(ulps(want[i], g[i]) <= (jvm ? 0 : 4), "swiglu [" + i + "] on " + s + ": " + g[i] + " vs " + want[i]);
            float[] x = gate.clone();
            run(s, "add", Grid.linear(n, 64), new Object[] {x}, x, up, n);
            assertArrayEquals(sum, x, "add on " + s);
        }
    }
}
