package org.pariskv.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.pariskv.device.DecodeLayout.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
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

/**
 * The Java top-k kernels of {@link TopKKernels} against their hand-written originals in pariskv.c on the same device
 * (PoCL; CUDA where there is a GPU), and against a JVM run: positions and tokens bit for bit. The shapes take both
 * of select_top's paths (the buckets down to the k-th's; radix select when they hold more than {@code TOPK_CAP} items
 * or one bucket more than {@code TOPK_BUCKET}: equal, ±0, few-level and flat estimates), both of order_ints' (counting;
 * bitonic for k^2 > 64 L), NQ 1 (the selection too) and 4, one stage (slices 0) and two (topKSlice, then topK over its
 * lists), at both work-group sizes the decoder launches.
 */
class TopKKernelsTest {

    /** One shape: the estimates of a query (kind, m), the top-k, the work-group size and whether it runs in slices. */
    static Stream<Arguments> shapes() {
        Object[][] rows = {
                // nq, kmax, topk, kind, m, threads, sliced (three (nq, kmax) pairs: each is a C and a Java program to build)
                {1, 128, 100, "gaussian", 13000, 256, false},
                {1, 128, 100, "gaussian", 13000, 1024, true},
                {4, 1024, 100, "equal (radix)", 6000, 256, false},
                {4, 1024, 1000, "equal (radix)", 4200, 256, true},
                {1, 1024, 1000, "six levels", 2400, 256, false},
                {1, 1024, 1024, "one bucket, distinct (radix)", 4000, 1024, false},
                {4, 1024, 700, "gaussian", 9000, 1024, false},
                {1, 128, 128, "gaussian", 37, 256, false}, // fewer than k
                {4, 1024, 100, "+0 and -0 (radix)", 3000, 256, true},
                {1, 1024, 1000, "heavy tail", 20000, 256, true},
                {1, 128, 100, "six levels (radix)", 5000, 256, true},
                {4, 1024, 128, "negative, dense top (radix)", 9000, 256, false},
                {1, 128, 100, "specials", 720, 1024, false},
        };
        List<Arguments> a = new ArrayList<>();
        for (String backend : new String[] {"opencl", "cuda"}) {
            for (Object[] r : rows) a.add(Arguments.of(backend, r[0], r[1], r[2], r[3], r[4], r[5], r[6]));
        }
        return a.stream();
    }

    @ParameterizedTest(name = "{0}: nq {1}, kmax {2}, top-{3}, {4} m={5}, L={6}, sliced {7}")
    @MethodSource("shapes")
    void topKEqualsTheHandWrittenKernel(String backend, int nq, int kmax, int topk, String kind, int m, int threads, boolean sliced) {
        var device = device(backend);
        Backend b = Backends.open(device);
        int streams = 2, sq = streams * nq;
        SplittableRandom rnd = new SplittableRandom(kind.hashCode() * 31L + m + nq);
        // query 0 of each stream: the case's estimates; the others Gaussian lists of other lengths (one empty, unsliced)
        float[][] q = new float[sq][];
        for (int qi = 0; qi < sq; qi++) {
            if (qi % nq == 0) q[qi] = estimates(kind, m, rnd);
            else if (!sliced && qi == sq - 1) q[qi] = new float[0];
            else q[qi] = estimates("gaussian", 1 + rnd.nextInt(Math.max(1, m)), rnd);
        }
        int cap = 1;
        for (float[] e : q) cap = Math.max(cap, e.length);
        float[] est = new float[sq * cap];
        int[] cand = new int[sq * cap], candCount = new int[sq], estHist = new int[sq * EST_BINS], plan = new int[streams * PLAN_STRIDE];
        for (int qi = 0; qi < sq; qi++) {
            System.arraycopy(q[qi], 0, est, qi * cap, q[qi].length);
            for (int i = 0, tok = 0; i < q[qi].length; i++) cand[qi * cap + i] = tok += 1 + rnd.nextInt(3);
            candCount[qi] = q[qi].length;
            for (float v : q[qi]) estHist[qi * EST_BINS + DecodeTwins.estBin(v)]++; // rerank's counts
        }
        // the radix rows take select_best in topK (query 0), the others the buckets down to the k-th's
        int k0 = Math.min(topk, m);
        assertEquals(kind.contains("(radix)"), radixPath(estHist, k0), kind + ": select_top's path for k = " + k0);
        // two stages need every query's k to be the configured top-k (contiguous lists), one stage tries a smaller one
        for (int s = 0; s < streams; s++) plan[s * PLAN_STRIDE + P_K] = !sliced && s == 1 ? Math.max(1, topk / 3) : topk;
        int slices = sliced ? (cap + TOPK_SLICE - 1) / TOPK_SLICE : 0, kFull = Math.min(topk, TOPK_SLICE);
        int parts = Math.max(1, sq * slices * kFull);
        Grid sliceGrid = new Grid(new long[] {(long) Math.max(1, slices) * threads, sq}, new long[] {threads, 1});
        Grid grid = Grid.groups(sq, threads);

        float[] partEst = filled(new float[parts], -9f);
        int[] partTok = filled(new int[parts], -9), partCount = filled(new int[Math.max(1, sq * slices)], -9);
        int[] ranked = filled(new int[sq * kmax], -7), rankedCount = filled(new int[sq], -7);
        int[] selected = filled(new int[streams * kmax], -7), selCount = filled(new int[streams], -7);

        // the hand-written kernels
        Object[] c = new Object[7];
        try (KernelRig rig = new KernelRig(b)) {
            var program = rig.compile(KernelRig.defines(64, 2, nq, kmax));
            DeviceBuffer dEst = rig.upload(MemorySegment.ofArray(est)), dCand = rig.upload(MemorySegment.ofArray(cand));
            DeviceBuffer dCount = rig.upload(MemorySegment.ofArray(candCount)), dHist = rig.upload(MemorySegment.ofArray(estHist));
            DeviceBuffer dPlan = rig.upload(MemorySegment.ofArray(plan));
            DeviceBuffer pe = rig.upload(MemorySegment.ofArray(partEst)), pt = rig.upload(MemorySegment.ofArray(partTok));
            DeviceBuffer pc = rig.upload(MemorySegment.ofArray(partCount));
            DeviceBuffer rk = rig.upload(MemorySegment.ofArray(ranked)), rc = rig.upload(MemorySegment.ofArray(rankedCount));
            DeviceBuffer se = rig.upload(MemorySegment.ofArray(selected)), sc = rig.upload(MemorySegment.ofArray(selCount));
            if (sliced) {
                rig.launch(program, "topKSlice", sliceGrid, dEst, dCand, dCount, dPlan, pe, pt, pc, new KernelArg.Int(cap),
                        new KernelArg.Int(slices), new KernelArg.Int(kFull));
                rig.launch(program, "topK", grid, pe, pt, pc, dHist, dPlan, rk, rc, se, sc, new KernelArg.Int(slices * kFull),
                        new KernelArg.Int(slices));
            } else {
                rig.launch(program, "topK", grid, dEst, dCand, dCount, dHist, dPlan, rk, rc, se, sc, new KernelArg.Int(cap),
                        new KernelArg.Int(0));
            }
            c[0] = rig.read(pe).toArray(ValueLayout.JAVA_FLOAT);
            c[1] = rig.read(pt).toArray(ValueLayout.JAVA_INT);
            c[2] = rig.read(pc).toArray(ValueLayout.JAVA_INT);
            c[3] = rig.read(rk).toArray(ValueLayout.JAVA_INT);
            c[4] = rig.read(rc).toArray(ValueLayout.JAVA_INT);
            c[5] = rig.read(se).toArray(ValueLayout.JAVA_INT);
            c[6] = rig.read(sc).toArray(ValueLayout.JAVA_INT);
        }
        assertTrue(((int[]) c[4])[0] == Math.min(topk, m) && ((int[]) c[3])[0] >= 0, "the C kernel ranked candidates");
        // the Java kernels, on the same device and on the JVM
        for (DeviceSpec spec : new DeviceSpec[] {DeviceSpec.parse(device.spec()), DeviceSpec.JAVA}) {
            float[] jpe = partEst.clone();
            int[] jpt = partTok.clone(), jpc = partCount.clone(), jrk = ranked.clone(), jrc = rankedCount.clone();
            int[] jse = selected.clone(), jsc = selCount.clone();
            var g = new TaskGraph("topk").source(TopKKernels.class)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, est, cand, candCount, estHist, plan, jpe, jpt, jpc, jrk, jrc, jse, jsc);
            if (sliced) {
                g = g.task("topKSlice", sliceGrid, est, cand, candCount, plan, jpe, jpt, jpc, cap, slices, kFull, nq)
                        .task("topK", grid, jpe, jpt, jpc, estHist, plan, jrk, jrc, jse, jsc, slices * kFull, slices, nq, kmax);
            } else {
                g = g.task("topK", grid, est, cand, candCount, estHist, plan, jrk, jrc, jse, jsc, cap, 0, nq, kmax);
            }
            var snap = g.transferToHost(DataTransferMode.EVERY_EXECUTION, jpe, jpt, jpc, jrk, jrc, jse, jsc).snapshot();
            try (ExecutionPlan p = new ExecutionPlan(snap).withDevice(spec)) {
                p.execute();
            }
            assertArrayEquals((int[]) c[2], jpc, "partCount on " + spec);
            assertArrayEquals((int[]) c[1], jpt, "partTok on " + spec);
            assertArrayEquals((float[]) c[0], jpe, "partEst on " + spec);
            assertArrayEquals((int[]) c[4], jrc, "rankedCount on " + spec);
            assertArrayEquals((int[]) c[3], jrk, "ranked on " + spec);
            assertArrayEquals((int[]) c[6], jsc, "selCount on " + spec);
            assertArrayEquals((int[]) c[5], jse, "selected on " + spec);
        }
    }

    /** Infinities, extremes, subnormals, ±0 and the buckets' clamping edges. */
    private static final float[] SPECIALS = {Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MAX_VALUE, -Float.MAX_VALUE,
            1e30f, -1e30f, 1e-30f, -1e-30f, Float.MIN_VALUE, -Float.MIN_VALUE, 0f, -0f, 0x1p-63f, 0x1p65f, 0x1.fffffep-64f, 1f, -1f, 1.0625f};

    /** m estimates of a kind: Gaussian, heavy-tailed, or crowded ones that force select_best's radix path. */
    private static float[] estimates(String kind, int m, SplittableRandom rnd) {
        double[] levels = {-2, -1, 0, 0.5, 1, 3};
        float[] e = new float[m];
        for (int i = 0; i < m; i++) {
            double g = TopKKernelTest.inverseNormal(rnd.nextDouble()) * 3.0 + 0.2;
            e[i] = (float) switch (kind) {
                case "gaussian" -> g;
                case "heavy tail" -> Math.exp(g);
                case "equal (radix)" -> 1.5;
                case "+0 and -0 (radix)" -> i % 3 == 0 ? -0.0 : 0.0;
                case "six levels", "six levels (radix)" -> levels[rnd.nextInt(6)];
                case "one bucket, distinct (radix)" -> 1 + (i * 7919L % m) * 0x1p-23;
                case "negative, dense top (radix)" -> -Math.abs(g) - 5;
                case "specials" -> SPECIALS[i % SPECIALS.length];
                default -> throw new IllegalArgumentException(kind);
            };
        }
        return e;
    }

    /** Whether select_top takes select_best for the k best of query 0, from its bucket counts (as est_boundary reads them). */
    private static boolean radixPath(int[] estHist, int k) {
        int before = 0, widest = 0;
        for (int b = 0; b < EST_BINS; b++) {
            int h = estHist[b];
            if (before < k) widest = Math.max(widest, h);
            if (before < k && before + h >= k) return before + h > TOPK_CAP || widest > TOPK_BUCKET;
            before += h;
        }
        return true; // fewer than k counted
    }

    private static int[] filled(int[] a, int v) {
        java.util.Arrays.fill(a, v);
        return a;
    }

    private static float[] filled(float[] a, float v) {
        java.util.Arrays.fill(a, v);
        return a;
    }

    /** PoCL (or an OpenCL GPU); CUDA where there is a GPU, else the case is skipped. */
    private static org.pariskv.compute.DeviceInfo device(String backend) {
        return backend.equals("cuda") ? OpenClTestSupport.cudaDevice() : OpenClTestSupport.openClDevice();
    }
}
