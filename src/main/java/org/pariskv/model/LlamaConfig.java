package org.pariskv.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.pariskv.ModelShape;
import org.pariskv.trace.Json;

/**
 * The Hugging Face {@code config.json} of a Llama-architecture decoder: {@code LlamaForCausalLM}, or
 * {@code Qwen3ForCausalLM} (the same decoder plus a per-head RMSNorm of q and k before RoPE, {@link #qkNorm}).
 * Any other architecture is refused by name.
 *
 * @param architecture          the {@code architectures[0]} name
 * @param qkNorm                Qwen3's {@code q_norm}/{@code k_norm} over each head before RoPE
 * @param hiddenSize            model width
 * @param intermediateSize      SwiGLU hidden width
 * @param layers                decoder layers
 * @param heads                 query heads
 * @param kvHeads               key/value heads (GQA)
 * @param headDim               head dimension ({@code head_dim}, default {@code hidden_size / heads})
 * @param rmsNormEps            RMSNorm epsilon
 * @param ropeTheta             RoPE base
 * @param ropeScaling           Llama-3 frequency scaling, or null for plain RoPE
 * @param vocabSize             vocabulary
 * @param tieWordEmbeddings     the LM head is the embedding matrix
 * @param maxPositionEmbeddings context the model was configured for
 * @param bosTokenId            BOS id, -1 when absent
 * @param eosTokenIds           EOS ids (may be empty)
 * @param torchDtype            the declared dtype (informational; the tensors' own dtypes are what is read)
 */
public record LlamaConfig(String architecture, boolean qkNorm, int hiddenSize, int intermediateSize, int layers, int heads,
                          int kvHeads, int headDim, double rmsNormEps, double ropeTheta, RopeScaling ropeScaling,
                          int vocabSize, boolean tieWordEmbeddings, int maxPositionEmbeddings, int bosTokenId,
                          List<Integer> eosTokenIds, String torchDtype) {

    public static final String LLAMA = "LlamaForCausalLM";
    public static final String QWEN3 = "Qwen3ForCausalLM";

    /**
     * {@code rope_type: llama3} parameters, as transformers' {@code _compute_llama3_parameters} reads them.
     *
     * @param factor                  long-wavelength frequencies are divided by it
     * @param lowFreqFactor           wavelengths above {@code original / lowFreqFactor} are fully scaled
     * @param highFreqFactor          wavelengths below {@code original / highFreqFactor} are kept
     * @param originalMaxPositions    {@code original_max_position_embeddings}
     */
    public record RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {
        public RopeScaling {
            if (!(factor > 0) || !(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor) || originalMaxPositions <= 0) {
                throw new IllegalArgumentException("rope_scaling needs factor > 0, 0 < low_freq_factor < high_freq_factor and "
                        + "original_max_position_embeddings > 0, got factor " + factor + ", low " + lowFreqFactor + ", high "
                        + highFreqFactor + ", original " + originalMaxPositions);
            }
        }
    }

    public LlamaConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", layers);
        positive("num_attention_heads", heads);
        positive("num_key_value_heads", kvHeads);
        positive("head_dim", headDim);
        positive("vocab_size", vocabSize);
        positive("max_position_embeddings", maxPositionEmbeddings);
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads (" + heads + ") must be a multiple of num_key_value_heads (" + kvHeads + ")");
        }
        if (headDim % 2 != 0) throw new IllegalArgumentException("head_dim must be even for RoPE, got " + headDim);
        if (!(rmsNormEps > 0)) throw new IllegalArgumentException("rms_norm_eps must be positive, got " + rmsNormEps);
        if (!(ropeTheta > 0)) throw new IllegalArgumentException("rope_theta must be positive, got " + ropeTheta);
    }

    /** Llama-3.1-8B's {@code config.json} (the shape of the paper's 1M-token runs), for speed runs with random weights. */
    public static LlamaConfig llama31_8b() {
        return new LlamaConfig(LLAMA, false, 4096, 14336, 32, 32, 8, 128, 1e-5, 500000, new RopeScaling(8, 1, 4, 8192), 128256,
                false, 131072, 128000, List.of(128001, 128008, 128009), "bfloat16");
    }

    /** Qwen3-8B's {@code config.json} (per-head q/k RMSNorm, 36 layers), for speed runs with random weights. */
    public static LlamaConfig qwen3_8b() {
        return new LlamaConfig(QWEN3, true, 4096, 12288, 36, 32, 8, 128, 1e-6, 1000000, null, 151936, false, 40960, -1,
                List.of(151645), "bfloat16");
    }

    /** A real model's configuration by name ({@code llama3-8b} for Llama-3.1-8B, {@code qwen3-8b}); null if unknown. */
    public static LlamaConfig named(String name) {
        return switch (name) {
            case "llama3-8b", "llama3.1-8b" -> llama31_8b();
            case "qwen3-8b" -> qwen3_8b();
            default -> null;
        };
    }

    /** Reads {@code config.json}; every problem names the file and the key. */
    public static LlamaConfig read(Path configJson) {
        if (!Files.isRegularFile(configJson)) throw new ModelFormatException(configJson, "file not found (" + configJson + ")");
        Object parsed;
        try {
            parsed = Json.parse(Files.readString(configJson));
        } catch (IOException e) {
            throw new ModelFormatException(configJson, "cannot read: " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(configJson, "not valid JSON: " + e.getMessage(), e);
        }
        if (!(parsed instanceof Map<?, ?> m)) throw new ModelFormatException(configJson, "not a JSON object");
        try {
            return fromJson(m);
        } catch (ModelFormatException e) {
            throw e;
        } catch (IllegalArgumentException | ClassCastException e) {
            throw new ModelFormatException(configJson, e.getMessage(), e);
        }
    }

    /** The config of a parsed {@code config.json} object. */
    public static LlamaConfig fromJson(Map<?, ?> m) {
        String arch = architecture(m);
        if (!arch.equals(LLAMA) && !arch.equals(QWEN3)) {
            throw new IllegalArgumentException("unsupported architecture '" + arch + "' (supported: " + LLAMA + ", " + QWEN3 + ")");
        }
        Object act = m.get("hidden_act") == null ? "silu" : m.get("hidden_act");
        if (!"silu".equals(act)) throw new IllegalArgumentException("unsupported hidden_act '" + act + "' (the SwiGLU MLP needs silu)");
        if (Boolean.TRUE.equals(m.get("use_sliding_window"))) {
            throw new IllegalArgumentException("use_sliding_window = true is not supported (every layer attends the whole context here)");
        }
        for (String bias : List.of("attention_bias", "mlp_bias")) {
            if (Boolean.TRUE.equals(m.get(bias))) throw new IllegalArgumentException(bias + " = true is not supported (Llama and Qwen3 projections have no bias)");
        }
        int hidden = integer(m, "hidden_size", null);
        int heads = integer(m, "num_attention_heads", null);
        if (heads <= 0 || hidden % heads != 0 && m.get("head_dim") == null) {
            throw new IllegalArgumentException("head_dim is absent and hidden_size (" + hidden + ") is not a multiple of num_attention_heads (" + heads + ")");
        }
        int headDim = m.get("head_dim") == null ? hidden / heads : integer(m, "head_dim", null);
        return new LlamaConfig(arch, arch.equals(QWEN3), hidden, integer(m, "intermediate_size", null),
                integer(m, "num_hidden_layers", null), heads, integer(m, "num_key_value_heads", heads), headDim,
                number(m, "rms_norm_eps", 1e-6), ropeTheta(m), ropeScaling(m),
                integer(m, "vocab_size", null), Boolean.TRUE.equals(m.get("tie_word_embeddings")),
                integer(m, "max_position_embeddings", 2048), m.get("bos_token_id") == null ? -1 : integer(m, "bos_token_id", null),
                ids(m.get("eos_token_id")), m.get("torch_dtype") instanceof String s ? s : m.get("dtype") instanceof String d ? d : "unknown");
    }

    /** The attention geometry handed to the KV cache: one cached layer per decoder layer. */
    public ModelShape attentionShape() {
        return new ModelShape(layers, heads, kvHeads, headDim);
    }

    /** Query heads sharing one KV head. */
    public int groupSize() {
        return heads / kvHeads;
    }

    /**
     * Off-heap bytes of K/V one token costs in the cache: bf16 keys and values of every layer and KV head
     * ({@code layers x 2 x Hkv x D x 2}); the retrieval method's index comes on top.
     */
    public long kvBytesPerToken() {
        return (long) layers * 2 * kvHeads * headDim * 2;
    }

    /**
     * Off-heap bytes the cache reserves for {@code tokens} tokens of one sequence: K/V rows are allocated per
     * (layer, KV head) in chunks of {@link org.pariskv.kv.RowStore#CHUNK_ROWS} rows, so this rounds up to whole chunks.
     */
    public long kvBytesReserved(long tokens) {
        long chunks = (tokens + org.pariskv.kv.RowStore.CHUNK_ROWS - 1) / org.pariskv.kv.RowStore.CHUNK_ROWS;
        return chunks * org.pariskv.kv.RowStore.CHUNK_ROWS * kvBytesPerToken();
    }

    /** Parameters of the weights read (embedding and head counted once when tied). */
    public long parameters() {
        long attn = (long) hiddenSize * headDim * (2L * heads + 2L * kvHeads);
        long mlp = 3L * hiddenSize * intermediateSize;
        long norms = 2L * hiddenSize + (qkNorm ? 2L * headDim : 0);
        return (long) vocabSize * hiddenSize * (tieWordEmbeddings ? 1 : 2) + layers * (attn + mlp + norms) + hiddenSize;
    }

    private static String architecture(Map<?, ?> m) {
        if (!(m.get("architectures") instanceof List<?> l) || l.isEmpty() || !(l.getFirst() instanceof String a)) {
            throw new IllegalArgumentException("'architectures' is missing or not a list of names (expected [\"" + LLAMA + "\"])");
        }
        return a;
    }

    /**
     * RoPE base: transformers 5 writes it inside {@code rope_parameters}, earlier versions as {@code rope_theta}
     * at the top level (default 10000).
     */
    private static double ropeTheta(Map<?, ?> m) {
        if (m.get("rope_parameters") instanceof Map<?, ?> r && r.get("rope_theta") != null) return number(r, "rope_theta", null);
        return number(m, "rope_theta", 10000.0);
    }

    /** Scaling from {@code rope_parameters} (transformers 5) or {@code rope_scaling} (earlier); only llama3 and default. */
    private static RopeScaling ropeScaling(Map<?, ?> m) {
        String key = m.get("rope_parameters") != null ? "rope_parameters" : "rope_scaling";
        Object o = m.get(key);
        if (o == null) return null;
        if (!(o instanceof Map<?, ?> r)) throw new IllegalArgumentException(key + " is not a JSON object");
        Object type = r.get("rope_type") != null ? r.get("rope_type") : r.get("type");
        if (type == null || "default".equals(type)) return null;
        if (!"llama3".equals(type)) {
            throw new IllegalArgumentException("unsupported " + key + " type '" + type + "' (supported: llama3, default)");
        }
        return new RopeScaling(number(r, "factor", null), number(r, "low_freq_factor", null), number(r, "high_freq_factor", null),
                integer(r, "original_max_position_embeddings", null));
    }

    private static List<Integer> ids(Object o) {
        List<Integer> out = new ArrayList<>();
        if (o instanceof Long l) out.add(Math.toIntExact(l));
        else if (o instanceof List<?> list) for (Object x : list) out.add(Math.toIntExact((Long) x));
        else if (o != null) throw new IllegalArgumentException("eos_token_id must be an integer or a list of integers, got " + o);
        return out;
    }

    private static int integer(Map<?, ?> m, String key, Integer fallback) {
        Object o = m.get(key);
        if (o == null) {
            if (fallback == null) throw new IllegalArgumentException("key '" + key + "' is missing");
            return fallback;
        }
        if (!(o instanceof Long l) || l != (int) (long) l) throw new IllegalArgumentException("key '" + key + "' = " + o + " is not an integer");
        return (int) (long) l;
    }

    private static double number(Map<?, ?> m, String key, Double fallback) {
        Object o = m.get(key);
        if (o == null) {
            if (fallback == null) throw new IllegalArgumentException("key '" + key + "' is missing");
            return fallback;
        }
        if (!(o instanceof Number n)) throw new IllegalArgumentException("key '" + key + "' = " + o + " is not a number");
        return n.doubleValue();
    }

    private static void positive(String key, int v) {
        if (v <= 0) throw new IllegalArgumentException(key + " must be positive, got " + v);
    }
}
