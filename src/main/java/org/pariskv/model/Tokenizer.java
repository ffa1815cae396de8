package org.pariskv.model;

/**
 * Text to token ids and back. {@link ByteTokenizer} serves the bundled byte-level model, {@link BpeTokenizer} a
 * Hugging Face {@code tokenizer.json} (Llama-3, Qwen2/Qwen3).
 */
public interface Tokenizer {

    /** Ids of {@code text}, without BOS. */
    int[] encode(String text);

    /** The text of {@code tokens} (ids that are not text, such as BOS, are skipped). */
    String decode(int[] tokens);

    /** The id every sequence starts with, or -1 when the model has none. */
    int bos();

    int vocabSize();

    /**
     * The tokenizer of a model directory: its {@code tokenizer.json} when there is one (a vocabulary larger than the
     * config's {@code vocab_size} is refused), else the byte tokenizer for a 256-token vocabulary.
     */
    static Tokenizer forModel(java.nio.file.Path dir, LlamaConfig config) {
        java.nio.file.Path json = dir.resolve("tokenizer.json");
        if (java.nio.file.Files.isRegularFile(json)) {
            BpeTokenizer t = BpeTokenizer.read(json);
            if (t.vocabSize() > config.vocabSize()) {
                throw new ModelFormatException(json, "ids up to " + (t.vocabSize() - 1) + " (vocabulary of " + t.vocabSize()
                        + ") do not fit the model's vocab_size = " + config.vocabSize() + " in config.json");
            }
            return t;
        }
        if (config.vocabSize() == 256) return new ByteTokenizer();
        throw new IllegalArgumentException("the model in " + dir + " has a vocabulary of " + config.vocabSize()
                + " tokens and no tokenizer.json; without one only the byte-level tokenizer (vocab_size 256) can be used");
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
