package org.pariskv.model;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.cache.KvCache;
import org.pariskv.compute.Backend;
import org.pariskv.compute.BackendKind;
import org.pariskv.compute.DeviceBuffer;
import org.pariskv.compute.Grid;
import org.pariskv.compute.graph.ExecutionPlan;
import org.pariskv.compute.graph.ProfilerMode;
import org.pariskv.compute.graph.TaskGraph;
import org.pariskv.device.DeviceDecoder;
import org.pariskv.method.Methods;
import org.pariskv.model.device.ModelKernels;

/**
 * Decode steps of a {@link LlamaModel} checkpoint on a compute backend: the weights are uploaded once as bf16
 * {@link DeviceBuffer}s, and every layer's norms, matrix-vector products, RoPE and SwiGLU are {@link ModelKernels}
 * tasks in TaskGraphs that run between two attentions: graph {@code l} is layer {@code l-1}'s MLP half (or the
 * token's embedding) and layer {@code l}'s q/k/v projections, norms and RoPE; the last ends with the final norm and
 * LM head ({@code layers + 1} graphs a step). Attention in between is one {@link DeviceDecoder} per layer on
 * OpenCL/CUDA (on the java backend, a {@link KvCache} layer): {@code dense} picks exact full attention, else ParisKV.
 *
 * <p>On OpenCL and CUDA a token step never waits between layers: each layer's decoder reads q, k, v from the
 * model's buffers ({@link DeviceDecoder#bindInputs}) and the next graph reads the decoder's output buffer, so the host
 * only uploads each decoder's plan rows (a few hundred bytes, asynchronously) and waits once, for the logits. On
 * CUDA each graph is recorded ({@link ExecutionPlan#withCudaGraph}): 2 graph launches a layer, not one for the token.
 * Prefill runs on the CPU model (full causal attention, chunked) and hands each layer's post-RoPE K/V to that layer's
 * decoder, which builds its index; a {@link #random} model (a real shape, weights generated on the device, for speed
 * runs) takes K/V rows from the caller instead ({@link #prefillKv}). A fixed batch of sequences that decode together,
 * each at its own length (ragged, as DeviceDecoder); not thread-safe.
 *
 * <p><b>Fused launches.</b> Where the hidden size allows gemv ({@code % 8 == 0}) the attention inputs are one
 * {@link ModelKernels#gemvQkv} over q|k|v stacked by rows, with RoPE in its epilogue (Qwen3 rotates after its head
 * norms, so there it projects only), and the MLP's gate and up are one {@link ModelKernels#gemvSwiglu} over their
 * rows interleaved at upload: 2 launches a layer where there were 7 (gemv x3, ropeQk; gemv x2, swiglu), the same
 * bits.
 * {@code -Dpariskv.fuse=false} keeps those separate launches (and separate q/k/v, gate/up buffers), to compare them.
 */
public final class DeviceLlama implements AutoCloseable {

    private static final int LINEAR = 64;
    /** The matrix-vector kernel: {@code gemv}, or {@code gemvRounds} ({@code -Dpariskv.gemv}) to compare them. */
    static final String GEMV = System.getProperty("pariskv.gemv", "gemv");
    /** Fused q|k|v + RoPE and gate|up + SwiGLU launches, unless {@code -Dpariskv.fuse=false} (see the class comment). */
    static final boolean FUSE = Boolean.parseBoolean(System.getProperty("pariskv.fuse", "true"));

    private final Backend backend;
    private final LlamaModel cpu; // null for random weights
    private final LlamaConfig c;
    private final Attention attention;
    private final List<DeviceBuffer> owned = new ArrayList<>();
    private final List<DeviceBuffer> slices = new ArrayList<>(); // views of owned buffers, closed first
    private final List<ExecutionPlan> plans = new ArrayList<>();
    private final ExecutionPlan[] steps;
    private final DeviceBuffer tokens, positions, qkv, q, k, v, att, logits, flags;
    private final DeviceDecoder[] decoders; // bound to q, k, v (OpenCL/CUDA); null on the java backend
    private final int[] flagsHost;
    private String failure; // a non-finite attention input seen: later steps are refused
    private long lastEnqueueNanos = -1; // the last step's host time until it waits for the logits
    private final long kOffset, vOffset;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment stepSeg, qkvSeg, attSeg, logitsSeg;
    private final float[] qh, kh, vh, outh;
    private final int batch, capacity;
    private final long seed;
    private final boolean dense;
    private int randomWeights; // random matrices generated so far (each its own seed)
    private final int[] lengths;
    private final float[][] last;
    private boolean closed;

    /** What a layer's attention does with the post-RoPE rows of one token (the decoder, or the CPU cache). */
    private interface Attention extends AutoCloseable {
        void prefill(int layer, int seq, float[] k, float[] v, int n);

        void decode(int layer, float[] q, float[] k, float[] v, float[] out);

        @Override
        void close();
    }

    private DeviceLlama(Backend backend, LlamaModel cpu, LlamaConfig config, long seed, ParisKvConfig kv, boolean dense, int batch, int capacity,
                        boolean cudaGraph, boolean fuse) {
        if (batch <= 0) throw new IllegalArgumentException("batch must be positive, got " + batch);
        if (capacity <= 0) throw new IllegalArgumentException("capacity must be positive, got " + capacity);
        this.backend = backend;
        this.batch = batch;
        this.capacity = capacity;
        this.lengths = new int[batch];
        this.last = new float[batch][];
        int n = batch;
        this.dense = dense;
        this.cpu = cpu;
        this.c = cpu != null ? cpu.config() : config;
        this.seed = seed;
        LlamaWeights w = cpu != null ? cpu.weights() : null;
        int dim = c.hiddenSize(), hd = c.headDim(), qRow = c.heads() * hd, kvRow = c.kvHeads() * hd, ff = c.intermediateSize(), vocab = c.vocabSize();
        float eps = (float) c.rmsNormEps();
        try {
            // weights, once
            DeviceBuffer embedding = w != null ? upload(w.embedding) : random(vocab, dim, 1f);
            DeviceBuffer lmHead = w == null ? random(vocab, dim, (float) Math.sqrt(3.0 / dim))
                    : w.lmHead == w.embedding ? embedding : upload(w.lmHead);
            DeviceBuffer finalNorm = w != null ? upload(w.finalNorm) : ones(dim);
            DeviceBuffer invFreq = upload(new Rope(c).inverseFrequencies());
            // activations of one token
            // activations of one token per sequence, [batch][size]
            tokens = allocate(4L * n);
            positions = allocate(4L * n);
            DeviceBuffer x = allocate(4L * n * dim), xb = allocate(4L * n * dim), tmp = allocate(4L * n * dim);
            // q, k, v as slices of one buffer: the host reads them back in one copy per layer
            long align = backend.sliceAlignment();
            kOffset = roundUp(4L * n * qRow, align);
            vOffset = kOffset + roundUp(4L * n * kvRow, align);
            qkv = allocate(vOffset + 4L * n * kvRow);
            // k/v alone are small matrices (1024 rows at 8B: too few warps); with q beside them one launch feeds the
            // GPU, and each launch saved is ~10 µs on an H200
            boolean fused = fuse && dim % 8 == 0;
            q = slice(qkv, 0, 4L * n * qRow);
            k = slice(qkv, kOffset, 4L * n * kvRow);
            v = slice(qkv, vOffset, 4L * n * kvRow);
            int layers = c.layers();
            boolean device = backend.device().backend() != BackendKind.JAVA;
            flags = allocate(4L * layers);
            flagsHost = new int[layers];
            decoders = device ? decoders(c.attentionShape(), kv, n, capacity, cudaGraph) : null;
            att = device ? null : allocate(4L * n * qRow); // on a device each layer reads its decoder's output
            DeviceBuffer h1 = allocate(4L * n * ff), h3 = fused ? null : allocate(4L * n * ff);
            logits = allocate(4L * n * vocab);
            // graph l: the MLP half of layer l-1 (or the embedding), then the attention inputs of layer l; graph
            // `layers` ends with the final norm and LM head. The host attends between graph l and l+1.
            steps = new ExecutionPlan[layers + 1];
            TaskGraph g = new TaskGraph("embedding.layer0").source(ModelKernels.class)
                    .task("embedding", Grid.linear((long) n * dim, LINEAR), embedding, tokens, x, n, dim);
            Grid norm = Grid.groups(n, ModelKernels.normGroup(dim));
            for (int l = 0; l <= layers; l++) {
                if (l > 0) { // layer l-1's output projection and MLP, each with its residual; the add fused into the next norm
                    LlamaWeights.Layer lw = w == null ? null : w.layers[l - 1];
                    matvec(g, weight(lw == null ? null : lw.wo(), dim, qRow), decoders != null ? decoders[l - 1].output() : att, tmp, n, dim, qRow);
                    g.task("addRmsnorm", norm, x, tmp, xb, vector(lw == null ? null : lw.ffnNorm(), dim), dim, eps);
                    if (fused) {
                        DeviceBuffer gateUp = interleaved(lw == null ? null : lw.gate(), lw == null ? null : lw.up(), ff, dim);
                        g.task("gemvSwiglu", ModelKernels.gemvPairGrid(n, 2 * ff, dim), gateUp, xb, h1, n, ff, dim, ModelKernels.gemvPairRowsPerWarp(n, dim));
                    } else {
                        matvec(g, weight(lw == null ? null : lw.gate(), ff, dim), xb, h1, n, ff, dim);
                        matvec(g, weight(lw == null ? null : lw.up(), ff, dim), xb, h3, n, ff, dim);
                        g.task("swiglu", Grid.linear((long) n * ff, LINEAR), h1, h3, n * ff);
                    }
                    matvec(g, weight(lw == null ? null : lw.down(), dim, ff), h1, tmp, n, dim, ff);
                }
                DeviceBuffer nextNorm = l < layers ? vector(w == null ? null : w.layers[l].attnNorm(), dim) : finalNorm;
                if (l > 0) g.task("addRmsnorm", norm, x, tmp, xb, nextNorm, dim, eps);
                else g.task("rmsnorm", norm, xb, x, nextNorm, dim, eps);
                if (l < layers) {
                    LlamaWeights.Layer lw = w == null ? null : w.layers[l];
                    if (fused) { // q|k|v stacked: one launch of qRow + 2 kvRow rows, RoPE in it unless the heads are normed first
                        DeviceBuffer wqkv = stacked(lw == null ? null : new Matrix[] {lw.wq(), lw.wk(), lw.wv()}, new int[] {qRow, kvRow, kvRow}, dim);
                        g.task("gemvQkv", ModelKernels.gemvPairGrid(n, qRow + 2 * kvRow, dim), wqkv, xb, q, k, v, invFreq, positions, n, qRow, kvRow,
                                hd, dim, ModelKernels.gemvPairRowsPerWarp(n, dim), !c.qkNorm());
                    } else {
                        matvec(g, weight(lw == null ? null : lw.wq(), qRow, dim), xb, q, n, qRow, dim);
                        matvec(g, weight(lw == null ? null : lw.wk(), kvRow, dim), xb, k, n, kvRow, dim);
                        matvec(g, weight(lw == null ? null : lw.wv(), kvRow, dim), xb, v, n, kvRow, dim);
                    }
                    if (c.qkNorm()) { // Qwen3: RMSNorm over each head before RoPE
                        Grid heads = Grid.groups((long) n * c.heads(), ModelKernels.normGroup(hd)), kvHeads = Grid.groups((long) n * c.kvHeads(), ModelKernels.normGroup(hd));
                        g.task("rmsnorm", heads, q, q, vector(lw == null ? null : lw.qNorm(), hd), hd, eps)
                                .task("rmsnorm", kvHeads, k, k, vector(lw == null ? null : lw.kNorm(), hd), hd, eps);
                    }
                    if (!fused || c.qkNorm()) {
                        g.task("ropeQk", Grid.linear((long) n * (qRow + kvRow) / 2, LINEAR), q, k, invFreq, positions, n, c.heads(), c.kvHeads(), hd);
                    }
                } else {
                    matvec(g, lmHead, xb, logits, n, vocab, dim);
                }
                steps[l] = plan(g, cudaGraph);
                g = new TaskGraph("layer" + l + ".mlp.layer" + (l + 1)).source(ModelKernels.class);
            }
            stepSeg = arena.allocate(8L * n, 64);
            qkvSeg = arena.allocate(qkv.bytes(), 64);
            attSeg = arena.allocate(4L * n * qRow, 64);
            logitsSeg = arena.allocate(4L * n * vocab, 64);
            qh = new float[n * qRow];
            kh = new float[n * kvRow];
            vh = new float[n * kvRow];
            outh = new float[n * qRow];
            attention = device ? deviceAttention(decoders) : cacheAttention(c.attentionShape(), kv, dense, n);
        } catch (RuntimeException | Error e) {
            release();
            throw e;
        }
    }

    /**
     * Loads {@code dir} (bf16 matrices) for one sequence and uploads its weights to {@code backend}.
     *
     * @param dense     exact full attention in every layer, else ParisKV (dense below {@link ParisKvConfig#denseBelow()})
     * @param capacity  tokens the sequence may reach (prompt + generated), for the decoders' buffers
     * @param cudaGraph record each graph as a CUDA graph (CUDA only; elsewhere it says so once)
     */
    public static DeviceLlama load(Path dir, Backend backend, ParisKvConfig kv, boolean dense, int capacity, boolean cudaGraph) {
        return load(dir, backend, kv, dense, 1, capacity, cudaGraph);
    }

    /** {@link #load(Path, Backend, ParisKvConfig, boolean, int, boolean)} for {@code batch} sequences decoded together. */
    public static DeviceLlama load(Path dir, Backend backend, ParisKvConfig kv, boolean dense, int batch, int capacity, boolean cudaGraph) {
        return load(dir, backend, kv, dense, batch, capacity, cudaGraph, FUSE);
    }

    /** {@link #load(Path, Backend, ParisKvConfig, boolean, int, int, boolean)} with the fused launches on or off (tests compare them). */
    static DeviceLlama load(Path dir, Backend backend, ParisKvConfig kv, boolean dense, int batch, int capacity, boolean cudaGraph, boolean fuse) {
        LlamaModel cpu = LlamaModel.load(dir, "full", kv); // prefill: full causal attention whatever the method
        try {
            return new DeviceLlama(backend, cpu, null, 0, kv, dense, batch, capacity, cudaGraph, fuse);
        } catch (RuntimeException | Error e) {
            cpu.close();
            throw e;
        }
    }

    /**
     * A model of {@code config}'s shape whose weights are generated on the device from {@code seed} (uniform, scaled
     * so activations keep their size; norms are ones): a real model's speed without its checkpoint. Its tokens mean
     * nothing; it has no CPU twin, so it is prefilled with K/V rows ({@link #prefillKv}).
     */
    public static DeviceLlama random(LlamaConfig config, long seed, Backend backend, ParisKvConfig kv, boolean dense, int batch, int capacity,
                                     boolean cudaGraph) {
        return random(config, seed, backend, kv, dense, batch, capacity, cudaGraph, FUSE);
    }

    /** {@link #random(LlamaConfig, long, Backend, ParisKvConfig, boolean, int, int, boolean)} with the fused launches on or off. */
    static DeviceLlama random(LlamaConfig config, long seed, Backend backend, ParisKvConfig kv, boolean dense, int batch, int capacity,
                              boolean cudaGraph, boolean fuse) {
        return new DeviceLlama(backend, null, config, seed, kv, dense, batch, capacity, cudaGraph, fuse);
    }

    /** Post-RoPE K/V rows of one layer for a prefill: {@code [tokens][Hkv][D]} keys and values, f32. */
    @FunctionalInterface
    public interface LayerRows {
        /** Rows {@code from .. from + n} of layer {@code layer}: {@code {keys, values}}. */
        float[][] rows(int layer, int from, int n);
    }

    /**
     * Stores {@code tokens} K/V rows into the empty sequence {@code seq} of every layer (each decoder builds its
     * index), {@code chunk} tokens at a time; the sequence then decodes from position {@code tokens}. The logits stay
     * unknown until the first decode step. {@code progress} (may be null) hears each finished layer.
     */
    public void prefillKv(int seq, LayerRows rows, int tokens, int chunk, java.util.function.IntConsumer progress) {
        ensureOpen();
        checkPrefill(seq, tokens);
        if (chunk <= 0) throw new IllegalArgumentException("chunk must be positive, got " + chunk);
        int row = c.kvHeads() * c.headDim();
        for (int l = 0; l < c.layers(); l++) {
            for (int done = 0; done < tokens; done += chunk) {
                int n = Math.min(chunk, tokens - done);
                float[][] kv = rows.rows(l, done, n);
                if (kv == null || kv.length != 2 || kv[0].length != n * row || kv[1].length != n * row) {
                    throw new IllegalArgumentException("layer " + l + " rows " + done + ".." + (done + n) + ": expected {keys, values} of "
                            + n + " x " + c.kvHeads() + " x " + c.headDim() + " floats each");
                }
                attention.prefill(l, seq, kv[0], kv[1], n);
            }
            if (progress != null) progress.accept(l);
        }
        lengths[seq] = tokens;
        last[seq] = null;
    }

    public LlamaConfig config() {
        return c;
    }

    public int batch() {
        return batch;
    }

    /** Tokens sequence 0 holds. */
    public int length() {
        return length(0);
    }

    /** Tokens sequence {@code seq} holds. */
    public int length(int seq) {
        checkSeq(seq);
        return lengths[seq];
    }

    /** Sequence 0's next-token logits after the last token fed (null before any). */
    public float[] logits() {
        return last[0] == null ? null : last[0].clone();
    }

    /** Prefills sequence 0 (see {@link #prefill(int, int[])}). */
    public float[] prefill(int[] prompt) {
        return prefill(0, prompt);
    }

    /** Prefills the empty sequence {@code seq} on the CPU model and hands its K/V to the layers; returns the last logits. */
    public float[] prefill(int seq, int[] prompt) {
        ensureOpen();
        if (cpu == null) throw new IllegalStateException("a model with random weights has no CPU twin to prefill a prompt: use prefillKv");
        checkPrefill(seq, prompt.length);
        try (Session s = cpu.newSession()) {
            return prefill(seq, s.prefillRecorded(prompt));
        }
    }

    /** Prefills sequence 0 from a record (see {@link #prefill(int, PrefillRecord)}). */
    public float[] prefill(PrefillRecord r) {
        return prefill(0, r);
    }

    /** Stores a prefill record of the same checkpoint into sequence {@code seq} of every layer (each builds its index). */
    public float[] prefill(int seq, PrefillRecord r) {
        ensureOpen();
        if (cpu == null) throw new IllegalStateException("a prefill record comes from a checkpoint; this model has random weights");
        if (!r.config().equals(c)) throw new IllegalArgumentException("the prefill record comes from another model");
        checkPrefill(seq, r.tokens().length);
        for (PrefillRecord.Chunk ch : r.chunks()) {
            for (int l = 0; l < c.layers(); l++) attention.prefill(l, seq, ch.keys()[l], ch.values()[l], ch.n());
            lengths[seq] += ch.n();
        }
        last[seq] = r.logits().clone();
        return last[seq].clone();
    }

    /** One decode step of a one-sequence model: feeds {@code token} and returns the next-token logits. */
    public float[] decode(int token) {
        if (batch != 1) throw new IllegalStateException("a batch of " + batch + " sequences decodes with decode(int[])");
        return decode(new int[] {token})[0];
    }

    /**
     * One decode step of every sequence (a ragged batch: each at its own length): feeds {@code tokens[b]} to sequence
     * {@code b} and returns each one's next-token logits. Checked before anything runs.
     */
    public float[][] decode(int[] tokens) {
        return decode(tokens, dense);
    }

    /**
     * {@link #decode(int[])} with this step's attention chosen: {@code dense} exact full attention, else ParisKV (a
     * bench alternates them over the same caches). On the java backend the attention is fixed when the model loads.
     */
    public float[][] decode(int[] tokens, boolean dense) {
        ensureOpen();
        long start = System.nanoTime();
        if (decoders == null && dense != this.dense) {
            throw new IllegalArgumentException("on the java backend the attention method is fixed at load (" + (this.dense ? "full" : "pariskv") + ")");
        }
        if (tokens.length != batch) throw new IllegalArgumentException(batch + " sequences but " + tokens.length + " tokens");
        for (int b = 0; b < batch; b++) {
            if (tokens[b] < 0 || tokens[b] >= c.vocabSize()) {
                throw new IllegalArgumentException("token " + b + " = " + tokens[b] + " is outside the vocabulary [0, " + c.vocabSize() + ")");
            }
            if (lengths[b] + 1 > capacity) throw new IllegalArgumentException("sequence " + b + " is full (capacity " + capacity + " tokens)");
        }
        for (int b = 0; b < batch; b++) {
            stepSeg.setAtIndex(ValueLayout.JAVA_INT, b, tokens[b]);
            stepSeg.setAtIndex(ValueLayout.JAVA_INT, batch + b, lengths[b]); // the position of the new token
        }
        backend.copyIn(this.tokens, stepSeg.asSlice(0, 4L * batch));
        backend.copyIn(positions, stepSeg.asSlice(4L * batch, 4L * batch));
        if (decoders != null) {
            backend.zero(flags, 0, flags.bytes());
            steps[0].execute();
            for (int l = 0; l < c.layers(); l++) { // enqueued: the host never waits inside the token
                decoders[l].decodeBound(dense);
                steps[l + 1].execute();
            }
        } else {
            steps[0].execute();
            for (int l = 0; l < c.layers(); l++) {
                backend.copyOut(qkvSeg, qkv); // blocking: waits for the layer's tasks
                MemorySegment.copy(qkvSeg, ValueLayout.JAVA_FLOAT, 0, qh, 0, qh.length);
                MemorySegment.copy(qkvSeg, ValueLayout.JAVA_FLOAT, kOffset, kh, 0, kh.length);
                MemorySegment.copy(qkvSeg, ValueLayout.JAVA_FLOAT, vOffset, vh, 0, vh.length);
                attention.decode(l, qh, kh, vh, outh);
                MemorySegment.copy(outh, 0, attSeg, ValueLayout.JAVA_FLOAT, 0, outh.length);
                backend.copyIn(att, attSeg);
                steps[l + 1].execute();
            }
        }
        lastEnqueueNanos = System.nanoTime() - start;
        backend.copyOut(logitsSeg, logits);
        for (int b = 0; b < batch; b++) lengths[b]++;
        if (decoders != null) checkFlags();
        float[][] out = new float[batch][];
        int vocab = c.vocabSize();
        for (int b = 0; b < batch; b++) {
            last[b] = logitsSeg.asSlice(4L * b * vocab, 4L * vocab).toArray(ValueLayout.JAVA_FLOAT);
            out[b] = last[b].clone();
        }
        return out;
    }

    /**
     * The device time of one token step without attention: the same graphs, back to back, no decoder between them,
     * waited for (what {@code bench --model} reports as the weights' and the rest's share). Changes no state the next
     * step reads; the activations it leaves are overwritten by the next step.
     */
    public double nonAttentionMillis(int repeats) {
        ensureOpen();
        if (repeats <= 0) throw new IllegalArgumentException("repeats must be positive");
        backend.finish();
        long t0 = System.nanoTime();
        for (int r = 0; r < repeats; r++) for (ExecutionPlan p : steps) p.execute();
        backend.finish();
        return (System.nanoTime() - t0) / 1e6 / repeats;
    }

    /**
     * The host's time in the last {@link #decode} until it waited for the logits (uploads, plan rows, launches): when
     * it is close to the whole step, the host, not the device, sets the pace.
     */
    public long lastEnqueueNanos() {
        return lastEnqueueNanos;
    }

    /**
     * Each task of one step without attention, timed on the device ({@link ProfilerMode#SILENT}: launch by launch, no
     * CUDA graphs), in launch order; for a per-kernel view of {@link #nonAttentionMillis}.
     */
    public java.util.List<org.pariskv.compute.graph.TaskProfile> profileNonAttention() {
        ensureOpen();
        java.util.List<org.pariskv.compute.graph.TaskProfile> all = new ArrayList<>();
        for (ExecutionPlan p : steps) {
            p.withProfiler(ProfilerMode.SILENT);
            try {
                all.addAll(p.execute().tasks());
            } finally {
                p.withProfiler(ProfilerMode.OFF);
            }
        }
        return all;
    }

    /**
     * One decode step of every sequence ({@link #decode(int[], boolean)}) with each layer's decoder timed task by task
     * on the device (launch by launch, no CUDA graphs): device µs of each decoder task summed over the layers, and
     * its launches. A real step: the sequences advance by one token. Not on the java backend (no decoder there).
     */
    public Map<String, double[]> profileAttention(int[] tokens, boolean dense) {
        ensureOpen();
        if (decoders == null) throw new IllegalStateException("on the java backend attention runs in a CPU KvCache: no decoder tasks to time");
        for (DeviceDecoder d : decoders) d.profile(true);
        Map<String, double[]> out = new java.util.LinkedHashMap<>();
        try {
            decode(tokens, dense);
            for (DeviceDecoder d : decoders) {
                d.profileNanos().forEach((task, v) -> {
                    double[] acc = out.computeIfAbsent(task, x -> new double[2]);
                    acc[0] += v[0] / 1e3;
                    acc[1] += v[1];
                });
            }
        } finally {
            for (DeviceDecoder d : decoders) d.profile(false);
        }
        return out;
    }

    /** A non-finite attention input of this step (recorded by each decoder's first kernel) fails the model from now on. */
    private void checkFlags() {
        MemorySegment f = arena.allocate(flags.bytes(), 4);
        backend.copyOut(f, flags);
        for (int l = 0; l < c.layers(); l++) {
            int code = f.getAtIndex(ValueLayout.JAVA_INT, l);
            if (code == 0) continue;
            int kind = code >>> 28, element = (code & 0x0fffffff) - 1;
            int heads = kind == 0 ? c.heads() : c.kvHeads(), hd = c.headDim();
            int seq = element / (heads * hd), head = element / hd % heads;
            failure = "non-finite " + (kind == 0 ? "query" : kind == 1 ? "key" : "value") + " at layer " + l + ", sequence " + seq
                    + ", " + (kind == 0 ? "query" : "kv") + " head " + head + ", position " + (lengths[seq] - 1)
                    + " (the weights or the activations overflowed); this model refuses further steps";
            throw new IllegalStateException(failure);
        }
    }

    private void checkSeq(int seq) {
        if (seq < 0 || seq >= batch) throw new IllegalArgumentException("sequence " + seq + " out of range [0, " + batch + ")");
    }

    private void checkPrefill(int seq, int tokens) {
        checkSeq(seq);
        if (lengths[seq] != 0) throw new IllegalStateException("prefill needs an empty sequence; sequence " + seq + " holds " + lengths[seq] + " tokens");
        if (tokens == 0) throw new IllegalArgumentException("prefill needs at least one token");
        if (tokens > capacity) throw new IllegalArgumentException("a prompt of " + tokens + " tokens exceeds the capacity of " + capacity);
    }

    private ExecutionPlan plan(TaskGraph g, boolean cudaGraph) {
        ExecutionPlan p = new ExecutionPlan(g.snapshot()).withBackend(backend).withProfiler(ProfilerMode.OFF).withCudaGraph(cudaGraph);
        plans.add(p);
        return p;
    }

    /**
     * {@code out = W · in}: {@link ModelKernels#gemv} (a warp a row, 16-byte loads, each weight read once for the
     * batch) where the row length allows, else {@link ModelKernels#matvec4} or {@link ModelKernels#matvec}.
     */
    private static void matvec(TaskGraph g, DeviceBuffer w, DeviceBuffer in, DeviceBuffer out, int n, int rows, int cols) {
        if (cols % 8 == 0) {
            g.task(GEMV, ModelKernels.gemvGrid(n, rows, cols), w, in, out, n, rows, cols, ModelKernels.gemvRowsPerWarp(n, cols));
        } else {
            g.task(cols % 4 == 0 ? "matvec4" : "matvec", Grid.groups((long) n * rows, ModelKernels.GROUP), w, in, out, rows, cols);
        }
    }

    private DeviceBuffer allocate(long bytes) {
        DeviceBuffer b = backend.allocate(bytes);
        owned.add(b);
        return b;
    }

    private DeviceBuffer slice(DeviceBuffer parent, long offset, long bytes) {
        DeviceBuffer b = backend.slice(parent, offset, bytes);
        slices.add(b);
        return b;
    }

    private static long roundUp(long n, long to) {
        return (n + to - 1) / to * to;
    }

    /** The checkpoint's matrix, or (random weights) a {@code rows x cols} one generated on the device. */
    private DeviceBuffer weight(Matrix m, int rows, int cols) {
        return m != null ? upload(m) : random(rows, cols, (float) Math.sqrt(3.0 / cols));
    }

    /** The checkpoint's vector, or (random weights) ones. */
    private DeviceBuffer vector(float[] v, int n) {
        return v != null ? upload(v) : ones(n);
    }

    /**
     * Matrices of {@code cols} columns stacked row-wise in one buffer (the checkpoint's, or one random matrix of all
     * their rows), for one launch over all their rows.
     */
    private DeviceBuffer stacked(Matrix[] ms, int[] rows, int cols) {
        long total = 0;
        for (int r : rows) total += 2L * r * cols;
        DeviceBuffer b = allocate(total);
        if (ms == null) { // one random matrix of all the rows: the same scale, since the columns are the same
            fillRandom(b, total / 2, (float) Math.sqrt(3.0 / cols));
            return b;
        }
        long at = 0;
        for (int i = 0; i < rows.length; i++) {
            if (!ms[i].bf16()) throw new IllegalArgumentException("the device forward reads bf16 matrices; " + ms[i].name() + " is stored as f32 (or f16)");
            backend.copyIn(b, at, ms[i].data());
            at += 2L * rows[i] * cols;
        }
        return b;
    }

    /**
     * {@link ModelKernels#gemvSwiglu}'s weights: gate and up ({@code rows x cols} each) interleaved by rows, gate row
     * {@code r} at {@code 2r} and up row {@code r} at {@code 2r + 1}, built on the host once and uploaded in one copy
     * (random weights: one random matrix of {@code 2 rows}, the same scale).
     */
    private DeviceBuffer interleaved(Matrix gate, Matrix up, int rows, int cols) {
        if (gate == null) return random(2 * rows, cols, (float) Math.sqrt(3.0 / cols));
        long row = 2L * cols, bytes = 2 * row * rows;
        for (Matrix m : new Matrix[] {gate, up}) {
            if (!m.bf16()) throw new IllegalArgumentException("the device forward reads bf16 matrices; " + m.name() + " is stored as f32 (or f16)");
            if (m.data().byteSize() != row * rows) throw new IllegalArgumentException(m.name() + " is not " + rows + " x " + cols);
        }
        DeviceBuffer b = allocate(bytes);
        try (Arena host = Arena.ofConfined()) {
            MemorySegment both = host.allocate(bytes, 64);
            for (long r = 0; r < rows; r++) {
                MemorySegment.copy(gate.data(), r * row, both, 2 * r * row, row);
                MemorySegment.copy(up.data(), r * row, both, (2 * r + 1) * row, row);
            }
            backend.copyIn(b, both); // blocking: the arena may close after it
        }
        return b;
    }

    /** {@code rows x cols} bf16 uniform in [-scale, scale) from this model's seed and the matrix's ordinal. */
    private DeviceBuffer random(int rows, int cols, float scale) {
        long n = (long) rows * cols;
        DeviceBuffer b = allocate(2 * n);
        fillRandom(b, n, scale);
        return b;
    }

    private void fillRandom(DeviceBuffer b, long n, float scale) {
        int s = (int) (seed * 0x9E3779B97F4A7C15L >>> 32) + 7919 * randomWeights++;
        TaskGraph g = new TaskGraph("random").source(ModelKernels.class).task("randomBf16", Grid.linear(Math.min(n, 1L << 22), 256), b, n, s, scale);
        try (ExecutionPlan p = new ExecutionPlan(g.snapshot()).withBackend(backend).withProfiler(ProfilerMode.OFF)) {
            p.execute();
        }
    }

    private DeviceBuffer ones(int n) {
        float[] one = new float[n];
        java.util.Arrays.fill(one, 1f);
        return upload(one);
    }

    private DeviceBuffer upload(Matrix m) {
        if (!m.bf16()) throw new IllegalArgumentException("the device forward reads bf16 matrices; " + m.name() + " is stored as f32 (or f16)");
        DeviceBuffer b = allocate(m.data().byteSize());
        backend.copyIn(b, m.data());
        return b;
    }

    private DeviceBuffer upload(float[] vector) {
        DeviceBuffer b = allocate(4L * vector.length);
        backend.copyIn(b, MemorySegment.ofArray(vector));
        return b;
    }

    /** One decoder a layer, each reading the model's q, k, v buffers and recording into its own flag. */
    private DeviceDecoder[] decoders(ModelShape shape, ParisKvConfig kv, int batch, int capacity, boolean cudaGraph) {
        DeviceDecoder[] layers = new DeviceDecoder[shape.layers()];
        try {
            DeviceDecoder.Options o = DeviceDecoder.Options.defaults().withCudaGraphs(cudaGraph);
            for (int l = 0; l < layers.length; l++) {
                layers[l] = new DeviceDecoder(backend, shape.withLayers(1), kv, batch, capacity, o);
                layers[l].bindInputs(q, k, v, flags, l);
            }
        } catch (RuntimeException | Error e) {
            for (DeviceDecoder d : layers) if (d != null) d.close();
            throw e;
        }
        return layers;
    }

    private static Attention deviceAttention(DeviceDecoder[] layers) {
        return new Attention() {
            @Override
            public void prefill(int layer, int seq, float[] k, float[] v, int n) {
                layers[layer].prefill(seq, k, v, n);
            }

            @Override
            public void decode(int layer, float[] q, float[] k, float[] v, float[] out) {
                throw new IllegalStateException("device decoders read their inputs from the model's buffers");
            }

            @Override
            public void close() {
                for (DeviceDecoder d : layers) d.close();
            }
        };
    }

    /** The java backend has no DeviceDecoder: attention reads a CPU {@link KvCache} (full or pariskv). */
    private static Attention cacheAttention(ModelShape shape, ParisKvConfig kv, boolean dense, int batch) {
        KvCache cache = KvCache.create(shape, kv, Methods.byName(dense ? "full" : "pariskv"));
        int[] seqs = new int[batch];
        for (int b = 0; b < batch; b++) seqs[b] = cache.newSequence();
        return new Attention() {
            @Override
            public void prefill(int layer, int seq, float[] k, float[] v, int n) {
                cache.layer(layer).prefill(seqs[seq], k, v, n);
            }

            @Override
            public void decode(int layer, float[] q, float[] k, float[] v, float[] out) {
                cache.layer(layer).decode(seqs, q, k, v, out);
            }

            @Override
            public void close() {
                cache.close();
            }
        };
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("DeviceLlama is closed");
        if (failure != null) throw new IllegalStateException(failure);
    }

    private void release() {
        for (ExecutionPlan p : plans) p.close();
        if (attention != null) attention.close();
        else if (decoders != null) for (DeviceDecoder d : decoders) d.close();
        for (DeviceBuffer b : slices) b.close();
        for (DeviceBuffer b : owned) b.close();
        arena.close();
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        backend.finish();
        release();
        if (cpu != null) cpu.close();
    }
}
