package org.pariskv.model;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.pariskv.io.Safetensors;
import org.pariskv.io.Safetensors.Dtype;
import org.pariskv.io.Safetensors.Tensor;
import org.pariskv.io.SafetensorsException;
import org.pariskv.trace.Json;

/**
 * The weights of a {@link LlamaConfig} model, read from {@code model.safetensors} or the shards listed by
 * {@code model.safetensors.index.json}. Matrices stay in the memory-mapped files (bf16 or f32 as stored); f16
 * matrices are widened once to f32 off-heap (the Java engine has no f16 dot); norm vectors (a few KB) are copied
 * to f32 arrays.
 *
 * <p>{@link #load} checks every tensor's presence, shape, dtype and byte range against the config from the
 * headers alone, before anything is mapped or allocated; then it maps. A failure closes whatever was opened.
 */
final class LlamaWeights implements AutoCloseable {

    static final String SINGLE = "model.safetensors";
    static final String INDEX = "model.safetensors.index.json";
    private static final Pattern LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\..*");

    /** One decoder layer; {@code qNorm}/{@code kNorm} are null unless the config is Qwen3. */
    record Layer(float[] attnNorm, Matrix wq, Matrix wk, Matrix wv, Matrix wo, float[] qNorm, float[] kNorm,
                 float[] ffnNorm, Matrix gate, Matrix up, Matrix down) {}

    final Matrix embedding;
    final Layer[] layers;
    final float[] finalNorm;
    final Matrix lmHead;
    private final List<Safetensors> files;
    private final Arena widened;

    private LlamaWeights(Matrix embedding, Layer[] layers, float[] finalNorm, Matrix lmHead, List<Safetensors> files, Arena widened) {
        this.embedding = embedding;
        this.layers = layers;
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
        this.files = files;
        this.widened = widened;
    }

    /** The tensors a config needs, with their shapes, in load order. */
    static Map<String, long[]> expected(LlamaConfig c) {
        Map<String, long[]> e = new LinkedHashMap<>();
        long d = c.hiddenSize(), q = (long) c.heads() * c.headDim(), kv = (long) c.kvHeads() * c.headDim(), f = c.intermediateSize();
        e.put("model.embed_tokens.weight", new long[] {c.vocabSize(), d});
        for (int l = 0; l < c.layers(); l++) {
            String p = "model.layers." + l + ".";
            e.put(p + "input_layernorm.weight", new long[] {d});
            e.put(p + "self_attn.q_proj.weight", new long[] {q, d});
            e.put(p + "self_attn.k_proj.weight", new long[] {kv, d});
            e.put(p + "self_attn.v_proj.weight", new long[] {kv, d});
            e.put(p + "self_attn.o_proj.weight", new long[] {d, q});
            if (c.qkNorm()) {
                e.put(p + "self_attn.q_norm.weight", new long[] {c.headDim()});
                e.put(p + "self_attn.k_norm.weight", new long[] {c.headDim()});
            }
            e.put(p + "post_attention_layernorm.weight", new long[] {d});
            e.put(p + "mlp.gate_proj.weight", new long[] {f, d});
            e.put(p + "mlp.up_proj.weight", new long[] {f, d});
            e.put(p + "mlp.down_proj.weight", new long[] {d, f});
        }
        e.put("model.norm.weight", new long[] {d});
        if (!c.tieWordEmbeddings()) e.put("lm_head.weight", new long[] {c.vocabSize(), d});
        return e;
    }

    static LlamaWeights load(Path dir, LlamaConfig c) {
        Map<String, Path> where = tensorFiles(dir);
        boolean indexed = !where.isEmpty();
        Map<Path, Safetensors.Header> headers = new LinkedHashMap<>();
        Map<Path, Map<String, Tensor>> byFile = new LinkedHashMap<>();
        for (Path f : new java.util.LinkedHashSet<>(where.values())) {
            try {
                Safetensors.Header h = Safetensors.header(f);
                headers.put(f, h);
                byFile.put(f, h.tensors());
            } catch (SafetensorsException e) {
                throw new ModelFormatException(f, e.detail(), e);
            }
        }
        if (!indexed) { // a single file: every tensor it holds
            Path f = dir.resolve(SINGLE);
            Safetensors.Header h = header(f);
            headers.put(f, h);
            byFile.put(f, tensors(h));
            for (String name : byFile.get(f).keySet()) where.put(name, f);
        }
        // 1. check everything from the headers
        Map<String, long[]> expected = expected(c);
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            String name = e.getKey();
            Path f = where.get(name);
            if (f == null) {
                throw new ModelFormatException(dir.resolve(indexed ? INDEX : SINGLE), "tensor " + name + " is missing (expected "
                        + Arrays.toString(e.getValue()) + " for " + c.architecture() + " with " + c.layers() + " layers)");
            }
            Tensor t = byFile.get(f).get(name);
            if (t == null) throw new ModelFormatException(f, "tensor " + name + " is missing (the index lists it in this file)");
            if (!Arrays.equals(t.shape(), e.getValue())) {
                throw new ModelFormatException(f, "tensor " + name + " has shape " + t.shapeString() + ", expected "
                        + Arrays.toString(e.getValue()) + " from config.json");
            }
            if (t.dtype() != Dtype.BF16 && t.dtype() != Dtype.F16 && t.dtype() != Dtype.F32) {
                throw new ModelFormatException(f, "tensor " + name + " has unsupported dtype " + t.dtype() + " (supported: BF16, F16, F32)");
            }
            try {
                headers.get(f).checkOffsets(t);
            } catch (SafetensorsException ex) {
                throw new ModelFormatException(f, ex.detail(), ex);
            }
        }
        for (Map.Entry<String, Path> e : where.entrySet()) {
            Matcher m = LAYER.matcher(e.getKey());
            if (m.matches() && Long.parseLong(m.group(1)) >= c.layers()) {
                throw new ModelFormatException(e.getValue(), "tensor " + e.getKey() + " belongs to a layer beyond num_hidden_layers = "
                        + c.layers() + " in config.json");
            }
        }
        // 2. map and build views
        List<Safetensors> mapped = new ArrayList<>();
        Arena widened = Arena.ofShared();
        try {
            Map<Path, Safetensors> open = new LinkedHashMap<>();
            for (Path f : headers.keySet()) {
                Safetensors s = Safetensors.map(headers.get(f));
                mapped.add(s);
                open.put(f, s);
            }
            Reader r = new Reader(where, open, widened);
            Layer[] layers = new Layer[c.layers()];
            for (int l = 0; l < layers.length; l++) {
                String p = "model.layers." + l + ".";
                layers[l] = new Layer(r.vector(p + "input_layernorm.weight"), r.matrix(p + "self_attn.q_proj.weight"),
                        r.matrix(p + "self_attn.k_proj.weight"), r.matrix(p + "self_attn.v_proj.weight"), r.matrix(p + "self_attn.o_proj.weight"),
                        c.qkNorm() ? r.vector(p + "self_attn.q_norm.weight") : null, c.qkNorm() ? r.vector(p + "self_attn.k_norm.weight") : null,
                        r.vector(p + "post_attention_layernorm.weight"), r.matrix(p + "mlp.gate_proj.weight"),
                        r.matrix(p + "mlp.up_proj.weight"), r.matrix(p + "mlp.down_proj.weight"));
            }
            Matrix embedding = r.matrix("model.embed_tokens.weight");
            Matrix head = c.tieWordEmbeddings() ? embedding : r.matrix("lm_head.weight");
            return new LlamaWeights(embedding, layers, r.vector("model.norm.weight"), head, List.copyOf(mapped), widened);
        } catch (RuntimeException | Error e) {
            mapped.forEach(Safetensors::close);
            widened.close();
            throw e;
        }
    }

    /** Reads views and vectors from the mapped files. */
    private record Reader(Map<String, Path> where, Map<Path, Safetensors> open, Arena widened) {
        private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

        Matrix matrix(String name) {
            Safetensors s = open.get(where.get(name));
            Tensor t = s.tensor(name);
            MemorySegment data = s.data(t);
            int rows = (int) t.shape()[0], cols = (int) t.shape()[1];
            if (t.dtype() == Dtype.F16) { // widen once: the dot products read bf16 or f32
                MemorySegment f32 = widened.allocate(4 * t.elements(), 64);
                for (long i = 0; i < t.elements(); i++) f32.setAtIndex(F32, i, Float.float16ToFloat(data.getAtIndex(I16, i)));
                return new Matrix(name, f32, false, rows, cols);
            }
            return new Matrix(name, data, t.dtype() == Dtype.BF16, rows, cols);
        }

        float[] vector(String name) {
            Safetensors s = open.get(where.get(name));
            return s.floats(s.tensor(name));
        }
    }

    /** Tensor name → shard file from the index, or empty when the model is one {@code model.safetensors}. */
    private static Map<String, Path> tensorFiles(Path dir) {
        Path index = dir.resolve(INDEX);
        Map<String, Path> where = new TreeMap<>();
        if (!Files.isRegularFile(index)) {
            if (!Files.isRegularFile(dir.resolve(SINGLE))) {
                throw new ModelFormatException(dir, "no " + SINGLE + " or " + INDEX + " in " + dir);
            }
            return where;
        }
        Object parsed;
        try {
            parsed = Json.parse(Files.readString(index));
        } catch (IOException e) {
            throw new ModelFormatException(index, "cannot read: " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(index, "not valid JSON: " + e.getMessage(), e);
        }
        if (!(parsed instanceof Map<?, ?> m) || !(m.get("weight_map") instanceof Map<?, ?> wm)) {
            throw new ModelFormatException(index, "no 'weight_map' object (tensor name -> shard file)");
        }
        if (wm.isEmpty()) throw new ModelFormatException(index, "'weight_map' is empty");
        for (Map.Entry<?, ?> e : wm.entrySet()) {
            if (!(e.getValue() instanceof String file) || file.contains("/") || file.contains("\\")) {
                throw new ModelFormatException(index, "weight_map entry " + e.getKey() + " -> " + e.getValue() + " is not a file name in the model directory");
            }
            Path shard = dir.resolve(file);
            if (!Files.isRegularFile(shard)) throw new ModelFormatException(index, "shard " + file + " (holding " + e.getKey() + ") not found in " + dir);
            where.put((String) e.getKey(), shard);
        }
        return where;
    }

    private static Safetensors.Header header(Path f) {
        try {
            return Safetensors.header(f);
        } catch (SafetensorsException e) {
            throw new ModelFormatException(f, e.detail(), e);
        }
    }

    private static Map<String, Tensor> tensors(Safetensors.Header h) {
        try {
            return h.tensors();
        } catch (SafetensorsException e) {
            throw new ModelFormatException(h.file(), e.detail(), e);
        }
    }

    @Override
    public void close() {
        files.forEach(Safetensors::close);
        if (widened.scope().isAlive()) widened.close();
    }
}
