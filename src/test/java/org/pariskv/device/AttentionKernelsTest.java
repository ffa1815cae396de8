package org.pariskv.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.pariskv.device.DecodeLayout.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
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
import org.pariskv.encode.Bf16;

/**
 * The Java kernels of {@link AttentionKernels} against their hand-written originals in pariskv.c on the same device
 * (PoCL; CUDA where there is a GPU): pmax, psum and pacc equal bit for bit, the device's exp on both sides. A JVM run
 * of the Java kernels has the same pmax (no exp in it) and psum/pacc within a few ulp ({@code (float) Math.exp}); against
 * CUDA, whose warp path sums the logits in another order, pmax too is within a tolerance.
 * Four streams: one dense, three sparse (one with every top-k row, one tiny, so later chunks are past its tokens).
 */
class AttentionKernelsTest {
    private static final int BATCH = 2, HKV = 2, STREAMS = BATCH * HKV, KMAX = 96, CAP_TOK = 520, RING_BASE = 4;
    /**
     * psum and pacc on the JVM: about 8 ulp of psum (the weights' sum; the bf16 values are of order 1), so cancellation
     * in pacc is no failure. PoCL's exp measured: psum within 1.7e-7 relative, pacc within 2e-7 psum.
     */
    private static final float JVM_TOLERANCE = 1e-6f;
    /**
     * A logit on CUDA against the JVM (absolute). CUDA's kernels take the warp path (lanes split the row, a shuffle
     * tree sums them) and the JVM the sequential one, so the dot products are summed in another order; the build is
     * strict FP on both (--fmad=false), the order alone differs. Simulated over 2M logits of this test's distribution
     * (D 64 and 128): at most 2.6e-6 apart, 16 ulp of max(|logit|, 1). PoCL and the JVM share the sequential order.
     */
    private static final float CUDA_LOGIT_TOLERANCE = 8e-6f;

    @ParameterizedTest(name = "{0}: staged {1}, D {2}, group {3}, chunk {4}, ring {5}, ATT_WINDOW {6}")
    @CsvSource({
            "opencl, false, 64, 4, 16, 0, 1", "opencl, false, 128, 1, 32, 16, 1", "opencl, false, 128, 4, 64, 8, 0",
            "opencl, false, 64, 1, 256, 32, 1", "opencl, true, 128, 4, 32, 16, 1", "opencl, true, 64, 1, 256, 0, 1",
            "opencl, true, 64, 4, 16, 0, 0", "opencl, true, 128, 1, 128, 8, 1",
            "cuda, false, 64, 4, 16, 0, 1", "cuda, false, 128, 1, 32, 16, 1", "cuda, false, 128, 4, 64, 8, 0",
            "cuda, false, 64, 1, 256, 32, 1", "cuda, true, 128, 4, 32, 16, 1", "cuda, true, 64, 1, 256, 0, 1",
            "cuda, true, 64, 4, 16, 0, 0", "cuda, true, 128, 1, 128, 8, 1"}) // CUDA, D 128, chunk <= 32: the prefetch path
    void sparseAttentionEqualsTheHandWrittenKernel(String backend, boolean staged, int d, int group, int chunk, int ring,
                                                   int attWindow) {
        var device = backend.equals("cuda") ? OpenClTestSupport.cudaDevice() : OpenClTestSupport.openClDevice();
        Backend b = Backends.open(device);
        Random r = new Random(d * 131 + group * 17 + chunk * 3 + ring + (staged ? 1000 : 0) + attWindow);
        int ringBase = ring > 0 ? RING_BASE : 0;
        int[] plan = new int[STREAMS * PLAN_STRIDE], selCount = new int[STREAMS], selected = new int[STREAMS * KMAX];
        int maxAttended = 0;
        for (int s = 0; s < STREAMS; s++) {
            int p = s * PLAN_STRIDE;
            if (s == 0) { // dense: every token
                plan[p + P_DENSE] = 1;
                plan[p + P_LEN] = 300 + r.nextInt(CAP_TOK - 300);
                selCount[s] = 7; // not read: a dense stream has no selection
                maxAttended = Math.max(maxAttended, plan[p + P_LEN]);
                continue;
            }
            int sink = s == 3 ? 2 : 4, zone = s == 3 ? 20 : 250 + r.nextInt(150);
            int selN = s == 2 ? KMAX : s == 3 ? 3 : 1 + r.nextInt(KMAX);
            int local = s == 3 ? 1 : 1 + r.nextInt(ring > 0 ? 2 * ring : 64); // more than the ring: slots wrap
            int zoneStart = sink + r.nextInt(5);
            plan[p + P_SINK_END] = sink;
            plan[p + P_ZONE_START] = zoneStart;
            plan[p + P_ZONE_END] = zoneStart + zone;
            plan[p + P_LEN] = zoneStart + zone + local;
            selCount[s] = selN;
            int[] zi = r.ints(0, zone).distinct().limit(selN).sorted().toArray(); // ascending zone indices
            System.arraycopy(zi, 0, selected, s * KMAX, selN);
            for (int i = selN; i < KMAX; i++) selected[s * KMAX + i] = -1; // past the count: never read
            maxAttended = Math.max(maxAttended, sink + selN + local);
        }
        int maxChunks = (maxAttended + chunk - 1) / chunk + 1; // one chunk past every stream's tokens
        float[] queries = gaussians(r, BATCH * HKV * group * d);
        short[] keys = bf16(r, STREAMS * CAP_TOK * d), values = bf16(r, STREAMS * CAP_TOK * d);
        int winRows = Math.max(1, ringBase + ring);
        short[] winKeys = bf16(r, STREAMS * winRows * d), winValues = bf16(r, STREAMS * winRows * d);
        int stagedRows = 0;
        for (int s = 0; s < STREAMS; s++) stagedRows += 2 * stagedCount(plan, selCount, s, ring);
        short[] stagedKv = bf16(r, stagedRows * d);
        int parts = STREAMS * group * maxChunks;
        float[] pmax = filled(parts, -3.5f), psum = filled(parts, -3.5f), pacc = filled(parts * d, -3.5f);
        Grid grid = new Grid(new long[] {(long) maxChunks * ATT_THREADS, STREAMS}, new long[] {ATT_THREADS, 1});
        float scale = (float) (1 / Math.sqrt(d)); // ROT_SCALE_BITS of KernelRig.defines

        // the hand-written kernel
        float[][] c = new float[3][];
        try (KernelRig rig = new KernelRig(b)) {
            var defines = KernelRig.defines(d, HKV, 1, KMAX);
            defines.put("GROUP", "" + group);
            defines.put("ATT_WINDOW", "" + attWindow);
            var program = rig.compile(defines);
            DeviceBuffer[] out = {rig.upload(MemorySegment.ofArray(pmax)), rig.upload(MemorySegment.ofArray(psum)),
                    rig.upload(MemorySegment.ofArray(pacc))};
            List<Object> args = new ArrayList<>(List.of(rig.upload(MemorySegment.ofArray(queries))));
            if (staged) {
                args.add(rig.upload(MemorySegment.ofArray(stagedKv)));
            } else {
                args.add(rig.upload(MemorySegment.ofArray(keys)));
                args.add(rig.upload(MemorySegment.ofArray(values)));
            }
            args.addAll(List.of(rig.upload(MemorySegment.ofArray(winKeys)), rig.upload(MemorySegment.ofArray(winValues)),
                    rig.upload(MemorySegment.ofArray(plan)), rig.upload(MemorySegment.ofArray(selected)),
                    rig.upload(MemorySegment.ofArray(selCount)), out[0], out[1], out[2]));
            if (!staged) args.add(new KernelArg.Int(CAP_TOK));
            args.addAll(List.of(new KernelArg.Int(maxChunks), new KernelArg.Int(chunk), new KernelArg.Int(ringBase),
                    new KernelArg.Int(ring)));
            rig.launch(program, staged ? "sparseAttentionStaged" : "sparseAttention", grid, args.toArray());
            for (int i = 0; i < 3; i++) c[i] = rig.read(out[i]).toArray(ValueLayout.JAVA_FLOAT);
        }
        long written = java.util.stream.IntStream.range(0, parts).filter(i -> Float.isFinite(c[0][i]) && c[0][i] != -3.5f).count();
        assertTrue(written > parts / 3, "the C kernel attended something: " + written + " of " + parts);

        // the Java kernel, on the same device and on the JVM
        for (DeviceSpec spec : new DeviceSpec[] {DeviceSpec.parse(device.spec()), DeviceSpec.JAVA}) {
            float[] jm = pmax.clone(), js = psum.clone(), ja = pacc.clone();
            var g = new TaskGraph("attention").source(AttentionKernels.class);
            if (staged) {
                int[] stagedWords = words(stagedKv), winKeyWords = words(winKeys);
                g.transferToDevice(DataTransferMode.EVERY_EXECUTION, queries, stagedKv, winKeys, winValues, plan, selected,
                                selCount, jm, js, ja, stagedWords, winKeyWords)
                        .task("sparseAttentionStaged", grid, queries, stagedKv, winKeys, winValues, plan, selected, selCount,
                                jm, js, ja, maxChunks, chunk, ringBase, ring, stagedWords, winKeyWords, d, group, HKV, KMAX,
                                attWindow != 0, scale);
            } else {
                int[] keyWords = words(keys), winKeyWords = words(winKeys);
                g.transferToDevice(DataTransferMode.EVERY_EXECUTION, queries, keys, values, winKeys, winValues, plan,
                                selected, selCount, jm, js, ja, keyWords, winKeyWords)
                        .task("sparseAttention", grid, queries, keys, values, winKeys, winValues, plan, selected, selCount,
                                jm, js, ja, CAP_TOK, maxChunks, chunk, ringBase, ring, keyWords, winKeyWords, d, group, HKV,
                                KMAX, attWindow != 0, scale);
            }
            var graph = g.transferToHost(DataTransferMode.EVERY_EXECUTION, jm, js, ja).snapshot();
            try (ExecutionPlan p = new ExecutionPlan(graph).withDevice(spec)) {
                p.execute();
            }
            boolean reordered = spec == DeviceSpec.JAVA && backend.equals("cuda"); // the logits summed in another order
            if (reordered) {
                for (int i = 0; i < parts; i++) {
                    assertTrue(Math.abs(c[0][i] - jm[i]) <= CUDA_LOGIT_TOLERANCE || c[0][i] == jm[i], // -inf, -3.5
                            "pmax[" + i + "] on the JVM: " + jm[i] + " vs " + c[0][i] + " on CUDA");
                }
            } else {
                assertArrayEquals(c[0], jm, "pmax on " + spec + ": the same logits, no exp");
            }
            if (spec != DeviceSpec.JAVA) {
                assertArrayEquals(c[1], js, "psum on " + spec + ": the same device exp, the same order");
                assertArrayEquals(c[2], ja, "pacc on " + spec);
            } else {
                // the JVM's exp is (float) Math.exp, the device's within a few ulp of it: the weights differ that much
                // on CUDA each weight exp(l - max) moves by up to twice a logit's error too
                float rel = JVM_TOLERANCE + (reordered ? 2 * CUDA_LOGIT_TOLERANCE : 0f);
                for (int i = 0; i < parts; i++) {
                    float tol = rel * Math.abs(c[1][i]) + Float.MIN_NORMAL;
                    assertTrue(Math.abs(c[1][i] - js[i]) <= tol, "psum[" + i + "] on the JVM: " + js[i] + " vs " + c[1][i]);
                }
                for (int i = 0; i < ja.length; i++) {
                    float tol = rel * Math.max(0f, c[1][i / d]) + Float.MIN_NORMAL; // |acc| <= psum * max|v|
                    assertTrue(Math.abs(c[2][i] - ja[i]) <= tol, "pacc[" + i + "] on the JVM: " + ja[i] + " vs " + c[2][i]);
                }
            }
        }
    }

    /** staged_count: the packed rows of stream {@code s} (every row when dense; top-k only with a window). */
    private static int stagedCount(int[] plan, int[] selCount, int s, int ring) {
        int p = s * PLAN_STRIDE;
        if (plan[p + P_DENSE] != 0) return plan[p + P_LEN];
        return ring > 0 ? selCount[s] : plan[p + P_SINK_END] + selCount[s] + plan[p + P_LEN] - plan[p + P_ZONE_END];
    }

    /** bf16 rows read as ints in native order, as the device reads them through an int view of the same buffer. */
    private static int[] words(short[] a) {
        return MemorySegment.ofArray(a).toArray(ValueLayout.JAVA_INT_UNALIGNED);
    }

    private static float[] gaussians(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    private static short[] bf16(Random r, int n) {
        short[] a = new short[n];
        for (int i = 0; i < n; i++) a[i] = Bf16.fromFloat((float) r.nextGaussian());
        return a;
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }
}
