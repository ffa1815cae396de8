package org.pariskv.model;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
 * <p>This first version copies each layer's q, k, v to the host for the decoder and its output back (2 small
 * blocking copies a layer): DeviceDecoder takes host arrays. So on CUDA each of those graphs is recorded
 * ({@link ExecutionPlan#withCudaGraph}), not the whole token step. Prefill runs on the CPU model (full causal
 * attention, chunked) and hands each layer's post-RoPE K/V to that layer's decoder, which builds its index.
 * One sequence; not thread-safe.
 */
public final class DeviceLlama implements AutoCloseable {

    private static final int LINEAR = 64;

    private final Backend backend;
    private final LlamaModel cpu;
    private final LlamaConfig c;
    private final Attention attention;
    private final List<DeviceBuffer> owned = new ArrayList<>();
    private final List<DeviceBuffer> slices = new ArrayList<>(); // views of owned buffers, closed first
    private final List<ExecutionPlan> plans = new ArrayList<>();
    private final ExecutionPlan[] steps;
    private final DeviceBuffer tokens, positions, qkv, q, k, v, att, logits;
    private final long kOffset, vOffset;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment stepSeg, qkvSeg, attSeg, logitsSeg;
    private final float[] qh, kh, vh, outh;
    private int length;
    private float[] last;
    private boolean closed;

    /** What a layer's attention does with the post-RoPE rows of one token (the decoder, or the CPU cache). */
    private interface Attention extends AutoCloseable {
        void prefill(int layer, float[] k, float[] v, int n);

        void decode(int layer, float[] q, float[] k, float[] v, float[] out);

        @Override
        void close();
    }

    private DeviceLlama(Backend backend, LlamaModel cpu, ParisKvConfig kv, boolean dense, int capacity, boolean cudaGraph) {
        this.backend = backend;
        this.cpu = cpu;
        this.c = cpu.config();
        LlamaWeights w = cpu.weights();
        int dim = c.hiddenSize(), hd = c.headDim(), qRow = c.heads() * hd, kvRow = c.kvHeads() * hd, ff = c.intermediateSize(), vocab = c.vocabSize();
        float eps = (float) c.rmsNormEps();
        try {
            // weights, once
            DeviceBuffer embedding = upload(w.embedding);
            DeviceBuffer lmHead = w.lmHead == w.embedding ? embedding : upload(w.lmHead);
            DeviceBuffer finalNorm = upload(w.finalNorm);
            DeviceBuffer invFreq = upload(new Rope(c).inverseFrequencies());
            // activations of one token
            tokens = allocate(4);
            positions = allocate(4);
            DeviceBuffer x = allocate(4L * dim), xb = allocate(4L * dim), tmp = allocate(4L * dim);
            // q, k, v as slices of one buffer: the host reads them back in one copy per layer
            long align = backend.sliceAlignment();
            kOffset = roundUp(4L * qRow, align);
            vOffset = kOffset + roundUp(4L * kvRow, align);
            qkv = allocate(vOffset + 4L * kvRow);
            q = slice(qkv, 0, 4L * qRow);
            k = slice(qkv, kOffset, 4L * kvRow);
            v = slice(qkv, vOffset, 4L * kvRow);
            att = allocate(4L * qRow);
            DeviceBuffer h1 = allocate(4L * ff), h3 = allocate(4L * ff);
            logits = allocate(4L * vocab);
            int layers = c.layers();
            // graph l: the MLP half of layer l-1 (or the embedding), then the attention inputs of layer l; graph
            // `layers` ends with the final norm and LM head. The host attends between graph l and l+1.
            steps = new ExecutionPlan[layers + 1];
            TaskGraph g = new TaskGraph("embedding.layer0").source(ModelKernels.class)
                    .task("embedding", Grid.linear(dim, LINEAR), embedding, tokens, x, 1, dim);
            for (int l = 0; l <= layers; l++) {
                if (l > 0) {
                    LlamaWeights.Layer lw = w.layers[l - 1];
                    matvec(g, upload(lw.wo()), att, tmp, dim, qRow);
                    g.task("add", Grid.linear(dim, LINEAR), x, tmp, dim)
                            .task("rmsnorm", Grid.groups(1, ModelKernels.GROUP), xb, x, upload(lw.ffnNorm()), dim, eps);
                    matvec(g, upload(lw.gate()), xb, h1, ff, dim);
                    matvec(g, upload(lw.up()), xb, h3, ff, dim);
                    g.task("swiglu", Grid.linear(ff, LINEAR), h1, h3, ff);
                    matvec(g, upload(lw.down()), h1, tmp, dim, ff);
                    g.task("add", Grid.linear(dim, LINEAR), x, tmp, dim);
                }
                if (l < layers) {
                    LlamaWeights.Layer lw = w.layers[l];
                    g.task("rmsnorm", Grid.groups(1, ModelKernels.GROUP), xb, x, upload(lw.attnNorm()), dim, eps);
                    matvec(g, upload(lw.wq()), xb, q, qRow, dim);
                    matvec(g, upload(lw.wk()), xb, k, kvRow, dim);
                    matvec(g, upload(lw.wv()), xb, v, kvRow, dim);
                    if (c.qkNorm()) { // Qwen3: RMSNorm over each head before RoPE
                        g.task("rmsnorm", Grid.groups(c.heads(), ModelKernels.GROUP), q, q, upload(lw.qNorm()), hd, eps)
                                .task("rmsnorm", Grid.groups(c.kvHeads(), ModelKernels.GROUP), k, k, upload(lw.kNorm()), hd, eps);
                    }
                    g.task("rope", Grid.linear(qRow / 2, LINEAR), q, invFreq, positions, 1, c.heads(), hd)
                            .task("rope", Grid.linear(kvRow / 2, LINEAR), k, invFreq, positions, 1, c.kvHeads(), hd);
                } else {
                    g.task("rmsnorm", Grid.groups(1, ModelKernels.GROUP), xb, x, finalNorm, dim, eps);
                    matvec(g, lmHead, xb, logits, vocab, dim);
                }
                steps[l] = plan(g, cudaGraph);
                g = new TaskGraph("layer" + l + ".mlp.layer" + (l + 1)).source(ModelKernels.class);
            }
            stepSeg = arena.allocate(8, 64);
            qkvSeg = arena.allocate(qkv.bytes(), 64);
            attSeg = arena.allocate(4L * qRow, 64);
            logitsSeg = arena.allocate(4L * vocab, 64);
            qh = new float[qRow];
            kh = new float[kvRow];
            vh = new float[kvRow];
            outh = new float[qRow];
            attention = backend.device().backend() == BackendKind.JAVA ? cacheAttention(c.attentionShape(), kv, dense)
                    : deviceAttention(c.attentionShape(), kv, dense, capacity, cudaGraph);
        } catch (RuntimeException | Error e) {
            release();
            throw e;
        }
    }

    /**
     * Loads {@code dir} (bf16 matrices) and uploads its weights to {@code backend}.
     *
     * @param dense     exact full attention in every layer, else ParisKV (dense below {@link ParisKvConfig#denseBelow()})
     * @param capacity  tokens the sequence may reach (prompt + generated), for the decoders' buffers
     * @param cudaGraph record each graph as a CUDA graph (CUDA only; elsewhere it says so once)
     */
    public static DeviceLlama load(Path dir, Backend backend, ParisKvConfig kv, boolean dense, int capacity, boolean cudaGraph) {
        LlamaModel cpu = LlamaModel.load(dir, "full", kv); // prefill: full causal attention whatever the method
        try {
            return new DeviceLlama(backend, cpu, kv, dense, capacity, cudaGraph);
        } catch (RuntimeException | Error e) {
            cpu.close();
            throw e;
        }
    }

    public LlamaConfig config() {
        return c;
    }

    /** Tokens fed so far. */
    public int length() {
        return length;
    }

    /** The next-token logits after the last token fed (null before any). */
    public float[] logits() {
        return last == null ? null : last.clone();
    }

    /** Prefills the (empty) sequence on the CPU model and hands its K/V to the layers; returns the last logits. */
    public float[] prefill(int[] prompt) {
        ensureOpen();
        try (Session s = cpu.newSession()) {
            return prefill(s.prefillRecorded(prompt));
        }
    }

    /** Stores a prefill record of the same checkpoint into the layers' attention (each builds its index). */
    public float[] prefill(PrefillRecord r) {
        ensureOpen();
        if (length != 0) throw new IllegalStateException("prefill needs an empty sequence; this one holds " + length + " tokens");
        if (!r.config().equals(c)) throw new IllegalArgumentException("the prefill record comes from another model");
        for (PrefillRecord.Chunk ch : r.chunks()) {
            for (int l = 0; l < c.layers(); l++) attention.prefill(l, ch.keys()[l], ch.values()[l], ch.n());
            length += ch.n();
        }
        last = r.logits().clone();
        return last.clone();
    }

    /** One decode step: feeds {@code token} at the next position and returns the next-token logits. */
    public float[] decode(int token) {
        ensureOpen();
        if (token < 0 || token >= c.vocabSize()) throw new IllegalArgumentException("token " + token + " is outside the vocabulary [0, " + c.vocabSize() + ")");
        stepSeg.set(ValueLayout.JAVA_INT, 0, token);
        stepSeg.set(ValueLayout.JAVA_INT, 4, length);
        backend.copyIn(tokens, stepSeg.asSlice(0, 4));
        backend.copyIn(positions, stepSeg.asSlice(4, 4));
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
        backend.copyOut(logitsSeg, logits);
        length++;
        last = logitsSeg.toArray(ValueLayout.JAVA_FLOAT);
        return last.clone();
    }

    private ExecutionPlan plan(TaskGraph g, boolean cudaGraph) {
        ExecutionPlan p = new ExecutionPlan(g.snapshot()).withBackend(backend).withProfiler(ProfilerMode.OFF).withCudaGraph(cudaGraph);
        plans.add(p);
        return p;
    }

    /** {@code out = W · in}: four weights a load where the row length allows ({@link ModelKernels#matvec4}). */
    private static void matvec(TaskGraph g, DeviceBuffer w, DeviceBuffer in, DeviceBuffer out, int rows, int cols) {
        g.task(cols % 4 == 0 ? "matvec4" : "matvec", Grid.groups(rows, ModelKernels.GROUP), w, in, out, rows, cols);
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

    private Attention deviceAttention(ModelShape shape, ParisKvConfig kv, boolean dense, int capacity, boolean cudaGraph) {
        DeviceDecoder[] layers = new DeviceDecoder[shape.layers()];
        try {
            DeviceDecoder.Options o = DeviceDecoder.Options.defaults().withCudaGraphs(cudaGraph);
            for (int l = 0; l < layers.length; l++) layers[l] = new DeviceDecoder(backend, shape.withLayers(1), kv, 1, capacity, o);
        } catch (RuntimeException | Error e) {
            for (DeviceDecoder d : layers) if (d != null) d.close();
            throw e;
        }
        return new Attention() {
            @Override
            public void prefill(int layer, float[] k, float[] v, int n) {
                layers[layer].prefill(0, k, v, n);
            }

            @Override
            public void decode(int layer, float[] q, float[] k, float[] v, float[] out) {
                layers[layer].decode(q, k, v, out, dense);
            }

            @Override
            public void close() {
                for (DeviceDecoder d : layers) d.close();
            }
        };
    }

    /** The java backend has no DeviceDecoder: attention reads a CPU {@link KvCache} (full or pariskv). */
    private static Attention cacheAttention(ModelShape shape, ParisKvConfig kv, boolean dense) {
        KvCache cache = KvCache.create(shape, kv, Methods.byName(dense ? "full" : "pariskv"));
        int seq = cache.newSequence();
        int[] seqs = {seq};
        return new Attention() {
            @Override
            public void prefill(int layer, float[] k, float[] v, int n) {
                cache.layer(layer).prefill(seq, k, v, n);
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
    }

    private void release() {
        for (ExecutionPlan p : plans) p.close();
        if (attention != null) attention.close();
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
        cpu.close();
    }
}
