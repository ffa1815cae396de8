package org.pariskv.model;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.trace.Json;

/** config.json parsing, and the Llama-3 RoPE frequency scaling against the formula computed here. */
class LlamaConfigTest {

    @TempDir
    Path dir;

    static Map<String, Object> llama31Scaling() {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("rope_type", "llama3");
        r.put("factor", 8.0);
        r.put("low_freq_factor", 1.0);
        r.put("high_freq_factor", 4.0);
        r.put("original_max_position_embeddings", 8192);
        return r;
    }

    /** The Llama-3.1-8B config.json, as published (the keys this reader uses). */
    static String llama31() {
        return """
                {"architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 128000,
                 "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu", "hidden_size": 4096,
                 "intermediate_size": 14336, "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
                 "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
                 "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
                 "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 128256}
                """;
    }

    /**
     * transformers' _compute_llama3_parameters, written out in f64: wavelength above old/low → f/factor, below
     * old/high → f, between → (1 - s) f / factor + s f with s = (old / wavelength - low) / (high - low).
     */
    static double[] llama3Frequencies(double theta, int headDim, double factor, double low, double high, double old) {
        double[] f = NaiveLlama.plainFrequencies(theta, headDim);
        for (int i = 0; i < f.length; i++) {
            double wavelength = 2 * Math.PI / f[i];
            if (wavelength < old / high) continue;
            if (wavelength > old / low) f[i] /= factor;
            else {
                double s = (old / wavelength - low) / (high - low);
                f[i] = (1 - s) * f[i] / factor + s * f[i];
            }
        }
        return f;
    }

    @Test
    void readsTheLlama31ConfigAndItsShape() throws IOException {
        Path f = dir.resolve("config.json");
        Files.writeString(f, llama31());
        LlamaConfig c = LlamaConfig.read(f);
        assertEquals(new ModelShape(32, 32, 8, 128), c.attentionShape());
        assertEquals(128, c.headDim(), "head_dim defaults to hidden_size / heads");
        assertEquals(List.of(128001, 128008, 128009), c.eosTokenIds());
        assertEquals(128000, c.bosTokenId());
        assertEquals(new LlamaConfig.RopeScaling(8, 1, 4, 8192), c.ropeScaling());
        assertFalse(c.qkNorm());
        assertEquals(128 * 1024, c.kvBytesPerToken(), "32 layers x K and V x 8 heads x 128 x 2 bytes");
        assertEquals(128L * 1024 * 4096, c.kvBytesReserved(1), "rows come in chunks of 4096 per layer and head");
        assertEquals(128L * 1024 * 131072, c.kvBytesReserved(131072), "16 GiB for 128K tokens");
        assertEquals(8_030_261_248L, c.parameters(), "Llama-3.1-8B has 8.03 B parameters");
    }

    /** (e) The Llama-3.1 scaled frequencies, every one of the 64, against the formula; all three regimes occur. */
    @Test
    void llama3RopeScalingMatchesTheFormula() throws IOException {
        Path f = dir.resolve("config.json");
        Files.writeString(f, llama31());
        float[] got = Rope.inverseFrequencies(LlamaConfig.read(f));
        double[] want = llama3Frequencies(500000, 128, 8, 1, 4, 8192);
        double[] plain = NaiveLlama.plainFrequencies(500000, 128);
        assertEquals(64, got.length);
        int kept = 0, divided = 0, blended = 0;
        for (int i = 0; i < 64; i++) {
            assertEquals(want[i], got[i], 2e-6 * want[i], "frequency " + i);
            double ratio = want[i] / plain[i];
            if (ratio == 1) kept++;
            else if (Math.abs(ratio - 1 / 8.0) < 1e-12) divided++;
            else blended++;
        }
        assertTrue(kept > 0 && divided > 0 && blended > 0, "kept " + kept + ", divided " + divided + ", blended " + blended);
    }

    /** The scaling is applied in the forward pass: a tiny model with rope_scaling matches the reference with the scaled frequencies. */
    @Test
    void scaledRopeIsUsedByTheForwardPass() {
        Map<String, Object> r = llama31Scaling();
        r.put("original_max_position_embeddings", 256); // wavelengths 6..19869 of D = 16 fall in all three regimes
        TinyCheckpoint c = TinyCheckpoint.write(dir.resolve("m"), TinyCheckpoint.Spec.small().withRopeScaling(r));
        int[] seq = LlamaModelTest.tokens(40, 9);
        double[] scaled = llama3Frequencies(10000, 16, 8, 1, 4, 256);
        double[][] ref = new NaiveLlama(c, scaled).logits(seq, null);
        double[][] unscaled = new NaiveLlama(c, NaiveLlama.plainFrequencies(10000, 16)).logits(seq, null);
        try (LlamaModel m = LlamaModel.load(c.dir, "full", ParisKvConfig.defaults()); Session s = m.newSession()) {
            float[] all = s.prefillAllLogits(seq);
            assertTrue(LlamaModelTest.maxDiff(all, 39 * 256, ref[39]) <= LlamaModelTest.REFERENCE);
            assertTrue(LlamaModelTest.maxDiff(all, 39 * 256, unscaled[39]) > 10 * LlamaModelTest.REFERENCE);
        }
    }

    @Test
    void otherArchitecturesAndRopeTypesAreRefusedByName() throws IOException {
        assertRefused(llama31().replace("LlamaForCausalLM", "MistralForCausalLM"), "unsupported architecture 'MistralForCausalLM'");
        assertRefused(llama31().replace("\"llama3\"", "\"yarn\""), "unsupported rope_scaling type 'yarn'");
        assertRefused(llama31().replace("\"hidden_size\": 4096,", ""), "key 'hidden_size' is missing");
        assertRefused(llama31().replace("\"num_key_value_heads\": 8", "\"num_key_value_heads\": 5"), "must be a multiple of num_key_value_heads (5)");
        assertRefused(llama31().replace("\"attention_bias\": false", "\"attention_bias\": true"), "attention_bias = true is not supported");
        assertRefused(llama31().replace("\"mlp_bias\": false", "\"use_sliding_window\": true"), "use_sliding_window = true is not supported");
        assertRefused("{\"architectures\": [", "not valid JSON");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> LlamaConfig.read(dir.resolve("nothere.json")));
        assertTrue(e.getMessage().startsWith("nothere.json: file not found"), e.getMessage());
    }

    /** transformers 5 keeps the RoPE base and type in rope_parameters (as training/train.py writes the bundled model). */
    @Test
    void ropeParametersOfTransformers5() throws IOException {
        Path f = dir.resolve("config.json");
        Files.writeString(f, """
                {"architectures": ["LlamaForCausalLM"], "hidden_size": 512, "num_hidden_layers": 6, "num_attention_heads": 4,
                 "num_key_value_heads": 2, "head_dim": 128, "intermediate_size": 1536, "vocab_size": 256,
                 "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0}, "max_position_embeddings": 32768,
                 "tie_word_embeddings": true, "bos_token_id": 2, "eos_token_id": 10, "dtype": "bfloat16"}
                """);
        LlamaConfig c = LlamaConfig.read(f);
        assertEquals(500000.0, c.ropeTheta());
        assertNull(c.ropeScaling());
        assertEquals("bfloat16", c.torchDtype());
        assertEquals(List.of(10), c.eosTokenIds());
        assertEquals(new ModelShape(6, 4, 2, 128), c.attentionShape());
        Files.writeString(f, llama31().replace("\"rope_scaling\"", "\"rope_parameters\"").replace("\"rope_theta\": 500000.0,", "")
                .replace("\"rope_type\": \"llama3\"}", "\"rope_type\": \"llama3\", \"rope_theta\": 500000.0}"));
        LlamaConfig scaled = LlamaConfig.read(f);
        assertEquals(500000.0, scaled.ropeTheta());
        assertEquals(new LlamaConfig.RopeScaling(8, 1, 4, 8192), scaled.ropeScaling());
    }

    @Test
    void qwen3IsTheLlamaDecoderWithQkNorm() {
        Map<?, ?> m = (Map<?, ?>) Json.parse(llama31().replace("LlamaForCausalLM", "Qwen3ForCausalLM").replace("\"rope_scaling\": {\"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0,\n       \"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"},", ""));
        LlamaConfig c = LlamaConfig.fromJson(m);
        assertTrue(c.qkNorm());
        assertEquals(LlamaConfig.QWEN3, c.architecture());
    }

    private void assertRefused(String json, String expected) throws IOException {
        Path f = dir.resolve("config.json");
        Files.writeString(f, json);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> LlamaConfig.read(f));
        assertTrue(e.getMessage().startsWith("config.json: ") && e.getMessage().contains(expected), e.getMessage());
    }
}
