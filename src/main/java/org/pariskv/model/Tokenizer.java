package org.pariskv.model;

/**
 * Text to token ids and back. {@link ByteTokenizer} serves the bundled byte-level model; a BPE {@code tokenizer.json}
 * implementation (Llama-3, Qwen) is the next one behind this interface.
 */
public interface Tokenizer {

    /** Ids of {@code text}, without BOS. */
    int[] encode(String text);

    /** The text of {@code tokens} (ids that are not text, such as BOS, are skipped). */
    String decode(int[] tokens);

    /** The id every sequence starts with, or -1 when the model has none. */
    int bos();

    int vocabSize();

    /** The tokenizer of a model directory: the byte tokenizer for a 256-token vocabulary; BPE is not implemented yet. */
    static Tokenizer forModel(java.nio.file.Path dir, LlamaConfig config) {
        if (config.vocabSize() == 256) return new ByteTokenizer();
        throw new IllegalArgumentException("the model in " + dir + " has a vocabulary of " + config.vocabSize()
                + " tokens, which needs its tokenizer.json (BPE); only the byte-level tokenizer (vocab 256) is implemented so far");
    }

    /** {@link #encode} with {@link #bos} in front when there is one. */
    default int[] encodeWithBos(String text) {
        int[] ids = encode(text);
        if (bos() < 0) return ids;
        int[] out = new int[ids.length + 1];
        out[0] = bos();
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }
}
