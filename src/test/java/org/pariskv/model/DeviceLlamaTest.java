package org.pariskv.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.pariskv.GqaMode;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.Backend;
import org.pariskv.compute.Backends;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.OpenClTestSupport;

/**
 * The device forward ({@link DeviceLlama}) against the CPU model ({@link LlamaModel}) on the bundled checkpoint,
 * on OpenCL (PoCL on CI), and on the java backend with a tiny random Qwen3 checkpoint. Both decode
 * greedily on their own; the tokens must agree. Logits: the device's matvecs sum in another f32 order than the CPU's
 * SIMD dots, and its attention (DeviceDecoder) has its own softmax arithmetic, so logits differ by rounding that the
 * layers carry forward: full attention within {@link #FULL_TOLERANCE} of the largest |logit|, ParisKV (where the
 * retrieved sets may differ where scores tie within rounding) within {@link #SPARSE_TOLERANCE}.
 */
class DeviceLlamaTest {

    static final double FULL_TOLERANCE = 1e-3, SPARSE_TOLERANCE = 2e-2;

    @TempDir
    Path tmp;

    static int[] prompt(int bytes) throws IOException {
        String text = Files.readString(BundledModel.directory().resolve("heldout.txt"));
        return new ByteTokenizer().encodeWithBos(text.substring(0, bytes));
    }

    /** Greedy steps on both; returns the worst |Δ logit| / max |logit| over the steps. */
    static double compare(LlamaModel cpu, DeviceLlama dev, int[] prompt, int steps, boolean expectSparse, boolean shareRecord) {
        double worst = 0;
        try (Session s = cpu.newSession()) {
            float[] want, got;
            if (shareRecord) { // the decoders start from exactly the rows the CPU session holds
                PrefillRecord r = s.prefillRecorded(prompt);
                want = r.logits();
                got = dev.prefill(r);
                assertArrayEquals(want, got);
            } else { // DeviceLlama's own CPU prefill: another model instance, whose Vector API dots may round differently
                want = s.prefill(prompt);
                got = dev.prefill(prompt);
                assertTrue(relative(want, got) <= 1e-5, "prefill logits differ by " + relative(want, got));
            }
            long nanos = 0, cpuNanos = 0; // from the second step on: the first compiles the kernels
            for (int i = 0; i < steps; i++) {
                int token = Sampler.greedy().sample(want);
                assertEquals(token, Sampler.greedy().sample(got), "greedy token at step " + i);
                long t0 = System.nanoTime();
                want = s.decode(token);
                long t1 = System.nanoTime();
                got = dev.decode(token);
                long t2 = System.nanoTime();
                if (i > 0) {
                    cpuNanos += t1 - t0;
                    nanos += t2 - t1;
                }
                double max = 0, diff = 0;
                for (int j = 0; j < want.length; j++) {
                    assertTrue(Float.isFinite(got[j]), "logit " + j + " at step " + i + " is " + got[j]);
                    max = Math.max(max, Math.abs(want[j]));
                    diff = Math.max(diff, Math.abs(want[j] - got[j]));
                }
                worst = Math.max(worst, diff / Math.max(1, max));
                if (expectSparse && i == steps - 1) {
                    for (org.pariskv.cache.Attended a : s.attended()) assertFalse(a.dense(), "the CPU model attended densely: the test does not reach ParisKV");
                }
            }
            assertEquals(prompt.length + steps, dev.length());
            System.out.printf("DeviceLlama %s: %d prompt tokens, %d steps, %.1f ms/step (CPU model %.1f), worst |Δ logit| / max |logit| = %.2e%n",
                    cpu.cache().method().name(), prompt.length, steps, nanos / 1e6 / (steps - 1), cpuNanos / 1e6 / (steps - 1), worst);
        }
        return worst;
    }

    private static double relative(float[] want, float[] got) {
        double max = 0, diff = 0;
        for (int j = 0; j < want.length; j++) {
            max = Math.max(max, Math.abs(want[j]));
            diff = Math.max(diff, Math.abs(want[j] - got[j]));
        }
        return diff / Math.max(1, max);
    }

    /** With {@code cudaGraph} on, OpenCL says once that it has no CUDA graphs and launches as usual. */
    @ParameterizedTest(name = "cudaGraph {0}")
    @ValueSource(booleans = {false, true})
    void fullAttentionOnOpenClMatchesTheCpuModel(boolean cudaGraph) throws IOException {
        Backend b = Backends.open(OpenClTestSupport.openClDevice());
        ParisKvConfig kv = ParisKvConfig.defaults();
        Path dir = BundledModel.directory();
        try (LlamaModel cpu = LlamaModel.load(dir, "full", kv); DeviceLlama dev = DeviceLlama.load(dir, b, kv, true, 512, cudaGraph)) {
            double worst = compare(cpu, dev, prompt(300), 24, false, true);
            assertTrue(worst <= FULL_TOLERANCE, "logits differ by " + worst);
        }
    }

    @Test
    void parisKvOnOpenClMatchesTheCpuModelsParisKv() throws IOException {
        Backend b = Backends.open(OpenClTestSupport.openClDevice());
        // small sink/local/top-k so that a 400-token prompt is past denseBelow (4 + 64 + 2 * 32 = 132) and sparse
        ParisKvConfig kv = new ParisKvConfig(4, 64, 16, 32, 42L, GqaMode.PER_HEAD, Double.NaN, Double.NaN, 0, true);
        Path dir = BundledModel.directory();
        try (LlamaModel cpu = LlamaModel.load(dir, "pariskv", kv); DeviceLlama dev = DeviceLlama.load(dir, b, kv, false, 512, false)) {
            double worst = compare(cpu, dev, prompt(400), 24, true, true);
            assertTrue(worst <= SPARSE_TOLERANCE, "logits differ by " + worst);
        }
    }

    @Test
    void aRaggedBatchOnOpenClMatchesTheCpuModelsBatch() throws IOException {
        Backend b = Backends.open(OpenClTestSupport.openClDevice());
        ParisKvConfig kv = ParisKvConfig.defaults();
        Path dir = BundledModel.directory();
        int[][] prompts = {prompt(300), prompt(120)}; // different lengths: each row at its own position
        try (LlamaModel cpu = LlamaModel.load(dir, "full", kv); DeviceLlama dev = DeviceLlama.load(dir, b, kv, true, 2, 512, false);
             Session s0 = cpu.newSession(); Session s1 = cpu.newSession()) {
            java.util.List<Session> sessions = java.util.List.of(s0, s1);
            float[][] want = new float[2][], got = new float[2][];
            for (int i = 0; i < 2; i++) {
                PrefillRecord r = sessions.get(i).prefillRecorded(prompts[i]);
                want[i] = r.logits();
                got[i] = dev.prefill(i, r);
            }
            double worst = 0;
            for (int step = 0; step < 12; step++) {
                int[] tokens = new int[2];
                for (int i = 0; i < 2; i++) {
                    tokens[i] = Sampler.greedy().sample(want[i]);
                    assertEquals(tokens[i], Sampler.greedy().sample(got[i]), "sequence " + i + ", step " + step);
                }
                want = cpu.decode(sessions, tokens);
                got = dev.decode(tokens);
                for (int i = 0; i < 2; i++) worst = Math.max(worst, relative(want[i], got[i]));
            }
            assertTrue(worst <= FULL_TOLERANCE, "logits differ by " + worst);
            assertEquals(prompts[0].length + 12, dev.length(0));
            assertEquals(prompts[1].length + 12, dev.length(1));
            var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> dev.decode(new int[] {1}));
            assertTrue(e.getMessage().contains("2 sequences but 1 tokens"), e.getMessage());
            org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> dev.decode(1), "a batch decodes with decode(int[])");
        }
    }

    /**
     * A batch of 3 with the fused launches (gemvQkv with RoPE, or for Qwen3 without it then the head norms and
     * ropeQk; gemvSwiglu) gives the unfused model's logits bit for bit, on OpenCL: the bundled Llama and a tiny Qwen3.
     */
    @ParameterizedTest(name = "qwen3 {0}")
    @ValueSource(booleans = {false, true})
    void aFusedBatchOfThreeHasTheUnfusedLogits(boolean qwen3) throws IOException {
        Backend b = Backends.open(OpenClTestSupport.openClDevice());
        ParisKvConfig kv = ParisKvConfig.defaults();
        Path dir = qwen3 ? TinyCheckpoint.write(tmp.resolve("qwen3"), TinyCheckpoint.Spec.small().qwen3()).dir : BundledModel.directory();
        int vocab = LlamaConfig.read(dir.resolve("config.json")).vocabSize();
        int[][] prompts = new int[3][];
        for (int i = 0; i < 3; i++) {
            prompts[i] = new int[40 + 25 * i]; // ragged: each sequence at its own position
            for (int j = 0; j < prompts[i].length; j++) prompts[i][j] = (j * 37 + 11 * i + 5) % vocab;
        }
        try (LlamaModel cpu = LlamaModel.load(dir, "full", kv); DeviceLlama fused = DeviceLlama.load(dir, b, kv, true, 3, 256, false, true);
             DeviceLlama separate = DeviceLlama.load(dir, b, kv, true, 3, 256, false, false)) {
            float[][] logits = new float[3][];
            for (int i = 0; i < 3; i++) {
                try (Session s = cpu.newSession()) {
                    PrefillRecord r = s.prefillRecorded(prompts[i]);
                    logits[i] = fused.prefill(i, r);
                    separate.prefill(i, r);
                }
            }
            for (int step = 0; step < 4; step++) {
                int[] tokens = new int[3];
                for (int i = 0; i < 3; i++) tokens[i] = Sampler.greedy().sample(logits[i]);
                logits = fused.decode(tokens);
                float[][] want = separate.decode(tokens);
                for (int i = 0; i < 3; i++) assertArrayEquals(want[i], logits[i], "sequence " + i + ", step " + step);
            }
        }
    }

    @Test
    void javaBackendMatchesTheCpuModelOnATinyQwen3() {
        Backend b = Backends.open(DeviceSpec.JAVA);
        // Qwen3: the Llama path plus per-head q/k norms (the JVM executor is too slow for more than one small model)
        for (TinyCheckpoint.Spec spec : new TinyCheckpoint.Spec[] {TinyCheckpoint.Spec.small().qwen3()}) {
            Path dir = TinyCheckpoint.write(tmp.resolve(spec.architecture()), spec).dir;
            ParisKvConfig kv = ParisKvConfig.defaults();
            int[] prompt = new int[12];
            for (int i = 0; i < prompt.length; i++) prompt[i] = (i * 37 + 11) % spec.vocab();
            try (LlamaModel cpu = LlamaModel.load(dir, "full", kv); DeviceLlama dev = DeviceLlama.load(dir, b, kv, true, 128, false)) {
                double worst = compare(cpu, dev, prompt, 2, false, false); // the JVM executor runs each work-item as a virtual thread: slow
                assertTrue(worst <= FULL_TOLERANCE, spec.architecture() + ": logits differ by " + worst);
            }
        }
    }

    @Test
    void refusesAnUnknownTokenAFullSequenceAndUseAfterClose() {
        Backend b = Backends.open(DeviceSpec.JAVA);
        Path dir = TinyCheckpoint.write(tmp.resolve("t"), TinyCheckpoint.Spec.small()).dir;
        DeviceLlama dev = DeviceLlama.load(dir, b, ParisKvConfig.defaults(), true, 4, false);
        dev.prefill(new int[] {1, 2, 3});
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> dev.decode(256));
        assertTrue(e.getMessage().contains("256"), e.getMessage());
        assertEquals(3, dev.length(), "a refused step changes nothing");
        org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> dev.prefill(new int[] {4}), "sequence 0 is not empty");
        dev.decode(1); // the JVM executor is slow: one step to the capacity of 4
        var full = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> dev.decode(1));
        assertTrue(full.getMessage().contains("full (capacity 4"), full.getMessage());
        assertEquals(4, dev.length());
        dev.close();
        org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> dev.decode(1));
    }

    /** A tiny Llama shape for random-weight runs (every matrix's row length a multiple of 8: gemv everywhere). */
    static LlamaConfig tinyRandomShape() {
        return new LlamaConfig(LlamaConfig.LLAMA, false, 128, 256, 2, 4, 2, 64, 1e-5, 10000, null, 304, false, 4096, -1, java.util.List.of(), "bfloat16");
    }

    @Test
    void aRandomModelIsTheSameOnTheJvmAndOnOpenClAndRefusesAPromptPrefill() {
        LlamaConfig c = tinyRandomShape();
        ParisKvConfig kv = ParisKvConfig.defaults();
        int tokens = 40, row = c.kvHeads() * c.headDim();
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(1);
        float[] k = new float[tokens * row], v = new float[tokens * row];
        for (int i = 0; i < k.length; i++) {
            k[i] = (float) rnd.nextDouble(-1, 1);
            v[i] = (float) rnd.nextDouble(-1, 1);
        }
        DeviceLlama.LayerRows rows = (layer, from, n) -> new float[][] {java.util.Arrays.copyOfRange(k, from * row, (from + n) * row),
                java.util.Arrays.copyOfRange(v, from * row, (from + n) * row)};
        float[][] logits = new float[2][];
        Backend[] backends = {Backends.open(DeviceSpec.JAVA), Backends.open(OpenClTestSupport.openClDevice())};
        for (int i = 0; i < 2; i++) {
            try (DeviceLlama m = DeviceLlama.random(c, 5, backends[i], kv, true, 1, 64, false)) {
                var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> m.prefill(new int[] {1, 2}));
                assertTrue(e.getMessage().contains("prefillKv"), e.getMessage());
                int[] seen = {0};
                m.prefillKv(0, rows, tokens, 16, l -> seen[0]++);
                assertEquals(c.layers(), seen[0], "progress hears every layer");
                assertEquals(tokens, m.length());
                logits[i] = m.decode(new int[] {7}, true)[0];
                assertEquals(tokens + 1, m.length());
            }
        }
        for (float x : logits[1]) assertTrue(Float.isFinite(x), "a finite logit");
        // the same device-generated weights on both: only attention's and the matvecs' rounding differ
        assertTrue(relative(logits[0], logits[1]) <= FULL_TOLERANCE, "JVM and OpenCL differ by " + relative(logits[0], logits[1]));
        double spread = 0;
        for (float x : logits[1]) spread = Math.max(spread, Math.abs(x - logits[1][0]));
        assertTrue(spread > 1e-3, "the logits are not all equal: random weights reach the output");
    }

    @Test
    void theWholeModelBenchTimesBothMethodsOverTheSameCachesOnOpenCl() {
        LlamaConfig c = tinyRandomShape();
        ParisKvConfig kv = new ParisKvConfig(4, 64, 16, 32, 42L, GqaMode.PER_HEAD, Double.NaN, Double.NaN, 0, true);
        Backend b = Backends.open(OpenClTestSupport.openClDevice());
        int[] layersDone = {0};
        var p = org.pariskv.bench.WholeModelBench.run("tiny", c, b, kv, 600, 2, 1, 3, false, 0, l -> layersDone[0]++);
        assertEquals(c.layers(), layersDone[0]);
        assertEquals(600, p.context());
        assertEquals(2, p.batch());
        assertTrue(p.parisMs() > 0 && p.fullMs() > 0 && p.nonAttentionMs() > 0, p.toString());
        assertTrue(p.parisBestMs() <= p.parisMs() && p.fullBestMs() <= p.fullMs(), p.toString());
        assertEquals(2L * (c.parameters() - (long) c.vocabSize() * c.hiddenSize()), p.weightBytes(), "every matrix but the embedding");
        assertEquals(2 * 1000.0 / p.parisMs(), p.parisTokensPerSec(), 1e-9);
        var map = org.pariskv.bench.WholeModelBench.toMap(p);
        assertEquals(p.parisMs() - p.nonAttentionMs(), (double) map.get("pariskv_attention_ms"), 1e-12);
        // one profiled step of each: ParisKV's retrieval tasks, full attention's dense kernel and no retrieval
        assertTrue(p.parisTaskUs().containsKey("collisionScores") && p.parisTaskUs().containsKey("sparseAttention"), p.parisTaskUs().toString());
        assertTrue(p.fullTaskUs().keySet().stream().anyMatch(k -> k.startsWith("denseAttention")) && !p.fullTaskUs().containsKey("collisionScores"), p.fullTaskUs().toString());
        assertTrue(p.fullTaskUs().values().stream().allMatch(v -> v >= 0), p.fullTaskUs().toString());
        assertEquals(p.fullTaskUs(), map.get("full_attention_task_us"));
        var small = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> org.pariskv.bench.WholeModelBench.run("tiny", c, b, kv, 70, 1, 1, 3, false, 0, null)); // 70 - 8 steps <= sink + local
        assertTrue(small.getMessage().contains("too small"), small.getMessage());
        var big = org.junit.jupiter.api.Assertions.assertThrows(org.pariskv.device.InsufficientMemoryException.class,
                () -> org.pariskv.bench.WholeModelBench.run("tiny", c, b, kv, 600, 1, 1, 3, false, 1 << 20, null));
        assertTrue(big.getMessage().contains("needs") && big.getMessage().contains("free"), big.getMessage());
    }
}
