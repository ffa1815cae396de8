package org.pariskv.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.pariskv.device.DecodeLayout.*;

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

/**
 * The Java kernels of {@link DecodeKernels} against their hand-written originals in pariskv.c on the same device
 * (PoCL; CUDA where there is a GPU), and against a JVM run.
 */
class DecodeKernelsTest {

    @ParameterizedTest(name = "{0}: capTok {1}, ringBase {2}, ring {3}")
    @CsvSource({"opencl, 50, 8, 16", "opencl, 50, 0, 0", "opencl, 0, 4, 8", "opencl, 33, 1, 32", "cuda, 50, 8, 16", "cuda, 50, 0, 0", "cuda, 0, 4, 8", "cuda, 33, 1, 32"})
    void appendTokensEqualsTheHandWrittenKernel(String backend, int capTok, int ringBase, int ring) {
        var device = device(backend);
        Backend b = Backends.open(device);
        int streams = 3, d = 64;
        Random r = new Random(capTok * 31 + ring);
        short[] newKeys = shorts(r, streams * d), newValues = shorts(r, streams * d);
        int[] plan = new int[streams * DecodeLayout.PLAN_STRIDE];
        for (int s = 0; s < streams; s++) plan[s * DecodeLayout.PLAN_STRIDE + DecodeLayout.P_LEN] = 1 + r.nextInt(capTok > 0 ? capTok : 60); // tokens inside the cache
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

    @ParameterizedTest(name = "{0}: D {1}, chunk {2}, maxChunks {3}, dense {4}")
    @CsvSource({"opencl, 64, 16, 40, false", "opencl, 128, 32, 20, true", "opencl, 64, 1, 1300, false", "opencl, 256, 4, 64, true", "cuda, 64, 16, 40, false", "cuda, 128, 32, 20, true", "cuda, 64, 1, 1300, false", "cuda, 256, 4, 64, true"})
    void attentionCombineEqualsTheHandWrittenKernel(String backend, int d, int chunk, int maxChunks, boolean dense) {
        var device = device(backend);
        Backend b = Backends.open(device);
        int streams = 3, group = 2, heads = streams * group;
        Random r = new Random(d * 7 + chunk);
        int[] plan = new int[streams * PLAN_STRIDE], selCount = new int[streams];
        int room = chunk * maxChunks; // attended tokens of a stream fill at most maxChunks chunks
        for (int s = 0; s < streams; s++) {
            int p = s * PLAN_STRIDE, attended = 1 + r.nextInt(room);
            plan[p + P_DENSE] = dense ? 1 : 0;
            int sink = Math.min(4, attended), local = Math.min(attended - sink, r.nextInt(64));
            selCount[s] = attended - sink - local;
            plan[p + P_SINK_END] = sink;
            plan[p + P_ZONE_END] = 10_000;
            plan[p + P_LEN] = dense ? attended : 10_000 + local;
        }
        float[] pmax = new float[heads * maxChunks], psum = new float[heads * maxChunks], pacc = new float[heads * maxChunks * d];
        for (int i = 0; i < pmax.length; i++) {
            pmax[i] = (float) (r.nextGaussian() * 4);
            psum[i] = 1 + 30 * r.nextFloat();
        }
        for (int i = 0; i < pacc.length; i++) pacc[i] = (float) r.nextGaussian();
        Grid grid = Grid.groups(heads, COMBINE_THREADS);

        float[] c;
        try (KernelRig rig = new KernelRig(b)) {
            var program = rig.compile(KernelRig.defines(d, 1, 2, 16));
            DeviceBuffer out = rig.upload(MemorySegment.ofArray(new float[heads * d]));
            rig.launch(program, "attentionCombine", grid, rig.upload(MemorySegment.ofArray(plan)),
                    rig.upload(MemorySegment.ofArray(selCount)), rig.upload(MemorySegment.ofArray(pmax)),
                    rig.upload(MemorySegment.ofArray(psum)), rig.upload(MemorySegment.ofArray(pacc)), out,
                    new KernelArg.Int(maxChunks), new KernelArg.Int(chunk));
            c = rig.read(out).toArray(ValueLayout.JAVA_FLOAT);
        }
        float[] cOut = c;
        assertTrue(java.util.stream.IntStream.range(0, c.length).filter(i -> cOut[i] != 0f).count() > c.length / 2, "the C kernel combined something");
        for (DeviceSpec spec : new DeviceSpec[] {DeviceSpec.parse(device.spec()), DeviceSpec.JAVA}) {
            float[] j = new float[heads * d];
            var g = new TaskGraph("combine").source(DecodeKernels.class)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, plan, selCount, pmax, psum, pacc, j)
                    .task("attentionCombine", grid, plan, selCount, pmax, psum, pacc, j, maxChunks, chunk, d, group)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, j).snapshot();
            try (ExecutionPlan p = new ExecutionPlan(g).withDevice(spec)) {
                p.execute();
            }
            if (spec != DeviceSpec.JAVA) {
                assertArrayEquals(c, j, "out on " + spec + ": the same device exp, the same order");
            } else {
                // the JVM's exp is correctly rounded, the device's within a few ulp: the weights differ that much
                for (int i = 0; i < c.length; i++) {
                    assertTrue(Math.abs(c[i] - j[i]) <= 1e-5f * Math.max(1f, Math.abs(c[i])), "out[" + i + "] on the JVM: " + j[i] + " vs " + c[i]);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}: D {1}, hadamard {2}, maxKeys {3}")
    @CsvSource({"opencl, 64, true, 5", "opencl, 128, false, 3", "opencl, 256, true, 4", "opencl, 32, false, 6", "cuda, 64, true, 5", "cuda, 128, false, 3", "cuda, 256, true, 4", "cuda, 32, false, 6"})
    void encodeKeysEqualsTheHandWrittenKernel(String backend, int d, boolean hadamard, int maxKeys) {
        var device = device(backend);
        Backend b = Backends.open(device);
        int streams = 3, cap = 20, capTok = 30, blocks = d / 8, threads = Math.min(d, 256);
        Random r = new Random(d + (hadamard ? 1 : 0));
        int[] plan = new int[streams * PLAN_STRIDE];
        for (int s = 0; s < streams; s++) {
            int p = s * PLAN_STRIDE;
            plan[p + P_ENC_COUNT] = s == 1 ? 0 : 1 + r.nextInt(maxKeys); // a stream with nothing to encode
            plan[p + P_ENC_FROM] = r.nextInt(cap - maxKeys);
            plan[p + P_ZONE_START] = r.nextInt(capTok - cap);
        }
        short[] keys = new short[streams * capTok * d];
        for (int i = 0; i < keys.length; i++) keys[i] = org.pariskv.encode.Bf16.fromFloat((float) r.nextGaussian());
        float[] rot = new float[hadamard ? d : d * d], center = new float[streams * d];
        for (int i = 0; i < rot.length; i++) rot[i] = hadamard ? (r.nextBoolean() ? 1f : -1f) : (float) (r.nextGaussian() / Math.sqrt(d));
        for (int i = 0; i < center.length; i++) center[i] = (float) (0.3 * r.nextGaussian());
        byte[] codes = new byte[streams * cap * blocks], nibbles = new byte[streams * cap * d / 2];
        r.nextBytes(codes);
        r.nextBytes(nibbles);
        short[] weights = shorts(r, streams * cap * blocks);
        int[] counts = new int[streams * blocks * 256];
        for (int i = 0; i < counts.length; i++) counts[i] = r.nextInt(100);
        float rotScale = (float) (1 / Math.sqrt(d));
        Grid grid = new Grid(new long[] {(long) maxKeys * threads, streams}, new long[] {threads, 1});

        Object[] c = {codes.clone(), nibbles.clone(), weights.clone(), counts.clone()};
        try (KernelRig rig = new KernelRig(b)) {
            var defines = KernelRig.defines(d, 1, 2, 16);
            defines.put("HADAMARD", hadamard ? "1" : "0");
            var program = rig.compile(defines);
            DeviceBuffer[] out = {rig.upload(MemorySegment.ofArray(codes)), rig.upload(MemorySegment.ofArray(nibbles)),
                    rig.upload(MemorySegment.ofArray(weights)), rig.upload(MemorySegment.ofArray(counts))};
            rig.launch(program, "encodeKeys", grid, rig.upload(MemorySegment.ofArray(keys)), rig.upload(MemorySegment.ofArray(rot)),
                    rig.upload(MemorySegment.ofArray(center)), rig.upload(MemorySegment.ofArray(plan)), out[0], out[1], out[2], out[3],
                    new KernelArg.Int(cap), new KernelArg.Int(capTok));
            c[0] = rig.read(out[0]).toArray(ValueLayout.JAVA_BYTE);
            c[1] = rig.read(out[1]).toArray(ValueLayout.JAVA_BYTE);
            c[2] = rig.read(out[2]).toArray(ValueLayout.JAVA_SHORT);
            c[3] = rig.read(out[3]).toArray(ValueLayout.JAVA_INT);
        }
        assertTrue(!java.util.Arrays.equals((int[]) c[3], counts), "the C kernel counted codes");
        for (DeviceSpec spec : new DeviceSpec[] {DeviceSpec.parse(device.spec()), DeviceSpec.JAVA}) {
            byte[] jc = codes.clone(), jn = nibbles.clone();
            short[] jw = weights.clone();
            int[] jk = counts.clone();
            var g = new TaskGraph("encode").source(DecodeKernels.class)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, keys, rot, center, plan, jc, jn, jw, jk)
                    .task("encodeKeys", grid, keys, rot, center, plan, jc, jn, jw, jk, cap, capTok, d, hadamard, rotScale)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, jc, jn, jw, jk).snapshot();
            try (ExecutionPlan p = new ExecutionPlan(g).withDevice(spec)) {
                p.execute();
            }
            assertArrayEquals((byte[]) c[0], jc, "codes on " + spec);
            assertArrayEquals((byte[]) c[1], jn, "nibbles on " + spec);
            assertArrayEquals((short[]) c[2], jw, "weights on " + spec);
            assertArrayEquals((int[]) c[3], jk, "counts on " + spec);
        }
    }

    @ParameterizedTest(name = "{0}: D {1}, nq {2}, hadamard {3}")
    @CsvSource({"opencl, 64, 1, true", "opencl, 128, 2, false", "opencl, 256, 1, false", "opencl, 32, 2, true", "cuda, 64, 1, true", "cuda, 128, 2, false", "cuda, 256, 1, false", "cuda, 32, 2, true"})
    void prepareQueryEqualsTheHandWrittenKernel(String backend, int d, int nq, boolean hadamard) {
        var device = device(backend);
        Backend b = Backends.open(device);
        int batch = 2, hkv = 2, group = 2, streams = batch * hkv, sq = streams * nq, blocks = d / 8, histBins = 6 * blocks + 1, tiles = 3;
        Random r = new Random(d * 3 + nq);
        float[] queries = new float[batch * hkv * group * d];
        for (int i = 0; i < queries.length; i++) queries[i] = (float) r.nextGaussian();
        float[] rot = new float[hadamard ? d : d * d];
        for (int i = 0; i < rot.length; i++) rot[i] = hadamard ? (r.nextBoolean() ? 1f : -1f) : (float) (r.nextGaussian() / Math.sqrt(d));
        int[] plan = new int[streams * PLAN_STRIDE];
        for (int s = 0; s < streams; s++) {
            plan[s * PLAN_STRIDE + P_N] = r.nextInt(tiles * SEL_TILE);
            for (int k = 0, th = 0; k < 6; k++) plan[s * PLAN_STRIDE + P_T + k] = th += 1 + r.nextInt(40);
        }
        int[] counts = new int[streams * blocks * 256];
        for (int i = 0; i < counts.length; i++) counts[i] = r.nextInt(3);
        float[] qhat = new float[sq * d], qnorm = new float[sq];
        byte[] tierTable = new byte[sq * blocks * 256];
        r.nextBytes(tierTable);
        int[] hist = new int[sq * histBins], tileHist = new int[sq * tiles * histBins], estHist = new int[sq * EST_BINS];
        for (int[] a : new int[][] {hist, tileHist, estHist}) for (int i = 0; i < a.length; i++) a[i] = 1 + r.nextInt(9);
        float rotScale = (float) (1 / Math.sqrt(d));
        Grid grid = new Grid(new long[] {(long) sq * 256, blocks}, new long[] {256, 1});

        Object[] c = new Object[6];
        try (KernelRig rig = new KernelRig(b)) {
            var defines = KernelRig.defines(d, hkv, nq, 16);
            defines.put("HADAMARD", hadamard ? "1" : "0");
            var program = rig.compile(defines);
            DeviceBuffer[] out = {rig.upload(MemorySegment.ofArray(qhat)), rig.upload(MemorySegment.ofArray(qnorm)),
                    rig.upload(MemorySegment.ofArray(tierTable)), rig.upload(MemorySegment.ofArray(hist)),
                    rig.upload(MemorySegment.ofArray(tileHist)), rig.upload(MemorySegment.ofArray(estHist))};
            rig.launch(program, "prepareQuery", grid, rig.upload(MemorySegment.ofArray(queries)), rig.upload(MemorySegment.ofArray(rot)),
                    rig.upload(MemorySegment.ofArray(plan)), rig.upload(MemorySegment.ofArray(counts)), out[0], out[1], out[2], out[3],
                    out[4], out[5], new KernelArg.Int(tiles));
            c[0] = rig.read(out[0]).toArray(ValueLayout.JAVA_FLOAT);
            c[1] = rig.read(out[1]).toArray(ValueLayout.JAVA_FLOAT);
            c[2] = rig.read(out[2]).toArray(ValueLayout.JAVA_BYTE);
            for (int k = 3; k < 6; k++) c[k] = rig.read(out[k]).toArray(ValueLayout.JAVA_INT);
        }
        byte[] ct = (byte[]) c[2];
        assertTrue(java.util.stream.IntStream.range(0, ct.length).anyMatch(i -> ct[i] > 0 && ct[i] < 6), "the C kernel built mixed tiers");
        for (DeviceSpec spec : new DeviceSpec[] {DeviceSpec.parse(device.spec()), DeviceSpec.JAVA}) {
            float[] jq = qhat.clone(), jn = qnorm.clone();
            byte[] jt = tierTable.clone();
            int[] jh = hist.clone(), jth = tileHist.clone(), je = estHist.clone();
            var g = new TaskGraph("prepare").source(DecodeKernels.class)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, queries, rot, plan, counts, jq, jn, jt, jh, jth, je)
                    .task("prepareQuery", grid, queries, rot, plan, counts, jq, jn, jt, jh, jth, je, tiles, d, group, hkv, nq, hadamard, rotScale)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, jq, jn, jt, jh, jth, je).snapshot();
            try (ExecutionPlan p = new ExecutionPlan(g).withDevice(spec)) {
                p.execute();
            }
            assertArrayEquals((float[]) c[0], jq, "qhat on " + spec);
            assertArrayEquals((float[]) c[1], jn, "qnorm on " + spec);
            assertArrayEquals((byte[]) c[2], jt, "tierTable on " + spec);
            assertArrayEquals((int[]) c[3], jh, "hist on " + spec);
            assertArrayEquals((int[]) c[4], jth, "tileHist on " + spec);
            assertArrayEquals((int[]) c[5], je, "estHist on " + spec);
        }
    }

    @ParameterizedTest(name = "{0}: D {1}, nq {2}")
    @CsvSource({"opencl, 128, 1", "opencl, 64, 2", "opencl, 256, 1", "cuda, 128, 1", "cuda, 64, 2", "cuda, 256, 1"}) // 128: the C kernel's 16-byte-load path
    void rerankEqualsTheHandWrittenKernel(String backend, int d, int nq) {
        var device = device(backend);
        Backend b = Backends.open(device);
        int streams = 3, sq = streams * nq, cap = 700, blocks = d / 8;
        Random r = new Random(d + nq);
        byte[] nibbles = new byte[streams * cap * d / 2];
        r.nextBytes(nibbles);
        short[] weights = new short[streams * cap * blocks];
        for (int i = 0; i < weights.length; i++) weights[i] = org.pariskv.encode.Bf16.fromFloat(0.1f + r.nextFloat());
        float[] qhat = new float[sq * d], qnorm = new float[sq];
        for (int i = 0; i < qhat.length; i++) qhat[i] = (float) (r.nextGaussian() / Math.sqrt(d));
        for (int i = 0; i < sq; i++) qnorm[i] = 1 + 5 * r.nextFloat();
        int[] cand = new int[sq * cap], candCount = new int[sq];
        for (int i = 0; i < cand.length; i++) cand[i] = r.nextInt(cap);
        for (int i = 0; i < sq; i++) candCount[i] = i == 1 ? 0 : 1 + r.nextInt(cap); // a query without candidates
        float[] est = new float[sq * cap];
        for (int i = 0; i < est.length; i++) est[i] = r.nextFloat();
        int[] estHist = new int[sq * EST_BINS];
        for (int i = 0; i < estHist.length; i++) estHist[i] = r.nextInt(5);
        Grid grid = new Grid(new long[] {(cap + 255) / 256 * 256, sq}, new long[] {256, 1});

        float[] cEst;
        int[] cHist;
        try (KernelRig rig = new KernelRig(b)) {
            var program = rig.compile(KernelRig.defines(d, 1, nq, 16));
            DeviceBuffer e = rig.upload(MemorySegment.ofArray(est)), h = rig.upload(MemorySegment.ofArray(estHist));
            rig.launch(program, "rerank", grid, rig.upload(MemorySegment.ofArray(nibbles)), rig.upload(MemorySegment.ofArray(weights)),
                    rig.upload(MemorySegment.ofArray(qhat)), rig.upload(MemorySegment.ofArray(qnorm)), rig.upload(MemorySegment.ofArray(cand)),
                    rig.upload(MemorySegment.ofArray(candCount)), e, h, new KernelArg.Int(cap));
            cEst = rig.read(e).toArray(ValueLayout.JAVA_FLOAT);
            cHist = rig.read(h).toArray(ValueLayout.JAVA_INT);
        }
        assertTrue(!java.util.Arrays.equals(cHist, estHist), "the C kernel counted estimates");
        int[] words = MemorySegment.ofArray(nibbles).toArray(ValueLayout.JAVA_INT_UNALIGNED); // native order, as the device reads them
        for (DeviceSpec spec : new DeviceSpec[] {DeviceSpec.parse(device.spec()), DeviceSpec.JAVA}) {
            float[] je = est.clone();
            int[] jh = estHist.clone();
            MemorySegment ws = MemorySegment.ofArray(weights); // read as shorts and, 16 bytes at a time, as ints
            var g = new TaskGraph("rerank").source(DecodeKernels.class)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, words, ws, qhat, qnorm, cand, candCount, je, jh)
                    .task("rerank", grid, words, ws, ws, qhat, qnorm, cand, candCount, je, jh, cap, d, nq)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, je, jh).snapshot();
            try (ExecutionPlan p = new ExecutionPlan(g).withDevice(spec)) {
                p.execute();
            }
            assertArrayEquals(cEst, je, "est on " + spec);
            assertArrayEquals(cHist, jh, "estHist on " + spec);
        }
    }

    @ParameterizedTest(name = "{0}: kmax {1}, nq {2}, topk {3}")
    @CsvSource({"opencl, 64, 2, 50", "opencl, 16, 1, 16", "opencl, 256, 4, 200", "opencl, 512, 1, 300",
            "cuda, 64, 2, 50", "cuda, 16, 1, 16", "cuda, 256, 4, 200", "cuda, 512, 1, 300"}) // 200, 300: the bitonic path
    void mergeSelectionEqualsTheHandWrittenKernel(String backend, int kmax, int nq, int topk) {
        var device = device(backend);
        Backend b = Backends.open(device);
        int streams = 3, zone = 3 * kmax;
        Random r = new Random(kmax * 5 + nq);
        int[] plan = new int[streams * PLAN_STRIDE], rankedCount = new int[streams * nq], ranked = new int[streams * nq * kmax];
        for (int s = 0; s < streams; s++) {
            plan[s * PLAN_STRIDE + P_K] = s == 2 ? topk / 3 : topk;
            for (int h = 0; h < nq; h++) {
                int c = s == 1 && h == 0 ? 0 : r.nextInt(kmax + 1); // an empty list too
                rankedCount[s * nq + h] = c;
                // distinct zone indices per list, lists overlapping each other (the merge drops repeats)
                int[] perm = r.ints(0, zone).distinct().limit(c).toArray();
                System.arraycopy(perm, 0, ranked, (s * nq + h) * kmax, c);
            }
        }
        int[] selected = new int[streams * kmax], selCount = new int[streams];
        java.util.Arrays.fill(selected, -7);
        Grid grid = Grid.groups(streams, 256);

        int[] cSel, cCount;
        try (KernelRig rig = new KernelRig(b)) {
            var program = rig.compile(KernelRig.defines(64, 1, nq, kmax));
            DeviceBuffer sel = rig.upload(MemorySegment.ofArray(selected)), cnt = rig.upload(MemorySegment.ofArray(selCount));
            rig.launch(program, "mergeSelection", grid, rig.upload(MemorySegment.ofArray(ranked)),
                    rig.upload(MemorySegment.ofArray(rankedCount)), rig.upload(MemorySegment.ofArray(plan)), sel, cnt);
            cSel = rig.read(sel).toArray(ValueLayout.JAVA_INT);
            cCount = rig.read(cnt).toArray(ValueLayout.JAVA_INT);
        }
        assertTrue(cCount[0] > 0, "the C kernel kept items");
        for (DeviceSpec spec : new DeviceSpec[] {DeviceSpec.parse(device.spec()), DeviceSpec.JAVA}) {
            int[] js = selected.clone(), jc = selCount.clone();
            var g = new TaskGraph("merge").source(DecodeKernels.class)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, ranked, rankedCount, plan, js, jc)
                    .task("mergeSelection", grid, ranked, rankedCount, plan, js, jc, kmax, nq)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, js, jc).snapshot();
            try (ExecutionPlan p = new ExecutionPlan(g).withDevice(spec)) {
                p.execute();
            }
            assertArrayEquals(cCount, jc, "selCount on " + spec);
            assertArrayEquals(cSel, js, "selected on " + spec);
        }
    }

    @ParameterizedTest(name = "{0}: D {1}, nq {2}")
    @CsvSource({"opencl, 64, 1", "opencl, 128, 2", "opencl, 384, 1", "cuda, 64, 1", "cuda, 128, 2", "cuda, 384, 1"}) // 384: the serial cut
    void candidateSelectEqualsTheHandWrittenKernel(String backend, int d, int nq) {
        var device = device(backend);
        Backend b = Backends.open(device);
        int streams = 3, sq = streams * nq, cap = 3 * SEL_TILE + 100, tiles = (cap + SEL_TILE - 1) / SEL_TILE;
        int maxScore = 6 * (d / 8), histBins = maxScore + 1;
        Random r = new Random(d + nq);
        int[] plan = new int[streams * PLAN_STRIDE];
        byte[] scores = new byte[sq * cap];
        int[] hist = new int[sq * histBins], tileHist = new int[sq * tiles * histBins];
        for (int s = 0; s < streams; s++) {
            int n = s == 0 ? cap : s == 1 ? 1 + r.nextInt(SEL_TILE) : SEL_TILE + r.nextInt(2 * SEL_TILE);
            plan[s * PLAN_STRIDE + P_N] = n;
            plan[s * PLAN_STRIDE + P_CAND] = Math.min(n, 1 + r.nextInt(2000));
            for (int h = 0; h < nq; h++) {
                int qi = s * nq + h;
                for (int key = 0; key < cap; key++) {
                    // scores peaked in the middle, as collision counts are; the histograms count the zone [0, n) only
                    int v = Math.min(maxScore, Math.max(0, (int) (maxScore / 2 + r.nextGaussian() * maxScore / 6)));
                    scores[qi * cap + key] = (byte) v;
                    if (key < n) {
                        hist[qi * histBins + v]++;
                        tileHist[(qi * tiles + key / SEL_TILE) * histBins + v]++;
                    }
                }
            }
        }
        int[] cand = new int[sq * cap], candCount = new int[sq];
        java.util.Arrays.fill(cand, -3);
        Grid grid = new Grid(new long[] {(long) tiles * 256, sq}, new long[] {256, 1});

        int[] cCand, cCount;
        try (KernelRig rig = new KernelRig(b)) {
            var program = rig.compile(KernelRig.defines(d, 1, nq, 16));
            DeviceBuffer cb = rig.upload(MemorySegment.ofArray(cand)), cc = rig.upload(MemorySegment.ofArray(candCount));
            rig.launch(program, "candidateSelect", grid, rig.upload(MemorySegment.ofArray(scores)), rig.upload(MemorySegment.ofArray(hist)),
                    rig.upload(MemorySegment.ofArray(plan)), rig.upload(MemorySegment.ofArray(tileHist)), cb, cc,
                    new KernelArg.Int(cap), new KernelArg.Int(tiles));
            cCand = rig.read(cb).toArray(ValueLayout.JAVA_INT);
            cCount = rig.read(cc).toArray(ValueLayout.JAVA_INT);
        }
        assertTrue(cCand[0] >= 0 && cCand[(sq - 1) * cap] >= 0, "the C kernel selected candidates");
        for (DeviceSpec spec : new DeviceSpec[] {DeviceSpec.parse(device.spec()), DeviceSpec.JAVA}) {
            int[] jc = cand.clone(), jn = candCount.clone();
            var g = new TaskGraph("select").source(DecodeKernels.class)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, scores, hist, plan, tileHist, jc, jn)
                    .task("candidateSelect", grid, scores, hist, plan, tileHist, jc, jn, cap, tiles, d, nq)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, jc, jn).snapshot();
            try (ExecutionPlan p = new ExecutionPlan(g).withDevice(spec)) {
                p.execute();
            }
            assertArrayEquals(cCount, jn, "candCount on " + spec);
            assertArrayEquals(cCand, jc, "cand on " + spec);
        }
    }

    @ParameterizedTest(name = "{0}: D {1}, nq {2}")
    @CsvSource({"opencl, 64, 1", "opencl, 128, 1", "opencl, 128, 4", "opencl, 72, 2", "cuda, 64, 1", "cuda, 128, 1", "cuda, 128, 4", "cuda, 72, 2"})
    void collisionScoresEqualsTheHandWrittenKernel(String backend, int d, int nq) {
        var device = device(backend);
        Backend b = Backends.open(device);
        int streams = 3, sq = streams * nq, blocks = d / 8, cap = 2 * CS_TILE + 300, tiles = (cap + SEL_TILE - 1) / SEL_TILE;
        int histBins = 6 * blocks + 1;
        Random r = new Random(d * 3 + nq);
        int[] plan = new int[streams * PLAN_STRIDE];
        int[] zone = {cap, 1 + r.nextInt(CS_TILE), CS_TILE + r.nextInt(CS_TILE)}; // a full zone, a short one, one ending mid-tile
        for (int s = 0; s < streams; s++) plan[s * PLAN_STRIDE + P_N] = zone[s];
        MemorySegment codes = java.lang.foreign.Arena.ofAuto().allocate(roundUp16((long) streams * cap * blocks), 16);
        for (long i = 0; i < codes.byteSize(); i++) codes.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt());
        MemorySegment tiers = java.lang.foreign.Arena.ofAuto().allocate((long) sq * blocks * 256, 16);
        for (long i = 0; i < tiers.byteSize(); i++) tiers.set(ValueLayout.JAVA_BYTE, i, (byte) (r.nextInt(4) == 0 ? 0 : r.nextInt(7)));
        byte[] scores = new byte[sq * cap];
        int[] hist = new int[sq * histBins], tileHist = new int[sq * tiles * histBins];
        Grid grid = new Grid(new long[] {(long) tiles * CS_THREADS, streams}, new long[] {CS_THREADS, 1});

        byte[] cScores;
        int[] cHist, cTile;
        try (KernelRig rig = new KernelRig(b)) {
            var program = rig.compile(KernelRig.defines(d, 1, nq, 16));
            DeviceBuffer sb = rig.upload(MemorySegment.ofArray(scores)), hb = rig.upload(MemorySegment.ofArray(hist)),
                    tb = rig.upload(MemorySegment.ofArray(tileHist));
            rig.launch(program, "collisionScores", grid, rig.upload(codes), rig.upload(tiers), rig.upload(MemorySegment.ofArray(plan)),
                    sb, hb, tb, new KernelArg.Int(cap), new KernelArg.Int(tiles));
            cScores = rig.read(sb).toArray(ValueLayout.JAVA_BYTE);
            cHist = rig.read(hb).toArray(ValueLayout.JAVA_INT);
            cTile = rig.read(tb).toArray(ValueLayout.JAVA_INT);
        }
        // the scores are sums of tier lookups: check one against the definition
        int key = 7, sc = 0;
        for (int bb = 0; bb < blocks; bb++) sc += tiers.get(ValueLayout.JAVA_BYTE, (long) bb * 256 + (codes.get(ValueLayout.JAVA_BYTE, (long) key * blocks + bb) & 0xff));
        assertEquals(sc, cScores[key], "the C kernel's score of key 7");
        for (DeviceSpec spec : new DeviceSpec[] {DeviceSpec.parse(device.spec()), DeviceSpec.JAVA}) {
            byte[] js = scores.clone();
            int[] jh = hist.clone(), jt = tileHist.clone();
            var g = new TaskGraph("scores").source(DecodeKernels.class)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, codes, tiers, plan, js, jh, jt)
                    .task("collisionScores", grid, codes, codes, tiers, plan, js, jh, jt, cap, tiles, blocks, nq)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, js, jh, jt).snapshot();
            try (ExecutionPlan p = new ExecutionPlan(g).withDevice(spec)) {
                p.execute();
            }
            for (int s = 0; s < streams; s++) {
                for (int h = 0; h < nq; h++) {
                    int qi = s * nq + h;
                    byte[] want = java.util.Arrays.copyOfRange(cScores, qi * cap, qi * cap + zone[s]);
                    assertArrayEquals(want, java.util.Arrays.copyOfRange(js, qi * cap, qi * cap + zone[s]), "scores of query " + qi + " on " + spec);
                }
            }
            assertArrayEquals(cHist, jh, "hist on " + spec);
            assertArrayEquals(cTile, jt, "tileHist on " + spec);
        }
    }

    private static long roundUp16(long n) {
        return (n + 15) / 16 * 16;
    }

    /** PoCL (or an OpenCL GPU); CUDA where there is a GPU, else the case is skipped. Each compares C and Java there. */
    private static org.pariskv.compute.DeviceInfo device(String backend) {
        return backend.equals("cuda") ? OpenClTestSupport.cudaDevice() : OpenClTestSupport.openClDevice();
    }

    private static short[] shorts(Random r, int n) {
        short[] a = new short[n];
        for (int i = 0; i < n; i++) a[i] = (short) r.nextInt();
        return a;
    }
}
