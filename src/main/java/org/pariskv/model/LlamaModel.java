package org.pariskv.model;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;
import org.pariskv.ParisKvConfig;
import org.pariskv.cache.Attended;
import org.pariskv.cache.KvCache;
import org.pariskv.cache.LayerCache;
import org.pariskv.method.Methods;
import org.pariskv.method.RetrievalMethod;
import org.pariskv.method.ZoneView;

/**
 * A Llama-architecture decoder on the CPU whose every attention layer reads a {@link KvCache} under one retrieval
 * method. The forward pass ({@link #forward}) is, per layer:
 * <pre>
 *   x += wo · attention(rope(wq · rmsnorm(x)), rope(wk · rmsnorm(x)), wv · rmsnorm(x))
 *   x += down · (silu(gate · rmsnorm(x)) * up · rmsnorm(x))          (SwiGLU)
 * </pre>
 * then {@code logits = lmHead · rmsnorm(x)}. Norms, RoPE, softmax and all sums run in f32; matrices are read as
 * stored (bf16 or f32) through {@link org.pariskv.simd.VectorOps}, in parallel over output rows.
 *
 * <p><b>Attention.</b> Prefill is full causal attention (as in the paper), chunk by chunk ({@link #PREFILL_CHUNK}
 * tokens, each matrix read once per chunk): a chunk's post-RoPE keys and values go to
 * {@link LayerCache#prefill}, which stores them and builds the method's retrieval index, and every query of the
 * chunk attends to all earlier tokens and itself. Each decode step calls {@link LayerCache#decode} per layer with
 * the post-RoPE q, k, v of every sequence of the batch (ragged: sequences of any lengths), so the method picks
 * the tokens of every layer. Below {@link ParisKvConfig#denseBelow()} tokens ({@code max(2000, S + L + 2k)} by
 * default) a sequence is attended densely whatever the method, so short prompts decode exactly as with
 * {@code full}; sparse retrieval starts once the context passes it.
 *
 * <p><b>Memory.</b> Weights stay in the mapped files. K/V live off-heap in the cache as bf16:
 * {@link LlamaConfig#kvBytesPerToken()} = {@code layers x 2 x Hkv x D x 2} bytes per token (128 KiB for
 * Llama-3-8B), plus the method's index (ParisKV: {@code RetrievalIndex.bytesPerKey(D)} = 112 bytes per key and KV head at D = 128, 22% of its K/V). Activations of a
 * prefill chunk are heap arrays of {@code chunk x max(hidden, intermediate)} floats.
 *
 * <pre>{@code
 * try (LlamaModel m = LlamaModel.load(dir, "pariskv", ParisKvConfig.defaults())) {
 *     Session s = m.newSession();
 *     s.prefill(new ByteTokenizer().encodeWithBos(prompt));
 *     Sampler greedy = Sampler.greedy();
 *     for (int i = 0; i < 32; i++) System.out.print((char) s.next(greedy));
 * }
 * }</pre>
 * Calls are serialised on the model (one forward at a time); batch several sessions with {@link #decode(List, int[])}.
 * Arguments are checked before anything runs; a failure inside a forward (e.g. a NaN the cache refuses, naming layer,
 * head and position) leaves the session usable only for {@link Session#close}.
 */
public final class LlamaModel implements AutoCloseable {

    /** Prefill tokens per forward: each weight matrix is read once per chunk. */
    public static final int PREFILL_CHUNK = 256;

    private final LlamaConfig config;
    private final LlamaWeights weights;
    private final KvCache cache;
    private final Rope rope;
    private boolean closed;

    /** The checkpoint folder: prefill records replay only into models of the same one. */
    private final Path source;

    private LlamaModel(Path source, LlamaConfig config, LlamaWeights weights, KvCache cache) {
        this.source = source.toAbsolutePath().normalize();
        this.config = config;
        this.weights = weights;
        this.cache = cache;
        this.rope = new Rope(config);
    }

    /** Loads {@code dir/config.json} and its safetensors weights; attention by method name ({@link Methods}). */
    public static LlamaModel load(Path dir, String method, ParisKvConfig kv) {
        return load(dir, Methods.byName(method), kv);
    }

    public static LlamaModel load(Path dir, RetrievalMethod method, ParisKvConfig kv) {
        if (method == null || kv == null) throw new IllegalArgumentException("method and KV config are required");
        LlamaConfig config = LlamaConfig.read(dir.resolve("config.json"));
        org.pariskv.ModelShape shape;
        try {
            shape = config.attentionShape();
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(dir.resolve("config.json"), "attention shape not supported by the KV cache: " + e.getMessage(), e);
        }
        LlamaWeights w = LlamaWeights.load(dir, config);
        try {
            return new LlamaModel(dir, config, w, KvCache.create(shape, kv, method));
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    public LlamaConfig config() {
        return config;
    }

    public KvCache cache() {
        return cache;
    }

    /** The mapped weights (the device forward uploads them). */
    LlamaWeights weights() {
        return weights;
    }

    /** A new empty sequence; close it to release its K/V. */
    public synchronized Session newSession() {
        ensureOpen();
        return new Session(this, cache.newSequence());
    }

    /**
     * One decode step for several sessions at once (a ragged batch): feeds {@code tokens[i]} to
     * {@code sessions.get(i)} and returns each one's next-token logits (also kept as its {@link Session#logits()}).
     */
    public synchronized float[][] decode(List<Session> sessions, int[] tokens) {
        return decode(sessions, tokens, null);
    }

    /** Sees each layer's post-RoPE rows of a decode step: q [b][Hq][D], k and v [b][Hkv][D] (to be copied, not kept). */
    @FunctionalInterface
    public interface LayerObserver {
        void rows(int layer, float[] q, float[] k, float[] v);
    }

    /** {@link #decode(List, int[])} of one session that also hands {@code observer} every layer's q, k and v (traces). */
    public synchronized float[] decodeObserved(Session session, int token, LayerObserver observer) {
        java.util.Objects.requireNonNull(observer, "observer");
        return decode(List.of(session), new int[] {token}, observer)[0];
    }

    private float[][] decode(List<Session> sessions, int[] tokens, LayerObserver observer) {
        ensureOpen();
        int b = sessions.size();
        if (b == 0) throw new IllegalArgumentException("a decode batch needs at least one session");
        if (tokens.length != b) throw new IllegalArgumentException(b + " sessions but " + tokens.length + " tokens");
        int[] seqs = new int[b], positions = new int[b];
        java.util.Set<Session> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (int i = 0; i < b; i++) {
            Session s = sessions.get(i);
            if (s.model() != this) throw new IllegalArgumentException("session " + i + " belongs to another model");
            if (!seen.add(s)) throw new IllegalArgumentException("session " + i + " appears twice in one decode batch");
            s.ensureOpen();
            checkToken(tokens[i], i);
            seqs[i] = s.seq();
            positions[i] = s.length();
        }
        float[] logits;
        try {
            logits = forward(tokens, b, positions, (l, q, k, v, out) -> {
                if (observer != null) observer.rows(l, q, k, v);
                Attended[] a = cache.layer(l).decode(seqs, q, k, v, out);
                for (int i = 0; i < b; i++) sessions.get(i).attended()[l] = a[i];
            }, true);
        } catch (RuntimeException e) {
            sessions.forEach(s -> s.fail(e));
            throw e;
        }
        float[][] out = new float[b][];
        for (int i = 0; i < b; i++) {
            out[i] = java.util.Arrays.copyOfRange(logits, i * config.vocabSize(), (i + 1) * config.vocabSize());
            sessions.get(i).advance(1, out[i]);
        }
        return out;
    }

    /** Samples each session's next token from its logits and feeds the batch (see {@link #decode(List, int[])}). */
    public int[] next(List<Session> sessions, Sampler sampler) {
        int[] t = new int[sessions.size()];
        for (int i = 0; i < t.length; i++) t[i] = sampler.sample(sessions.get(i).logits());
        decode(sessions, t);
        return t;
    }

    /** Prefill of one session in chunks; returns the logits of the last token, or of every token when {@code all}. */
    synchronized float[] prefill(Session s, int[] tokens, int chunk, boolean all) {
        return prefill(s, tokens, chunk, all, null);
    }

    /** {@link #prefill(Session, int[], int, boolean)} that also returns what it stored, to replay for other methods. */
    synchronized PrefillRecord prefillRecorded(Session s, int[] tokens, int chunk) {
        java.util.List<PrefillRecord.Chunk> chunks = new java.util.ArrayList<>();
        float[] last = prefill(s, tokens, chunk, false, chunks);
        return new PrefillRecord(source, config, tokens.clone(), java.util.List.copyOf(chunks), last.clone());
    }

    /** Stores {@code r}'s K/V into an empty session chunk by chunk, layer by layer, in the order a prefill does. */
    synchronized float[] replay(Session s, PrefillRecord r) {
        ensureOpen();
        s.ensureOpen();
        if (!r.source().equals(source) || !r.config().equals(config)) {
            throw new IllegalArgumentException("the prefill record comes from another model (" + r.source() + ", not " + source + ")");
        }
        if (s.length() != 0) throw new IllegalStateException("a prefill record replays into an empty session; this one holds " + s.length() + " tokens");
        try {
            for (PrefillRecord.Chunk c : r.chunks()) {
                for (int l = 0; l < config.layers(); l++) cache.layer(l).prefill(s.seq(), c.keys()[l], c.values()[l], c.n());
                s.advance(c.n(), r.logits());
            }
        } catch (RuntimeException e) {
            s.fail(e);
            throw e;
        }
        return r.logits();
    }

    private float[] prefill(Session s, int[] tokens, int chunk, boolean all, java.util.List<PrefillRecord.Chunk> record) {
        ensureOpen();
        s.ensureOpen();
        if (tokens.length == 0) throw new IllegalArgumentException("prefill needs at least one token");
        if (chunk <= 0) throw new IllegalArgumentException("prefill chunk must be positive, got " + chunk);
        for (int i = 0; i < tokens.length; i++) checkToken(tokens[i], i);
        int vocab = config.vocabSize();
        float[] allLogits = all ? new float[Math.multiplyExact(tokens.length, vocab)] : null;
        float[] last = null;
        for (int from = 0; from < tokens.length; from += chunk) {
            int n = Math.min(chunk, tokens.length - from);
            int start = s.length();
            int[] positions = IntStream.range(start, start + n).toArray();
            int[] ids = java.util.Arrays.copyOfRange(tokens, from, from + n);
            float[] logits;
            try {
                float[][] keys = record == null ? null : new float[config.layers()][], values = record == null ? null : new float[config.layers()][];
                logits = forward(ids, n, positions, (l, q, k, v, out) -> {
                    if (record != null) { // forward reuses k and v across layers
                        keys[l] = k.clone();
                        values[l] = v.clone();
                    }
                    causalAttention(l, s.seq(), start, n, q, k, v, out);
                }, all);
                if (record != null) record.add(new PrefillRecord.Chunk(n, keys, values));
            } catch (RuntimeException e) {
                s.fail(e);
                throw e;
            }
            if (all) System.arraycopy(logits, 0, allLogits, from * vocab, n * vocab);
            last = all ? java.util.Arrays.copyOfRange(logits, (n - 1) * vocab, n * vocab) : logits;
            s.advance(n, last);
        }
        return all ? allLogits : last;
    }

    /** What one layer's attention does with the rows' post-RoPE q [n][Hq][D], k and v [n][Hkv][D]. */
    private interface Attention {
        void attend(int layer, float[] q, float[] k, float[] v, float[] out);
    }

    /**
     * The forward pass over {@code n} rows: token {@code tokens[t]} at position {@code positions[t]}. Returns the
     * logits {@code [n][vocab]}, or of the last row only unless {@code allLogits}.
     */
    private float[] forward(int[] tokens, int n, int[] positions, Attention attention, boolean allLogits) {
        LlamaConfig c = config;
        int dim = c.hiddenSize(), hd = c.headDim(), qRow = c.heads() * hd, kvRow = c.kvHeads() * hd, ff = c.intermediateSize();
        float eps = (float) c.rmsNormEps();
        float[] x = new float[n * dim], xb = new float[n * dim], tmp = new float[n * dim];
        float[] q = new float[n * qRow], k = new float[n * kvRow], v = new float[n * kvRow], att = new float[n * qRow];
        float[] h1 = new float[n * ff], h3 = new float[n * ff];
        for (int t = 0; t < n; t++) weights.embedding.row(tokens[t], x, t * dim);
        for (int l = 0; l < c.layers(); l++) {
            LlamaWeights.Layer w = weights.layers[l];
            // attention block
            rmsnorm(xb, x, w.attnNorm(), n, dim, eps);
            Matrix.matmul(xb, n, new Matrix[] {w.wq(), w.wk(), w.wv()}, new float[][] {q, k, v});
            if (c.qkNorm()) { // Qwen3: RMSNorm over each head before RoPE
                rmsnorm(q, q, w.qNorm(), n * c.heads(), hd, eps);
                rmsnorm(k, k, w.kNorm(), n * c.kvHeads(), hd, eps);
            }
            for (int t = 0; t < n; t++) {
                rope.rotate(q, t * qRow, c.heads(), positions[t]);
                rope.rotate(k, t * kvRow, c.kvHeads(), positions[t]);
            }
            attention.attend(l, q, k, v, att);
            w.wo().matmul(att, n, tmp);
            for (int i = 0; i < n * dim; i++) x[i] += tmp[i];
            // feed-forward block (SwiGLU)
            rmsnorm(xb, x, w.ffnNorm(), n, dim, eps);
            Matrix.matmul(xb, n, new Matrix[] {w.gate(), w.up()}, new float[][] {h1, h3});
            for (int i = 0; i < n * ff; i++) h1[i] = silu(h1[i]) * h3[i];
            w.down().matmul(h1, n, tmp);
            for (int i = 0; i < n * dim; i++) x[i] += tmp[i];
        }
        int from = allLogits ? 0 : n - 1, rows = n - from;
        float[] last = new float[rows * dim];
        rmsnorm(last, java.util.Arrays.copyOfRange(x, from * dim, n * dim), weights.finalNorm, rows, dim, eps);
        float[] logits = new float[rows * c.vocabSize()];
        weights.lmHead.matmul(last, rows, logits);
        return logits;
    }

    /**
     * Full causal attention of a prefill chunk of sequence {@code seq} at positions {@code start..start+n}: the chunk's
     * K/V are stored (and indexed) first, then each query attends positions {@code 0..itself} from the cache's rows,
     * the same bf16 rows a decode step reads, with the arithmetic of decode's attention up to exp's last bit
     * ({@link CausalAttention}), so prefill and decode agree.
     */
    private void causalAttention(int layer, int seq, int start, int n, float[] q, float[] k, float[] v, float[] out) {
        LayerCache lc = cache.layer(layer);
        lc.prefill(seq, k, v, n);
        int g = config.groupSize(), qRow = config.heads() * config.headDim();
        IntStream.range(0, config.kvHeads()).parallel().forEach(h -> {
            ZoneView rows = lc.zone(seq, h);
            CausalAttention.attend(rows.keys(), rows.values(), q, out, start, n, h * g, g, qRow);
        });
    }

    /** {@code out[r] = weight * x[r] / rms(x[r])} for {@code rows} rows of {@code size}; may run in place. */
    static void rmsnorm(float[] out, float[] x, float[] weight, int rows, int size, float eps) {
        for (int r = 0; r < rows; r++) {
            int o = r * size;
            double ss = 0;
            for (int i = 0; i < size; i++) ss += (double) x[o + i] * x[o + i];
            float inv = (float) (1.0 / Math.sqrt((float) (ss / size) + eps));
            for (int i = 0; i < size; i++) out[o + i] = weight[i] * (x[o + i] * inv);
        }
    }

    static float silu(float x) {
        return (float) (x / (1.0 + Math.exp(-x)));
    }

    private void checkToken(int token, int index) {
        if (token < 0 || token >= config.vocabSize()) {
            throw new IllegalArgumentException("token " + index + " = " + token + " is outside the vocabulary [0, " + config.vocabSize() + ")");
        }
    }

    void release(Session s) {
        synchronized (this) {
            if (!closed) cache.removeSequence(s.seq());
        }
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("model is closed");
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        cache.close();
        weights.close();
    }
}
