package org.pariskv.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.pariskv.encode.Bf16;
import org.pariskv.io.Safetensors;
import org.pariskv.io.Safetensors.Dtype;
import org.pariskv.trace.Json;

/**
 * A tiny random Llama (or Qwen3) checkpoint written the Hugging Face way: {@code config.json} and
 * {@code model.safetensors} (or two shards and an index). The weights are kept as the floats the file holds
 * (rounded to its dtype) so a reference forward can use exactly them.
 */
public final class TinyCheckpoint {

    /** The knobs of a checkpoint; {@link #small()} is the default test model. */
    public record Spec(String architecture, int hidden, int intermediate, int layers, int heads, int kvHeads, int headDim,
                int vocab, double ropeTheta, double eps, boolean tied, Dtype dtype, boolean sharded, long seed,
                Map<String, Object> ropeScaling) {

        public static Spec small() {
            return new Spec(LlamaConfig.LLAMA, 64, 96, 2, 4, 2, 16, 256, 10000.0, 1e-5, false, Dtype.BF16, false, 7, null);
        }

        Spec qwen3() {
            return new Spec(LlamaConfig.QWEN3, hidden, intermediate, layers, heads, kvHeads, headDim, vocab, ropeTheta, eps, true, dtype, sharded, seed, ropeScaling);
        }

        Spec withDtype(Dtype d) {
            return new Spec(architecture, hidden, intermediate, layers, heads, kvHeads, headDim, vocab, ropeTheta, eps, tied, d, sharded, seed, ropeScaling);
        }

        Spec withSharded(boolean s) {
            return new Spec(architecture, hidden, intermediate, layers, heads, kvHeads, headDim, vocab, ropeTheta, eps, tied, dtype, s, seed, ropeScaling);
        }

        Spec withRopeScaling(Map<String, Object> r) {
            return new Spec(architecture, hidden, intermediate, layers, heads, kvHeads, headDim, vocab, ropeTheta, eps, tied, dtype, sharded, seed, r);
        }

        Spec withArchitecture(String a) {
            return new Spec(a, hidden, intermediate, layers, heads, kvHeads, headDim, vocab, ropeTheta, eps, tied, dtype, sharded, seed, ropeScaling);
        }
    }

    public final Spec spec;
    public final Path dir;
    /** Every tensor by HF name, as the floats stored (after rounding to the dtype). */
    final Map<String, float[]> tensors = new LinkedHashMap<>();
    final Map<String, long[]> shapes = new LinkedHashMap<>();

    private TinyCheckpoint(Spec spec, Path dir) {
        this.spec = spec;
        this.dir = dir;
    }

    public static TinyCheckpoint write(Path dir, Spec s) {
        TinyCheckpoint c = new TinyCheckpoint(s, dir);
        SplittableRandom rnd = new SplittableRandom(s.seed());
        int q = s.heads() * s.headDim(), kv = s.kvHeads() * s.headDim();
        c.random("model.embed_tokens.weight", rnd, 1.0, 0, s.vocab(), s.hidden());
        for (int l = 0; l < s.layers(); l++) {
            String p = "model.layers." + l + ".";
            c.random(p + "input_layernorm.weight", rnd, 0.2, 1, s.hidden());
            c.random(p + "self_attn.q_proj.weight", rnd, 2.0 / Math.sqrt(s.hidden()), 0, q, s.hidden());
            c.random(p + "self_attn.k_proj.weight", rnd, 2.0 / Math.sqrt(s.hidden()), 0, kv, s.hidden());
            c.random(p + "self_attn.v_proj.weight", rnd, 1.0 / Math.sqrt(s.hidden()), 0, kv, s.hidden());
            c.random(p + "self_attn.o_proj.weight", rnd, 1.0 / Math.sqrt(q), 0, s.hidden(), q);
            if (s.architecture().equals(LlamaConfig.QWEN3)) {
                c.random(p + "self_attn.q_norm.weight", rnd, 0.3, 1, s.headDim());
                c.random(p + "self_attn.k_norm.weight", rnd, 0.3, 1, s.headDim());
            }
            c.random(p + "post_attention_layernorm.weight", rnd, 0.2, 1, s.hidden());
            c.random(p + "mlp.gate_proj.weight", rnd, 1.0 / Math.sqrt(s.hidden()), 0, s.intermediate(), s.hidden());
            c.random(p + "mlp.up_proj.weight", rnd, 1.0 / Math.sqrt(s.hidden()), 0, s.intermediate(), s.hidden());
            c.random(p + "mlp.down_proj.weight", rnd, 1.0 / Math.sqrt(s.intermediate()), 0, s.hidden(), s.intermediate());
        }
        c.random("model.norm.weight", rnd, 0.2, 1, s.hidden());
        if (!s.tied()) c.random("lm_head.weight", rnd, 1.0 / Math.sqrt(s.hidden()), 0, s.vocab(), s.hidden());
        c.writeFiles();
        return c;
    }

    private void random(String name, SplittableRandom rnd, double scale, double mean, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        float[] a = new float[(int) n];
        for (int i = 0; i < a.length; i++) a[i] = round((float) (mean + scale * gaussian(rnd)));
        tensors.put(name, a);
        shapes.put(name, shape);
    }

    private float round(float x) {
        return switch (spec.dtype()) {
            case BF16 -> Bf16.round(x);
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(x));
            default -> x;
        };
    }

    private static double gaussian(SplittableRandom r) {
        return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
    }

    /** (Re)writes config.json and the weights from {@link #tensors} and {@link #shapes}. */
    void writeFiles() {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), json(config()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Safetensors.Entry> all = new ArrayList<>();
        tensors.forEach((name, data) -> all.add(new Safetensors.Entry(name, spec.dtype(), shapes.get(name), data)));
        if (!spec.sharded()) {
            Safetensors.write(dir.resolve("model.safetensors"), Map.of("format", "pt"), all);
            return;
        }
        int half = all.size() / 2;
        String a = "model-00001-of-00002.safetensors", b = "model-00002-of-00002.safetensors";
        Safetensors.write(dir.resolve(a), Map.of("format", "pt"), all.subList(0, half));
        Safetensors.write(dir.resolve(b), Map.of("format", "pt"), all.subList(half, all.size()));
        StringBuilder idx = new StringBuilder("{\"metadata\":{},\"weight_map\":{");
        for (int i = 0; i < all.size(); i++) {
            idx.append(i == 0 ? "" : ",").append(Json.quote(all.get(i).name())).append(':').append(Json.quote(i < half ? a : b));
        }
        try {
            Files.writeString(dir.resolve("model.safetensors.index.json"), idx.append("}}").toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Map<String, Object> config() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architectures", List.of(spec.architecture()));
        m.put("hidden_size", spec.hidden());
        m.put("intermediate_size", spec.intermediate());
        m.put("num_hidden_layers", spec.layers());
        m.put("num_attention_heads", spec.heads());
        m.put("num_key_value_heads", spec.kvHeads());
        m.put("head_dim", spec.headDim());
        m.put("rms_norm_eps", spec.eps());
        m.put("rope_theta", spec.ropeTheta());
        if (spec.ropeScaling() != null) m.put("rope_scaling", spec.ropeScaling());
        m.put("vocab_size", spec.vocab());
        m.put("tie_word_embeddings", spec.tied());
        m.put("max_position_embeddings", 4096);
        m.put("bos_token_id", 2);
        m.put("eos_token_id", 10);
        m.put("hidden_act", "silu");
        m.put("torch_dtype", spec.dtype() == Dtype.BF16 ? "bfloat16" : spec.dtype() == Dtype.F16 ? "float16" : "float32");
        return m;
    }

    static String json(Object v) {
        return switch (v) {
            case null -> "null";
            case String s -> Json.quote(s);
            case Map<?, ?> m -> {
                StringBuilder b = new StringBuilder("{");
                m.forEach((k, x) -> b.append(b.length() > 1 ? "," : "").append(Json.quote(k.toString())).append(':').append(json(x)));
                yield b.append('}').toString();
            }
            case List<?> l -> {
                StringBuilder b = new StringBuilder("[");
                for (Object x : l) b.append(b.length() > 1 ? "," : "").append(json(x));
                yield b.append(']').toString();
            }
            default -> v.toString();
        };
    }

    float[] t(String name) {
        return tensors.get(name);
    }
}
