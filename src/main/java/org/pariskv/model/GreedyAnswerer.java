package org.pariskv.model;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.pariskv.ParisKvConfig;
import org.pariskv.model.tasks.Answerer;

/**
 * The RULER-like suite's view of a byte-level model: each prompt in a fresh session, decoded greedily with one
 * attention method in every layer until {@code \n} or the answer limit (docs/tasks.md). Closing it closes the model.
 */
public final class GreedyAnswerer implements Answerer {

    private final LlamaModel model;

    private GreedyAnswerer(LlamaModel model) {
        this.model = model;
    }

    /** Loads the model in {@code dir} with {@code method}; refuses a model that is not byte-level (vocabulary 256). */
    public static GreedyAnswerer open(Path dir, String method, ParisKvConfig kv) {
        LlamaModel m = LlamaModel.load(dir, method, kv);
        if (m.config().vocabSize() != 256) {
            m.close();
            throw new IllegalArgumentException("the tasks need a byte-level model (vocabulary 256), " + dir + " has " + m.config().vocabSize());
        }
        return new GreedyAnswerer(m);
    }

    @Override
    public String answer(byte[] prompt, int maxAnswerBytes) {
        int[] ids = new int[prompt.length];
        for (int i = 0; i < ids.length; i++) ids[i] = prompt[i] & 0xff;
        try (Session s = model.newSession()) {
            s.prefill(ids);
            int[] out = s.generate(Sampler.greedy(), maxAnswerBytes, t -> t == '\n');
            byte[] b = new byte[out.length];
            for (int i = 0; i < b.length; i++) b[i] = (byte) out[i];
            return new String(b, StandardCharsets.ISO_8859_1);
        }
    }

    @Override
    public void close() {
        model.close();
    }
}
