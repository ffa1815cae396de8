package org.pariskv.model;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pariskv.ParisKvConfig;
import org.pariskv.kv.RowStore;

/** (h) Bad model directories: each refused before anything is allocated, the message naming the file and tensor. */
class LlamaWeightsTest {

    @TempDir
    Path dir;
    TinyCheckpoint c;
    long storesBefore;

    @BeforeEach
    void write() {
        c = TinyCheckpoint.write(dir.resolve("m"), TinyCheckpoint.Spec.small());
        storesBefore = RowStore.openStores();
    }

    private String refused(String expected) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> LlamaModel.load(c.dir, "pariskv", ParisKvConfig.defaults()).close());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertEquals(storesBefore, RowStore.openStores(), "nothing allocated in the cache");
        return e.getMessage();
    }

    @Test
    void theValidCheckpointLoads() {
        try (LlamaModel m = LlamaModel.load(c.dir, "pariskv", ParisKvConfig.defaults())) {
            assertEquals(2, m.config().layers());
        }
    }

    @Test
    void wrongTensorShape() {
        c.shapes.put("model.layers.1.self_attn.k_proj.weight", new long[] {16, 128});
        c.writeFiles();
        String m = refused("tensor model.layers.1.self_attn.k_proj.weight has shape [16, 128], expected [32, 64] from config.json");
        assertTrue(m.startsWith("model.safetensors: "), m);
    }

    @Test
    void missingTensor() {
        c.tensors.remove("model.layers.1.mlp.up_proj.weight");
        c.writeFiles();
        assertTrue(refused("tensor model.layers.1.mlp.up_proj.weight is missing (expected [96, 64]").startsWith("model.safetensors: "));
    }

    @Test
    void missingLmHeadWhenNotTied() {
        c.tensors.remove("lm_head.weight");
        c.writeFiles();
        refused("tensor lm_head.weight is missing");
    }

    @Test
    void tensorOfALayerTheConfigDoesNotHave() {
        c.tensors.put("model.layers.2.input_layernorm.weight", new float[64]);
        c.shapes.put("model.layers.2.input_layernorm.weight", new long[] {64});
        c.writeFiles();
        refused("tensor model.layers.2.input_layernorm.weight belongs to a layer beyond num_hidden_layers = 2");
    }

    @Test
    void truncatedFile() throws IOException {
        Path f = c.dir.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(all, all.length - 100));
        String m = refused("file truncated: tensor ");
        assertTrue(m.startsWith("model.safetensors: "), m);
    }

    @Test
    void randomBytesAreNotSafetensors() throws IOException {
        byte[] junk = new byte[5000];
        new Random(3).nextBytes(junk);
        Files.write(c.dir.resolve("model.safetensors"), junk);
        String m = refused("model.safetensors: header length ");
        assertTrue(m.contains("not a safetensors file?"), m);
        Files.write(c.dir.resolve("model.safetensors"), new byte[] {1, 2, 3});
        refused("model.safetensors: file is 3 bytes");
    }

    @Test
    void unsupportedDtype() throws IOException {
        // the same bytes declared as I32: shape and byte count agree, the dtype does not
        Path f = c.dir.resolve("model.safetensors");
        String text = new String(Files.readAllBytes(f), java.nio.charset.StandardCharsets.ISO_8859_1);
        String entry = "\"model.norm.weight\":{\"dtype\":\"BF16\",\"shape\":[64]";
        assertTrue(text.contains(entry));
        text = text.replace(entry, "\"model.norm.weight\":{\"dtype\":\"I16\", \"shape\":[64]"); // same length: the header keeps its size
        Files.write(f, text.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        refused("tensor model.norm.weight has unsupported dtype I16 (supported: BF16, F16, F32)");
    }

    @Test
    void unsupportedArchitecture() throws IOException {
        Path cfg = c.dir.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("LlamaForCausalLM", "GPT2LMHeadModel"));
        assertTrue(refused("unsupported architecture 'GPT2LMHeadModel'").startsWith("config.json: "));
    }

    @Test
    void noWeightsAtAll() throws IOException {
        Files.delete(c.dir.resolve("model.safetensors"));
        refused("no model.safetensors or model.safetensors.index.json in ");
    }

    @Test
    void shardedCheckpointLoadsAndItsFaultsAreNamed() throws IOException {
        TinyCheckpoint s = TinyCheckpoint.write(dir.resolve("sharded"), TinyCheckpoint.Spec.small().withSharded(true));
        try (LlamaModel m = LlamaModel.load(s.dir, "full", ParisKvConfig.defaults())) {
            assertEquals(256, m.config().vocabSize());
        }
        c = s;
        Path index = s.dir.resolve("model.safetensors.index.json");
        String good = Files.readString(index);
        // the index sends a tensor to the wrong shard
        Files.writeString(index, good.replace("\"model.norm.weight\":\"model-00002-of-00002.safetensors\"", "\"model.norm.weight\":\"model-00001-of-00002.safetensors\""));
        assertTrue(refused("tensor model.norm.weight is missing (the index lists it in this file)").startsWith("model-00001-of-00002.safetensors: "));
        // the index does not list a tensor at all
        Files.writeString(index, good.replace("\"model.norm.weight\":\"model-00002-of-00002.safetensors\",", "").replace(",\"model.norm.weight\":\"model-00002-of-00002.safetensors\"", ""));
        assertTrue(refused("tensor model.norm.weight is missing (expected [64]").startsWith("model.safetensors.index.json: "));
        Files.writeString(index, "{\"weight_map\":{}}");
        refused("model.safetensors.index.json: 'weight_map' is empty");
        // a shard is gone
        Files.writeString(index, good);
        Files.delete(s.dir.resolve("model-00002-of-00002.safetensors"));
        assertTrue(refused("shard model-00002-of-00002.safetensors (holding ").startsWith("model.safetensors.index.json: "));
    }
}
