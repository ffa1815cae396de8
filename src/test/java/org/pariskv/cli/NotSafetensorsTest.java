package org.pariskv.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pariskv.model.BundledModel;

/** A file that is not safetensors at all, given as a trace or as a model's weights: exit 2, "not a safetensors file". */
class NotSafetensorsTest {

    @TempDir
    Path dir;

    /** Random bytes, a file shorter than the length field, and a plausible length followed by no JSON. */
    private Path[] junk() throws IOException {
        byte[] random = new byte[4096];
        new Random(7).nextBytes(random);
        byte[] badJson = new byte[64];
        badJson[0] = 40; // header length 40, then zeros: not JSON
        return new Path[] {Files.write(dir.resolve("random.bin"), random), Files.write(dir.resolve("short.safetensors"), new byte[] {1, 2, 3}),
                Files.write(dir.resolve("zeros.safetensors"), badJson),
                Files.write(dir.resolve("array.safetensors"), header("[1, 2]"))};
    }

    private static byte[] header(String json) {
        byte[] j = json.getBytes(StandardCharsets.UTF_8);
        byte[] b = new byte[8 + j.length];
        b[0] = (byte) j.length;
        System.arraycopy(j, 0, b, 8, j.length);
        return b;
    }

    @Test
    void asATrace() throws IOException {
        for (Path f : junk()) {
            CliRun r = CliRun.of("eval", "--trace", f.toString(), "--device", "java");
            EvalCommandTest.assertBadInput(r, "not a safetensors file");
            assertTrue(r.err().contains(f.getFileName().toString()), r.err());
            assertEquals("", r.out());
        }
    }

    @Test
    void asAModel() throws IOException {
        Path model = Files.createDirectory(dir.resolve("model"));
        Files.copy(BundledModel.directory().resolve("config.json"), model.resolve("config.json"));
        for (Path f : junk()) {
            Files.copy(f, model.resolve("model.safetensors"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            CliRun r = CliRun.of("bpb", "--model", model.toString(), "--methods", "full", "--prefill", "64", "--steps", "8");
            EvalCommandTest.assertBadInput(r, "not a safetensors file");
            assertEquals("", r.out());
        }
    }

    /** The weights file itself given as {@code --model} (not its folder): every command that loads a model says so alike. */
    @Test
    void aFileAsTheModelFolder() throws IOException {
        Path f = junk()[0];
        String[][] commands = {{"generate", "--prompt", "hi"}, {"ruler"}, {"bpb"}, {"demo"}};
        for (String[] c : commands) {
            String[] args = java.util.Arrays.copyOf(c, c.length + 2);
            args[c.length] = "--model";
            args[c.length + 1] = f.toString();
            CliRun r = CliRun.of(args);
            EvalCommandTest.assertBadInput(r, "--model " + f + " is a file; give the model's folder");
            assertEquals("", r.out(), c[0]);
        }
    }
}
