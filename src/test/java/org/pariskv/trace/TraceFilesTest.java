package org.pariskv.trace;

import org.pariskv.ModelShape;
import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TraceFilesTest {
    @TempDir
    Path dir;

    static Trace sample() {
        return TraceGenerators.byName("llm").generate(new ModelShape(2, 4, 2, 16), 40, 6, 3);
    }

    @Test
    void roundTripF32IsExact() {
        Trace t = sample();
        Path f = dir.resolve("t.safetensors");
        TraceFiles.write(t, f, TraceDtype.F32);
        Trace r = TraceFiles.read(f);
        assertEquals(t.shape(), r.shape());
        assertEquals(t.promptTokens(), r.promptTokens());
        assertEquals(t.steps(), r.steps());
        assertEquals("llm", r.name());
        assertEquals(t.meta(), r.meta());
        for (int l = 0; l < 2; l++) {
            assertArrayEquals(t.layer(l).keys(), r.layer(l).keys());
            assertArrayEquals(t.layer(l).values(), r.layer(l).values());
            assertArrayEquals(t.layer(l).queries(), r.layer(l).queries());
            assertTrue(Arrays.deepEquals(t.layer(l).planted(), r.layer(l).planted()));
            assertTrue(Arrays.deepEquals(t.layer(l).plantedByHead(), r.layer(l).plantedByHead()));
        }
    }

    @Test
    void roundTripHalfPrecisionWithinRounding() {
        Trace t = sample();
        for (TraceDtype dt : new TraceDtype[] {TraceDtype.BF16, TraceDtype.F16}) {
            Path f = dir.resolve("t-" + dt + ".safetensors");
            TraceFiles.write(t, f, dt);
            long expected = 8 + headerLen(f) + 2L * 2 * (6 * 4 * 16 + 2 * 46 * 2 * 16);
            try {
                assertEquals(expected, Files.size(f));
            } catch (IOException e) {
                throw new AssertionError(e);
            }
            Trace r = TraceFiles.read(f);
            double rel = dt == TraceDtype.BF16 ? 1.0 / 256 : 1.0 / 2048; // half an ulp of 8 / 11 mantissa bits
            for (int l = 0; l < 2; l++) {
                float[] a = t.layer(l).keys();
                float[] b = r.layer(l).keys();
                boolean someDiffer = false;
                for (int i = 0; i < a.length; i++) {
                    assertEquals(a[i], b[i], Math.abs(a[i]) * rel + 1e-7, dt + " key " + i);
                    someDiffer |= a[i] != b[i];
                }
                assertTrue(someDiffer, dt + " is stored in fewer bits");
            }
        }
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals(1.0f, TraceDtype.fromBf16(TraceDtype.toBf16(1.0f)));
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0)
        assertEquals(1.0f, TraceDtype.fromBf16(TraceDtype.toBf16(1f + 0x1p-8f)));
        assertEquals(1f + 0x1p-7f, TraceDtype.fromBf16(TraceDtype.toBf16(1f + 0x1p-8f + 0x1p-20f)));
        assertTrue(Float.isNaN(TraceDtype.fromBf16(TraceDtype.toBf16(Float.NaN))));
    }

    private static long headerLen(Path f) {
        try {
            return ByteBuffer.wrap(Files.readAllBytes(f), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    // ---- malformed files -------------------------------------------------------------------

    private Path raw(String name, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path f = dir.resolve(name);
        Files.write(f, b.array());
        return f;
    }

    private static String entry(String name, String dtype, String shape, long begin, long end) {
        return ",\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + ","
                + end + "]}";
    }

    /** A valid one-layer header: Hq=2, Hkv=1, D=8, prompt 3, steps 2 (q 128 B, k 160 B, v 160 B as F32). */
    private static String header(String meta, String qShape, String vDtype) {
        return "{\"__metadata__\":" + meta
                + entry("layers.0.q", "F32", qShape, 0, 128)
                + entry("layers.0.k", "F32", "[5,1,8]", 128, 288)
                + entry("layers.0.v", vDtype, "[5,1,8]", 288, 448) + "}";
    }

    private static final String META = "{\"format\":\"pariskv-trace/1\",\"prompt_tokens\":\"3\"}";

    private String fail(Path f) {
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> TraceFiles.read(f));
        assertTrue(e.getMessage().startsWith(f.getFileName().toString() + ": "), e.getMessage());
        assertEquals(f, e.file());
        return e.getMessage();
    }

    @Test
    void handWrittenValidFileReads() throws IOException {
        Trace t = TraceFiles.read(raw("ok.st", header(META, "[2,2,8]", "F32"), 448));
        assertEquals(new ModelShape(1, 2, 1, 8), t.shape());
        assertEquals(3, t.promptTokens());
        assertEquals("ok", t.name());
    }

    @Test
    void shorterThanEightBytes() throws IOException {
        Path f = dir.resolve("short.st");
        Files.write(f, new byte[] {1, 2, 3, 4, 5});
        assertTrue(fail(f).contains("file is 5 bytes, shorter than the 8-byte safetensors header length"));
    }

    @Test
    void headerLongerThanFile() throws IOException {
        Path f = dir.resolve("long.st");
        ByteBuffer b = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN).putLong(1000);
        Files.write(f, b.array());
        assertTrue(fail(f).contains("header length 1000 is larger than the file allows (20 bytes"));
    }

    @Test
    void headerNotJsonOrNotObject() throws IOException {
        assertTrue(fail(raw("nj.st", "{\"a\":", 0)).contains("header is not valid JSON"));
        assertTrue(fail(raw("arr.st", "[1,2]", 0)).contains("header is not a JSON object"));
    }

    @Test
    void missingOrWrongFormat() throws IOException {
        assertTrue(fail(raw("nometa.st", header("{}", "[2,2,8]", "F32").replace("\"__metadata__\":{},", "\"x\":{},"), 448))
                .contains("no __metadata__"));
        assertTrue(fail(raw("nofmt.st", header("{\"prompt_tokens\":\"3\"}", "[2,2,8]", "F32"), 448))
                .contains("metadata key 'format' is missing"));
        assertTrue(fail(raw("fmt.st", header("{\"format\":\"gguf\",\"prompt_tokens\":\"3\"}", "[2,2,8]", "F32"), 448))
                .contains("unsupported format 'gguf' (expected 'pariskv-trace/1')"));
        assertTrue(fail(raw("nopt.st", header("{\"format\":\"pariskv-trace/1\"}", "[2,2,8]", "F32"), 448))
                .contains("metadata key 'prompt_tokens' is missing"));
    }

    @Test
    void missingTensorForALayer() throws IOException {
        String h = header(META, "[2,2,8]", "F32");
        h = h.substring(0, h.length() - 1) + entry("layers.1.q", "F32", "[2,2,8]", 0, 128)
                + entry("layers.1.k", "F32", "[5,1,8]", 128, 288) + "}";
        assertTrue(fail(raw("nolayer.st", h, 448)).contains("layer 1: tensor layers.1.v is missing"));
    }

    @Test
    void shapeMismatches() throws IOException {
        // v differs from k
        String h = header(META, "[2,2,8]", "F32").replace("\"layers.0.v\":{\"dtype\":\"F32\",\"shape\":[5,1,8]",
                "\"layers.0.v\":{\"dtype\":\"F32\",\"shape\":[5,1,4]");
        assertTrue(fail(raw("vshape.st", h, 448)).contains("tensor layers.0.v has shape [5, 1, 4], expected [5, 1, 8]"));
        // q head dim differs from k
        String m = fail(raw("qshape.st", header(META, "[2,2,16]", "F32").replace("[0,128]", "[0,256]"), 576));
        assertTrue(m.contains("tensor layers.0.q has shape [2, 2, 16], expected [2, 2, 8]"), m);
        // metadata prompt_tokens disagrees with k tokens and q steps
        m = fail(raw("pt.st", header("{\"format\":\"pariskv-trace/1\",\"prompt_tokens\":\"4\"}", "[2,2,8]", "F32"), 448));
        assertTrue(m.contains("layers.0.k has 5 tokens but metadata prompt_tokens (4) + steps from layers.0.q (2) = 6"), m);
    }

    @Test
    void offsetsAndTruncation() throws IOException {
        String m = fail(raw("trunc.st", header(META, "[2,2,8]", "F32"), 300));
        assertTrue(m.contains("file truncated: tensor layers.0.v needs data bytes [288, 448)"), m);
        long headerLen = header(META, "[2,2,8]", "F32").getBytes(StandardCharsets.UTF_8).length;
        assertTrue(m.contains("expected at least " + (8 + headerLen + 448) + " bytes in the file, present "
                + (8 + headerLen + 300)), m);
        m = fail(raw("span.st", header(META, "[2,2,8]", "F32").replace("[288,448]", "[288,440]"), 448));
        assertTrue(m.contains("data_offsets [288, 440] span 152 bytes, but F32 x [5, 1, 8] needs 160 bytes"), m);
    }

    @Test
    void unknownDtype() throws IOException {
        String m = fail(raw("dtype.st", header(META, "[2,2,8]", "I8"), 448));
        assertTrue(m.contains("tensor layers.0.v: unknown dtype 'I8' (accepted: F32, F16, BF16)"), m);
    }

    @Test
    void nonFiniteDataNamed() throws IOException {
        Path f = raw("nan.st", header(META, "[2,2,8]", "F32"), 448);
        byte[] all = Files.readAllBytes(f);
        int dataStart = all.length - 448;
        ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).putFloat(dataStart + 128 + 4 * (2 * 8 + 1), Float.NaN);
        Files.write(f, all);
        assertTrue(fail(f).contains("non-finite value NaN in keys at layer 0, head 0, token 2, channel 1"));
    }

    @Test
    void badPlantedMetadata() throws IOException {
        String meta = "{\"format\":\"pariskv-trace/1\",\"prompt_tokens\":\"3\",\"layers.0.planted\":\"[[1],[x]]\"}";
        assertTrue(fail(raw("pl.st", header(meta, "[2,2,8]", "F32"), 448))
                .contains("metadata 'layers.0.planted' is not an array of integer arrays"));
    }
}
