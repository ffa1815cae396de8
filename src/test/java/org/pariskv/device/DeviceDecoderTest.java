package org.pariskv.device;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.pariskv.GqaMode;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.cache.Attended;
import org.pariskv.cache.KvCache;
import org.pariskv.compute.Backend;
import org.pariskv.compute.BackendKind;
import org.pariskv.compute.Backends;
import org.pariskv.compute.MemoryKind;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.OpenClTestSupport;
import org.pariskv.index.RetrievalIndex;
import org.pariskv.method.ParisKv;
import org.pariskv.rotate.Rotation;
import org.pariskv.select.AdaptiveRatios;
import org.pariskv.select.CandidateSelect;
import org.pariskv.select.CollisionCounting;
import org.pariskv.select.RetrievalQuery;
import org.pariskv.select.TierTable;
import org.pariskv.select.Tiers;

/**
 * The device pipeline against its Java twins: the same trace through {@link KvCache} (java) and
 * {@link DeviceDecoder} (OpenCL — PoCL on CI — and CUDA where present), compared task by task.
 */
class DeviceDecoderTest {

    static Stream<Arguments> devices() {
        Supplier<DeviceInfo> opencl = OpenClTestSupport::openClDevice;
        Supplier<DeviceInfo> cuda = OpenClTestSupport::cudaDevice;
        return Stream.of(KvPlacement.values()).flatMap(kv -> Stream.of(GqaMode.MEAN, GqaMode.PER_HEAD).flatMap(m -> Stream.of(
                Arguments.of("opencl", opencl, m, kv), Arguments.of("cuda", cuda, m, kv))));
    }

    static final ModelShape SHAPE = new ModelShape(1, 8, 2, 64);

    static float[] random(SplittableRandom rnd, int n, float offset) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rnd.nextDouble(-1, 1) + (i % 64 == 3 ? offset : 0f);
        return v;
    }

    /**
     * Every K/V placement, same assertions: device memory; host-mapped memory (CUDA registered DEVICEMAP, OpenCL
     * USE_HOST_PTR); staged host memory (rows gathered on the host, sparseAttentionStaged).
     */
    @ParameterizedTest(name = "{0} {2} kv={3}")
    @MethodSource("devices")
    void pipelineMatchesTheJavaTwinsTaskByTask(String label, Supplier<DeviceInfo> device, GqaMode mode, KvPlacement placement) {
        DeviceInfo info = device.get();
        Backend backend = Backends.open(info);
        ParisKvConfig cfg = ParisKvConfig.defaults().withGqa(mode).withWindow(4, 128).withInterval(32).withMinSparseTokens(0).withTopk(50);
        int kv = SHAPE.kvHeads() * SHAPE.headDim(), qn = SHAPE.queryHeads() * SHAPE.headDim(), d = SHAPE.headDim();
        int[] prompts = {2000, 9101}; // the second spans several 4096-key tiles
        int steps = 40;
        SplittableRandom rnd = new SplittableRandom(17);
        float[][] pk = new float[2][], pv = new float[2][];
        for (int b = 0; b < 2; b++) {
            pk[b] = random(rnd, prompts[b] * kv, 2.5f); // an offset channel: centring matters
            pv[b] = random(rnd, prompts[b] * kv, 0f);
        }
        try (KvCache cache = KvCache.create(SHAPE, cfg, new ParisKv());
             KvCache exact = KvCache.create(SHAPE, cfg, new org.pariskv.method.FullAttention()); // the dense step's reference
             DeviceDecoder dev = new DeviceDecoder(backend, SHAPE, cfg, 2, 9200, DeviceDecoder.Options.defaults().withPlacement(placement)
                     .withTopKSliceAbove(placement.onHost() ? 1000 : 1 << 30))) {
            MemoryKind expected = switch (placement) {
                case DEVICE -> MemoryKind.DEVICE;
                case MAPPED -> info.backend() == BackendKind.OPENCL ? MemoryKind.OPENCL_USE_HOST_PTR
                        : ((org.pariskv.compute.CudaBackend) backend).hostPointerIsDevicePointer() ? MemoryKind.CUDA_HOST_REGISTERED
                        : MemoryKind.CUDA_HOST_MAPPED; // the fallback: cuMemHostAlloc of the whole capacity
                case STAGED -> MemoryKind.HOST_STAGED;
            };
            assertEquals(expected, dev.kvMemory(), "memory path of the K/V rows");
            long kvBytes = 2L * 2 * 2 * 9200 * 64 * 2;
            long pinned = DeviceDecoder.bufferBytes(SHAPE, cfg, 2, 9200, placement).getOrDefault("stagedPinned", 0L);
            assertEquals(placement == KvPlacement.MAPPED ? kvBytes : pinned, dev.hostMappedBytes());
            assertEquals(placement.onHost() ? kvBytes + pinned : 0, dev.hostBytes());
            int[] seqs = {cache.newSequence(), cache.newSequence()}, exactSeqs = {exact.newSequence(), exact.newSequence()};
            for (int b = 0; b < 2; b++) {
                cache.layer(0).prefill(seqs[b], pk[b], pv[b], prompts[b]);
                exact.layer(0).prefill(exactSeqs[b], pk[b], pv[b], prompts[b]);
                dev.prefill(b, pk[b], pv[b], prompts[b]);
            }
            // encodeKeys: index bytes equal to KeyEncoder's (weights within one bf16 step)
            for (int b = 0; b < 2; b++) {
                for (int h = 0; h < 2; h++) {
                    RetrievalIndex idx = ((ParisKv.Head) cache.layer(0).head(seqs[b], h)).index();
                    int n = idx.size();
                    int s = b * 2 + h;
                    assertArrayEquals(Arrays.copyOf(idx.codes(), n * 8), dev.codes(s, n), "codes of stream " + s);
                    assertArrayEquals(Arrays.copyOf(idx.nibbles(), n * 32), dev.nibbles(s, n), "nibbles of stream " + s);
                    short[] w = dev.weights(s, n);
                    for (int i = 0; i < n * 8; i++) assertTrue(Math.abs(w[i] - idx.weights()[i]) <= 1, "weight " + i + " of stream " + s);
                    assertArrayEquals(Arrays.copyOf(idx.counts(), 8 * 256), dev.counts(s), "centroid counts of stream " + s);
                }
            }
            float[] outJ = new float[2 * qn], outD = new float[2 * qn];
            Attended[] att = null;
            float[] q = null;
            for (int step = 0; step < steps; step++) {
                q = random(rnd, 2 * qn, 0f);
                float[] k = random(rnd, 2 * kv, 2.5f), v = random(rnd, 2 * kv, 0f);
                att = cache.layer(0).decode(seqs, q, k, v, outJ);
                exact.layer(0).decode(exactSeqs, q, k, v, new float[2 * qn]);
                dev.decode(q, k, v, outD, false);
                assertEquals(cache.layer(0).zoneEnd(seqs[1]), dev.zoneEnd(1), "zone end at step " + step);
                assertTrue(relError(outD, outJ) < 2e-3, label + " step " + step + " output error " + relError(outD, outJ));
            }
            // last step, task by task
            Rotation rot = Rotation.forDim(d, cfg.seed());
            int nq = dev.retrievalQueriesPerStream();
            for (int b = 0; b < 2; b++) {
                for (int h = 0; h < 2; h++) {
                    int s = b * 2 + h;
                    RetrievalIndex idx = ((ParisKv.Head) cache.layer(0).head(seqs[b], h)).index();
                    int n = idx.size();
                    for (int head = 0; head < nq; head++) {
                        int qi = s * nq + head;
                        float[] query = mode == GqaMode.MEAN
                                ? RetrievalQuery.groupMean(q, (b * 8 + h * 4) * d, 4, d)
                                : Arrays.copyOfRange(q, (b * 8 + h * 4 + head) * d, (b * 8 + h * 4 + head + 1) * d);
                        RetrievalQuery rq = RetrievalQuery.of(rot, query, 0);
                        assertArrayEquals(rq.rotated(), dev.rotatedQuery(qi), 1e-6f, "q̂ of " + qi);
                        AdaptiveRatios r = AdaptiveRatios.forZone(n);
                        byte[] table = new byte[8 * 256];
                        TierTable.build(rq.rotated(), idx.counts(), Tiers.thresholds(n, r.collisionRatio()), table);
                        assertArrayEquals(table, dev.tierTable(qi), "tier table of " + qi);
                        byte[] sc = new byte[n];
                        CollisionCounting.scores(idx.codes(), n, 8, table, sc);
                        int[] cand = new int[n];
                        int m = CandidateSelect.select(sc, n, Tiers.maxScore(8), r.candidates(n), cand);
                        assertArrayEquals(Arrays.copyOf(cand, m), dev.candidates(qi), "candidates of " + qi);
                        int[] javaRanked = new int[cfg.topk()];
                        int kk = org.pariskv.select.ParisKvSelector.rank(idx, rq, Math.min(cfg.topk(), n), Double.NaN, Double.NaN, javaRanked);
                        assertArrayEquals(Arrays.copyOf(javaRanked, kk), dev.ranked(qi), "ranked top-k of " + qi);
                    }
                    int[] javaSel = Arrays.stream(att[b].retrievedPerKvHead()[h]).map(t -> t - cfg.sink()).toArray();
                    assertArrayEquals(javaSel, dev.selected(s), "merged selection of stream " + s);
                }
            }
            // the dense path is full attention (refused over staged K/V: it would copy the whole context per step)
            float[] full = new float[2 * qn];
            if (placement == KvPlacement.STAGED) {
                int len = dev.length(1);
                float[] lastQ = q;
                var e = assertThrows(IllegalArgumentException.class, () -> dev.decode(lastQ, random(rnd, 2 * kv, 0f), random(rnd, 2 * kv, 0f), full, true));
                assertEquals(DeviceDecoder.DENSE_STAGED_REFUSAL, e.getMessage());
                assertEquals(len, dev.length(1), "a refused step changes nothing");
                return;
            }
            float[] lastK = random(rnd, 2 * kv, 2.5f), lastV = random(rnd, 2 * kv, 0f), want = new float[2 * qn];
            exact.layer(0).decode(exactSeqs, q, lastK, lastV, want);
            dev.decode(q, lastK, lastV, full, true);
            assertTrue(relError(full, want) < 2e-3, label + " dense step: error against exact attention " + relError(full, want));
        }
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    static double relError(float[] a, float[] ref) {
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - ref[i]) * (double) (a[i] - ref[i]);
            den += ref[i] * (double) ref[i];
        }
        return Math.sqrt(num / den);
    }

    /**
     * Regression: the two-stage top-k must not let a short stream of the batch (zone smaller than top-k) write into
     * another query's partial lists; the long sequence then selects exactly what the one-stage top-k selects.
     */
    @ParameterizedTest(name = "{0} {2}")
    @MethodSource("devices")
    void twoStageTopKEqualsOneStageBesideAShortSequence(String label, Supplier<DeviceInfo> device, GqaMode mode, KvPlacement placement) {
        org.junit.jupiter.api.Assumptions.assumeTrue(placement == KvPlacement.DEVICE, "placement does not matter here; the device rows cover every device and mode");
        Backend backend = Backends.open(device.get());
        ParisKvConfig cfg = ParisKvConfig.defaults().withGqa(mode).withWindow(4, 64).withInterval(32).withMinSparseTokens(0).withTopk(50);
        int kv = SHAPE.kvHeads() * SHAPE.headDim(), qn = SHAPE.queryHeads() * SHAPE.headDim();
        int[] prompts = {9101, 100}; // the second's zone (~32 keys) is smaller than top-k
        SplittableRandom rnd = new SplittableRandom(5);
        float[][] pk = new float[2][], pv = new float[2][];
        for (int b = 0; b < 2; b++) {
            pk[b] = random(rnd, prompts[b] * kv, 2.5f);
            pv[b] = random(rnd, prompts[b] * kv, 0f);
        }
        float[] q = random(rnd, 2 * qn, 0f), k = random(rnd, 2 * kv, 2.5f), v = random(rnd, 2 * kv, 0f), out = new float[2 * qn];
        int[][][] selected = new int[2][SHAPE.kvHeads()][];
        int[] sliceAbove = {1 << 30, 1000};
        for (int run = 0; run < 2; run++) {
            try (DeviceDecoder dev = new DeviceDecoder(backend, SHAPE, cfg, 2, 9200, DeviceDecoder.Options.defaults().withTopKSliceAbove(sliceAbove[run]))) {
                for (int b = 0; b < 2; b++) dev.prefill(b, pk[b], pv[b], prompts[b]);
                dev.decode(q, k, v, out, false);
                for (int h = 0; h < SHAPE.kvHeads(); h++) selected[run][h] = dev.selected(h); // streams of sequence 0
                assertTrue(dev.zoneEnd(1) - cfg.sink() < cfg.topk(), "the short sequence's zone is below top-k");
            }
        }
        for (int h = 0; h < SHAPE.kvHeads(); h++) {
            assertEquals(50, selected[0][h].length);
            assertArrayEquals(selected[0][h], selected[1][h], "long sequence, KV head " + h + ": one-stage vs two-stage top-k");
        }
    }
    /**
     * CUDA on sm_90+: kernels that start while the one before ends (each waits for its inputs; collisionScores loads
     * the codes first) decode exactly what kernels launched one after another decode, step after step, across window
     * slides (encodeKeys inside the step) at D = 128 (the 16-byte code paths), on both sides of a CUDA graph.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "cuda graphs {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void dependentLaunchesDecodeWhatPlainLaunchesDecode(boolean graphs) {
        Backend backend = Backends.open(OpenClTestSupport.cudaDevice());
        org.junit.jupiter.api.Assumptions.assumeTrue(backend.canLaunchDependent(), "needs sm_90 and cuLaunchKernelEx");
        ModelShape shape = new ModelShape(1, 8, 2, 128);
        ParisKvConfig cfg = ParisKvConfig.defaults().withWindow(4, 64).withInterval(16).withMinSparseTokens(0).withTopk(50);
        int kv = shape.kvHeads() * 128, qn = shape.queryHeads() * 128, steps = 40;
        int[] prompts = {9101, 3000};
        float[][] outs = new float[2][];
        for (int run = 0; run < 2; run++) {
            SplittableRandom rnd = new SplittableRandom(23);
            DeviceDecoder.Options o = DeviceDecoder.Options.defaults().withCudaGraphs(graphs).withDependentLaunch(run == 0);
            try (DeviceDecoder dev = new DeviceDecoder(backend, shape, cfg, 2, 9200, o)) {
                for (int b = 0; b < 2; b++) dev.prefill(b, random(rnd, prompts[b] * kv, 2.5f), random(rnd, prompts[b] * kv, 0f), prompts[b]);
                float[] all = new float[steps * 2 * qn], out = new float[2 * qn];
                for (int step = 0; step < steps; step++) {
                    dev.decode(random(rnd, 2 * qn, 0f), random(rnd, 2 * kv, 2.5f), random(rnd, 2 * kv, 0f), out, false);
                    System.arraycopy(out, 0, all, step * 2 * qn, 2 * qn);
                }
                outs[run] = all;
            }
        }
        assertArrayEquals(outs[1], outs[0], "outputs of " + steps + " steps, dependent vs plain launches");
    }
}
