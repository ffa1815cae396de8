package org.pariskv.model;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.pariskv.ParisKvConfig;
import org.pariskv.cache.Attended;
import org.pariskv.io.Safetensors.Dtype;
import org.pariskv.kv.RowStore;

/**
 * The forward pass on tiny random checkpoints against itself (decode vs prefill, chunking, batching) and against
 * {@link NaiveLlama}, an independent f64 reference.
 */
class LlamaModelTest {

    @TempDir
    Path dir;

    /**
     * Decode and prefill run the same per-row dot products, RoPE and norms over the same bf16 K/V rows; prefill's
     * attention differs from decode's only in exp's last bit and the order of the softmax sum (CausalAttention), and
     * the Vector API's lane reductions differ between interpreted and JIT-compiled code. Measured at most 1.7e-6 on
     * logits of size 4, so 1e-5 is tight.
     */
    static final double SAME_PATH = 1e-5;
    /**
     * Engine (f32 sums) against the f64 reference on the same stored weights and bf16-rounded K/V: f32 rounding,
     * plus the rare K/V element whose bf16 rounding flips between f32 and f64 inputs. Measured at most 6e-5 (|logit|
     * up to 4 for Llama, 72 for the tied Qwen3); a RoPE, GQA or norm error moves logits by 1e-1 and more.
     */
    static final double REFERENCE = 1e-3;

    static int[] tokens(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        t[0] = ByteTokenizer.BOS;
        for (int i = 1; i < n; i++) t[i] = r.nextInt(256);
        return t;
    }

    static double maxDiff(float[] a, int aOff, double[] b) {
        double m = 0;
        for (int i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[aOff + i] - b[i]));
        return m;
    }

    static double maxDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    private TinyCheckpoint checkpoint(TinyCheckpoint.Spec spec) {
        return TinyCheckpoint.write(dir.resolve("m"), spec);
    }

    /** (a) Logits after each incremental decode step equal the logits at that position of one prefill of the whole sequence. */
    @Test
    void decodeStepsEqualOnePrefillOfTheWholeSequence() {
        TinyCheckpoint c = checkpoint(TinyCheckpoint.Spec.small());
        int[] seq = tokens(40, 1);
        int vocab = c.spec.vocab();
        try (LlamaModel m = LlamaModel.load(c.dir, "full", ParisKvConfig.defaults())) {
            float[] whole;
            try (Session s = m.newSession()) {
                whole = s.prefillAllLogits(seq);
            }
            try (Session s = m.newSession()) {
                s.prefill(java.util.Arrays.copyOf(seq, 10));
                assertTrue(maxDiff(whole, 9 * vocab, toDouble(s.logits())) <= SAME_PATH);
                for (int t = 10; t < seq.length; t++) {
                    float[] step = s.decode(seq[t]);
                    double d = maxDiff(whole, t * vocab, toDouble(step));
                    assertTrue(d <= SAME_PATH, "position " + t + ": decode differs from prefill by " + d);
                }
                assertEquals(seq.length, s.length());
            }
        }
    }

    /** (b) A prefill in chunks of 1, 3 and 7 tokens gives the logits of a one-shot prefill, at every position. */
    @ParameterizedTest
    @ValueSource(ints = {1, 3, 7})
    void chunkedPrefillEqualsOneShot(int chunk) {
        TinyCheckpoint c = checkpoint(TinyCheckpoint.Spec.small());
        int[] seq = tokens(29, 2);
        try (LlamaModel m = LlamaModel.load(c.dir, "pariskv", ParisKvConfig.defaults())) {
            float[] oneShot, chunked;
            try (Session s = m.newSession()) {
                oneShot = s.prefill(seq, 1000);
            }
            try (Session s = m.newSession()) {
                chunked = s.prefill(seq, chunk);
                assertEquals(seq.length, s.length());
            }
            assertTrue(maxDiff(oneShot, chunked) <= SAME_PATH, "chunk " + chunk + " differs by " + maxDiff(oneShot, chunked));
        }
    }

    /** (d) The model agrees with the plain f64 reference at every position: RoPE pairing, GQA mapping, norms, SwiGLU. */
    @ParameterizedTest
    @ValueSource(strings = {"BF16", "F32", "F16"})
    void agreesWithTheNaiveReference(String dtype) {
        TinyCheckpoint c = checkpoint(TinyCheckpoint.Spec.small().withDtype(Dtype.valueOf(dtype)).withSharded(dtype.equals("F32")));
        int[] seq = tokens(33, 3);
        double[][] ref = new NaiveLlama(c, NaiveLlama.plainFrequencies(c.spec.ropeTheta(), c.spec.headDim())).logits(seq, null);
        try (LlamaModel m = LlamaModel.load(c.dir, "full", ParisKvConfig.defaults()); Session s = m.newSession()) {
            float[] all = s.prefillAllLogits(seq);
            for (int t = 0; t < seq.length; t++) {
                double d = maxDiff(all, t * c.spec.vocab(), ref[t]);
                assertTrue(d <= REFERENCE, dtype + " position " + t + ": |Δlogit| " + d);
            }
            // the decode path too (one more token)
            double[][] ref2 = new NaiveLlama(c, NaiveLlama.plainFrequencies(c.spec.ropeTheta(), c.spec.headDim())).logits(append(seq, 65), null);
            assertTrue(maxDiff(s.decode(65), 0, ref2[seq.length]) <= REFERENCE);
        }
    }

    /** The reference comparison has teeth: an interleaved RoPE pairing, or other frequencies, disagree with the model. */
    @Test
    void theReferenceComparisonDetectsAWrongRope() {
        TinyCheckpoint c = checkpoint(TinyCheckpoint.Spec.small());
        int[] seq = tokens(20, 4);
        double[] freq = NaiveLlama.plainFrequencies(c.spec.ropeTheta(), c.spec.headDim());
        double[][] interleaved = new NaiveLlama(c, freq, true).logits(seq, null);
        double[][] otherTheta = new NaiveLlama(c, NaiveLlama.plainFrequencies(500, c.spec.headDim())).logits(seq, null);
        try (LlamaModel m = LlamaModel.load(c.dir, "full", ParisKvConfig.defaults()); Session s = m.newSession()) {
            float[] all = s.prefillAllLogits(seq);
            assertTrue(maxDiff(all, 19 * c.spec.vocab(), interleaved[19]) > 10 * REFERENCE);
            assertTrue(maxDiff(all, 19 * c.spec.vocab(), otherTheta[19]) > 10 * REFERENCE);
        }
    }

    /** (f) Qwen3: per-head q/k RMSNorm before RoPE, tied embeddings. */
    @Test
    void qwen3VariantAgreesWithTheReference() {
        TinyCheckpoint c = checkpoint(TinyCheckpoint.Spec.small().qwen3());
        int[] seq = tokens(25, 5);
        double[][] ref = new NaiveLlama(c, NaiveLlama.plainFrequencies(c.spec.ropeTheta(), c.spec.headDim())).logits(seq, null);
        try (LlamaModel m = LlamaModel.load(c.dir, "full", ParisKvConfig.defaults()); Session s = m.newSession()) {
            assertTrue(m.config().qkNorm());
            assertTrue(m.config().tieWordEmbeddings());
            float[] all = s.prefillAllLogits(seq);
            for (int t = 0; t < seq.length; t++) assertTrue(maxDiff(all, t * c.spec.vocab(), ref[t]) <= REFERENCE, "position " + t);
        }
        // without its q/k norms the same weights give other logits: the norms are applied
        c.tensors.replaceAll((name, a) -> name.endsWith("q_norm.weight") || name.endsWith("k_norm.weight") ? ones(a.length) : a);
        c.writeFiles();
        try (LlamaModel m = LlamaModel.load(c.dir, "full", ParisKvConfig.defaults()); Session s = m.newSession()) {
            assertTrue(maxDiff(s.prefill(seq), 0, ref[seq.length - 1]) > 10 * REFERENCE);
        }
    }

    /**
     * (c) Below {@link ParisKvConfig#denseBelow()} every method attends densely and gives exactly the logits of
     * {@code full}. (Top-k covering the whole zone cannot be configured above the threshold: denseBelow is at
     * least S + L + 2k, so the zone then holds more than 2k tokens; see the sparse test below.)
     */
    @ParameterizedTest
    @ValueSource(strings = {"pariskv", "oracle", "streaming", "quest", "magicpig", "pqcache", "louiskv"})
    void belowTheDenseThresholdEveryMethodEqualsFull(String method) {
        TinyCheckpoint c = checkpoint(TinyCheckpoint.Spec.small());
        int[] seq = tokens(30, 6);
        List<float[]> full = run(c, "full", ParisKvConfig.defaults(), seq, 5);
        List<float[]> other = run(c, method, ParisKvConfig.defaults(), seq, 5);
        for (int i = 0; i < full.size(); i++) assertEquals(0.0, maxDiff(full.get(i), other.get(i)), method + " step " + i);
    }

    /**
     * (c) Above the threshold, with the sparse path taken (sink 2, local 8, top-k 4 of a zone of 50+): the logits of
     * oracle and ParisKV decode steps equal the f64 reference restricted, layer by layer and head by head, to exactly
     * the tokens the cache reports it attended. So the method's selection is what the model attends, every layer.
     */
    @ParameterizedTest
    @ValueSource(strings = {"oracle", "pariskv"})
    void sparseDecodeAttendsExactlyTheSelectedTokens(String method) {
        TinyCheckpoint c = checkpoint(TinyCheckpoint.Spec.small());
        ParisKvConfig cfg = ParisKvConfig.defaults().withWindow(2, 8).withTopk(4).withMinSparseTokens(0).withInterval(4);
        int[] seq = tokens(70, 7);
        int prompt = 60;
        Map<Integer, Attended[]> attended = new HashMap<>();
        List<float[]> steps = new ArrayList<>();
        try (LlamaModel m = LlamaModel.load(c.dir, method, cfg); Session s = m.newSession()) {
            s.prefill(java.util.Arrays.copyOf(seq, prompt));
            for (int t = prompt; t < seq.length; t++) {
                steps.add(s.decode(seq[t]).clone());
                Attended[] a = s.attended().clone();
                for (Attended x : a) {
                    assertFalse(x.dense(), "layer attended densely at position " + t);
                    int local = x.tokensPerKvHead()[0].length - 2 - 4; // sink + top-k + local window
                    assertTrue(local >= 8 && local < 8 + 4 + 1, "local window of " + local + " tokens at position " + t);
                    assertEquals(4, x.retrievedPerKvHead()[0].length, "top-k retrieved per KV head");
                }
                attended.put(t, a);
            }
        }
        NaiveLlama.Mask mask = (layer, kvHead, pos) -> attended.containsKey(pos) ? attended.get(pos)[layer].tokensPerKvHead()[kvHead] : null;
        double[][] ref = new NaiveLlama(c, NaiveLlama.plainFrequencies(c.spec.ropeTheta(), c.spec.headDim())).logits(seq, mask);
        double[][] dense = new NaiveLlama(c, NaiveLlama.plainFrequencies(c.spec.ropeTheta(), c.spec.headDim())).logits(seq, null);
        double apart = 0;
        for (int i = 0; i < steps.size(); i++) {
            int pos = prompt + i;
            assertTrue(maxDiff(steps.get(i), 0, ref[pos]) <= REFERENCE, method + " position " + pos + ": " + maxDiff(steps.get(i), 0, ref[pos]));
            apart = Math.max(apart, maxDiff(steps.get(i), 0, dense[pos]));
        }
        assertTrue(apart > 10 * REFERENCE, "the sparse steps must differ from dense attention for this test to mean anything, max " + apart);
    }

    /** (g) A ragged batch (three sessions of different lengths) decodes exactly as each session alone. */
    @Test
    void raggedBatchDecodeEqualsEachSequenceAlone() {
        TinyCheckpoint c = checkpoint(TinyCheckpoint.Spec.small());
        int[][] prompts = {tokens(5, 10), tokens(17, 11), tokens(31, 12)};
        int steps = 4;
        List<List<float[]>> alone = new ArrayList<>();
        for (int[] p : prompts) alone.add(run(c, "full", ParisKvConfig.defaults(), p, steps));
        try (LlamaModel m = LlamaModel.load(c.dir, "full", ParisKvConfig.defaults())) {
            List<Session> batch = new ArrayList<>();
            for (int[] p : prompts) {
                Session s = m.newSession();
                s.prefill(p);
                batch.add(s);
            }
            Sampler greedy = Sampler.greedy();
            for (int step = 0; step < steps; step++) {
                for (int i = 0; i < prompts.length; i++) {
                    assertTrue(maxDiff(alone.get(i).get(step), batch.get(i).logits()) <= SAME_PATH, "sequence " + i + " step " + step);
                }
                m.next(batch, greedy);
            }
            for (int i = 0; i < prompts.length; i++) assertEquals(prompts[i].length + steps, batch.get(i).length());
            IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, () -> m.decode(List.of(batch.get(0), batch.get(0)), new int[] {1, 2}));
            assertTrue(twice.getMessage().contains("session 1 appears twice"), twice.getMessage());
            assertThrows(IllegalArgumentException.class, () -> m.decode(batch, new int[] {1}));
            m.decode(batch, new int[] {1, 2, 3}); // a refused batch leaves the sessions usable
            batch.forEach(Session::close);
        }
    }

    /** generate: the greedy tokens of next(), cut before the stop token, which is not fed. */
    @Test
    void generateStopsBeforeTheStopToken() {
        TinyCheckpoint c = checkpoint(TinyCheckpoint.Spec.small());
        int[] prompt = tokens(9, 13);
        int[] greedy = new int[12];
        try (LlamaModel m = LlamaModel.load(c.dir, "full", ParisKvConfig.defaults())) {
            try (Session s = m.newSession()) {
                s.prefill(prompt);
                for (int i = 0; i < greedy.length; i++) greedy[i] = s.next(Sampler.greedy());
            }
            try (Session s = m.newSession()) {
                s.prefill(prompt);
                assertArrayEquals(greedy, s.generate(Sampler.greedy(), 12, t -> false));
            }
            int stop = greedy[6];
            int cut = 0;
            while (greedy[cut] != stop) cut++;
            try (Session s = m.newSession()) {
                s.prefill(prompt);
                int[] out = s.generate(Sampler.greedy(), 12, t -> t == stop);
                assertArrayEquals(java.util.Arrays.copyOf(greedy, cut), out);
                assertEquals(prompt.length + cut, s.length(), "the stop token is not fed");
            }
        }
    }

    /** Closing sessions and the model releases every K/V row store; bad tokens are refused before anything runs. */
    @Test
    void sessionsReleaseTheirRowsAndBadTokensAreRefused() {
        TinyCheckpoint c = checkpoint(TinyCheckpoint.Spec.small());
        long before = RowStore.openStores();
        try (LlamaModel m = LlamaModel.load(c.dir, "pariskv", ParisKvConfig.defaults())) {
            Session s = m.newSession();
            s.prefill(tokens(12, 1));
            assertTrue(m.cache().kvBytesHeld() >= 12 * m.config().kvBytesPerToken(), "K/V of 12 tokens held off-heap");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.decode(256));
            assertTrue(e.getMessage().contains("token 0 = 256 is outside the vocabulary [0, 256)"), e.getMessage());
            assertEquals(12, s.length(), "a refused token changes nothing");
            e = assertThrows(IllegalArgumentException.class, () -> s.prefill(new int[] {1, -3}));
            assertTrue(e.getMessage().contains("token 1 = -3"), e.getMessage());
            s.close();
            assertThrows(IllegalStateException.class, () -> s.decode(1));
            try (Session s2 = m.newSession()) {
                assertThrows(IllegalStateException.class, s2::logits, "no logits before prefill");
            }
        }
        assertEquals(before, RowStore.openStores());
    }

    /** A NaN in the weights is refused where it first reaches the cache, by layer, head and position; the session is then spent. */
    @Test
    void nanIsNamedByLayerHeadAndPosition() {
        TinyCheckpoint c = checkpoint(TinyCheckpoint.Spec.small().withDtype(Dtype.F32));
        c.t("model.embed_tokens.weight")[65 * 64 + 3] = Float.NaN;
        c.writeFiles();
        try (LlamaModel m = LlamaModel.load(c.dir, "full", ParisKvConfig.defaults())) {
            Session s = m.newSession();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.prefill(new int[] {2, 66, 65, 67}));
            assertTrue(e.getMessage().startsWith("NaN in keys at layer 0, kv head 0, position 2"), e.getMessage());
            IllegalStateException spent = assertThrows(IllegalStateException.class, () -> s.decode(66));
            assertTrue(spent.getMessage().contains("unusable after a failed step"), spent.getMessage());
            s.close();
            try (Session ok = m.newSession()) {
                assertEquals(256, ok.prefill(new int[] {2, 66, 67}).length, "other sessions are unaffected");
            }
        }
    }

    private static List<float[]> run(TinyCheckpoint c, String method, ParisKvConfig cfg, int[] prompt, int steps) {
        List<float[]> out = new ArrayList<>();
        try (LlamaModel m = LlamaModel.load(c.dir, method, cfg); Session s = m.newSession()) {
            s.prefill(prompt);
            Sampler greedy = Sampler.greedy();
            for (int i = 0; i < steps; i++) {
                out.add(s.logits().clone());
                s.next(greedy);
            }
        }
        return out;
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    private static float[] ones(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, 1f);
        return a;
    }

    private static int[] append(int[] a, int x) {
        int[] b = java.util.Arrays.copyOf(a, a.length + 1);
        b[a.length] = x;
        return b;
    }
}
