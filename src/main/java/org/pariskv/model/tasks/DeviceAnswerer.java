package org.pariskv.model.tasks;

import org.pariskv.ParisKvConfig;
import org.pariskv.compute.Backend;
import org.pariskv.model.DeviceLlama;

/**
 * {@link ModelAnswerer}'s protocol on a device ({@link DeviceLlama}: weights on the device, every layer's attention a
 * device decoder): the prompt but its last {@link ModelAnswerer#QUESTION_BYTES} bytes is prefilled (on the CPU, full
 * attention, then handed to every layer, which builds its index), the question and each answer byte are device decode
 * steps, greedy. The same answers as the Java engine's up to float rounding.
 */
public final class DeviceAnswerer implements Answerer {
    private final java.nio.file.Path dir;
    private final Backend backend;
    private final ParisKvConfig kv;
    private final boolean dense;

    /** {@code dense}: full attention in every layer, else ParisKV; a model is loaded per answer (its capacity). */
    public DeviceAnswerer(java.nio.file.Path dir, Backend backend, ParisKvConfig kv, boolean dense) {
        this.dir = dir;
        this.backend = backend;
        this.kv = kv;
        this.dense = dense;
    }

    @Override
    public String answer(byte[] prompt, int maxAnswerBytes) {
        return answerTimed(prompt, maxAnswerBytes).text();
    }

    /** The answer and its cost; {@code kvBytes}, {@code attended} and {@code offered} are not measured here (-1, 0, 0). */
    public ModelAnswerer.Answer answerTimed(byte[] prompt, int maxAnswerBytes) {
        int[] tokens = new int[prompt.length];
        for (int i = 0; i < prompt.length; i++) tokens[i] = prompt[i] & 0xFF;
        int split = Math.max(1, prompt.length - ModelAnswerer.QUESTION_BYTES);
        StringBuilder out = new StringBuilder();
        try (DeviceLlama m = DeviceLlama.load(dir, backend, kv, dense, prompt.length + maxAnswerBytes + 1, true)) {
            if (m.config().vocabSize() != 256) {
                throw new IllegalArgumentException("the tasks need a byte-level model (vocabulary 256), this one has " + m.config().vocabSize());
            }
            long t0 = System.nanoTime();
            float[] logits = m.prefill(java.util.Arrays.copyOf(tokens, split));
            long t1 = System.nanoTime();
            for (int i = split; i < tokens.length; i++) logits = m.decode(tokens[i]);
            for (int n = 0; n < maxAnswerBytes; n++) {
                int next = argmax(logits);
                if (next == '\n') break;
                out.append((char) next);
                if (n + 1 < maxAnswerBytes) logits = m.decode(next);
            }
            long t2 = System.nanoTime();
            int steps = tokens.length - split + Math.max(0, out.length() - (out.length() == maxAnswerBytes ? 1 : 0));
            return new ModelAnswerer.Answer(out.toString(), split, t1 - t0, steps, t2 - t1, -1, 0, 0);
        }
    }

    private static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}
