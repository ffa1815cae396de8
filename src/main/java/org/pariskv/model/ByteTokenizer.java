package org.pariskv.model;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The bundled model's tokenizer (docs/tasks.md): token id = one UTF-8 byte, vocabulary 256, BOS = {@code 0x02}
 * (STX), which is also the attention sink.
 */
public final class ByteTokenizer implements Tokenizer {

    public static final int BOS = 0x02;

    @Override
    public int[] encode(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length];
        for (int i = 0; i < b.length; i++) ids[i] = b[i] & 0xff;
        return ids;
    }

    @Override
    public String decode(int[] tokens) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(tokens.length);
        for (int t : tokens) {
            if (t < 0 || t > 255) throw new IllegalArgumentException("token " + t + " is not a byte (vocabulary 256)");
            if (t != BOS) out.write(t);
        }
        return out.toString(StandardCharsets.UTF_8); // malformed sequences become U+FFFD
    }

    @Override
    public int bos() {
        return BOS;
    }

    @Override
    public int vocabSize() {
        return 256;
    }
}
