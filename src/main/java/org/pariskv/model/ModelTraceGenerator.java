package org.pariskv.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.trace.LayerTrace;
import org.pariskv.trace.Trace;
import org.pariskv.trace.TraceGenerator;

/**
 * A trace of a real model's attention: the bundled model (or any byte-level checkpoint) reads held-out text, and every
 * layer's post-RoPE keys and values of the prompt and the decode queries of the last {@code steps} tokens are recorded,
 * as {@code examples/dump_trace.py} records them from a {@code transformers} model. Retrieval quality measured on it is
 * quality on attention that was trained, not on a generator's assumptions (issue 15). The prompt is full causal
 * prefill, the steps full-attention decodes; the layers are the model's first {@code shape.layers()}, and its heads and
 * head dimension are the model's own.
 */
public final class ModelTraceGenerator implements TraceGenerator {
    private final Path dir;

    /** The bundled model. */
    public ModelTraceGenerator() {
        this(BundledModel.directory());
    }

    /** The byte-level model in {@code dir} (config.json, model.safetensors; text from heldout.txt there or the bundled one). */
    public ModelTraceGenerator(Path dir) {
        this.dir = dir;
    }

    @Override
    public String name() {
        return "model";
    }

    /** The model's attention shape (all its layers). */
    public ModelShape shape() {
        return LlamaConfig.read(dir.resolve("config.json")).attentionShape();
    }

    /**
     * {@code promptTokens + steps} bytes of held-out text from an offset set by {@code seed} (wrapping around), BOS
     * first; {@code shape} must be this model's heads and head dimension, with at most its layers.
     */
    @Override
    public Trace generate(ModelShape shape, int promptTokens, int steps, long seed) {
        ModelShape own = shape();
        if (shape.queryHeads() != own.queryHeads() || shape.kvHeads() != own.kvHeads() || shape.headDim() != own.headDim()
                || shape.layers() < 1 || shape.layers() > own.layers()) {
            throw new IllegalArgumentException("the model trace has the model's shape: " + own.queryHeads() + " query / " + own.kvHeads()
                    + " KV heads of dim " + own.headDim() + ", 1 to " + own.layers() + " layers; asked for " + shape);
        }
        if (promptTokens < 1 || steps < 1) throw new IllegalArgumentException("a model trace needs a prompt and at least one step");
        int layers = shape.layers(), hkv = own.kvHeads(), hq = own.queryHeads(), d = own.headDim(), total = promptTokens + steps;
        int[] tokens = text(total, seed);
        float[][] keys = new float[layers][(int) Math.multiplyExact((long) total * hkv, d)], values = new float[layers][keys[0].length];
        float[][] queries = new float[layers][steps * hq * d];
        try (LlamaModel m = LlamaModel.load(dir, "full", ParisKvConfig.defaults()); Session s = m.newSession()) {
            if (m.config().vocabSize() != 256) throw new IllegalArgumentException("a model trace reads bytes: " + dir + " is not a byte-level model");
            PrefillRecord r = s.prefillRecorded(java.util.Arrays.copyOf(tokens, promptTokens));
            int at = 0;
            for (PrefillRecord.Chunk c : r.chunks()) {
                for (int l = 0; l < layers; l++) {
                    System.arraycopy(c.keys()[l], 0, keys[l], at * hkv * d, c.n() * hkv * d);
                    System.arraycopy(c.values()[l], 0, values[l], at * hkv * d, c.n() * hkv * d);
                }
                at += c.n();
            }
            for (int step = 0; step < steps; step++) {
                int row = promptTokens + step, st = step;
                m.decodeObserved(s, tokens[row], (l, q, k, v) -> {
                    if (l >= layers) return;
                    System.arraycopy(k, 0, keys[l], row * hkv * d, hkv * d);
                    System.arraycopy(v, 0, values[l], row * hkv * d, hkv * d);
                    System.arraycopy(q, 0, queries[l], st * hq * d, hq * d);
                });
            }
        }
        List<LayerTrace> out = new ArrayList<>();
        for (int l = 0; l < layers; l++) out.add(new LayerTrace(keys[l], values[l], queries[l]));
        return new Trace("model", own.withLayers(layers), promptTokens, steps, out,
                Map.of("generator", "model", "model", dir.toString(), "seed", Long.toString(seed), "text", "heldout.txt"));
    }

    private int[] text(int n, long seed) {
        Path held = Files.exists(dir.resolve("heldout.txt")) ? dir.resolve("heldout.txt") : BundledModel.directory().resolve("heldout.txt");
        byte[] t;
        try {
            t = Files.readAllBytes(held);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + held, e);
        }
        int from = (int) Math.floorMod(seed * 7919L, t.length);
        int[] ids = new int[n];
        ids[0] = ByteTokenizer.BOS;
        for (int i = 1; i < n; i++) ids[i] = t[(from + i - 1) % t.length] & 0xFF;
        return ids;
    }
}
