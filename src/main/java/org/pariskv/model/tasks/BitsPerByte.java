package org.pariskv.model.tasks;

import org.pariskv.model.LlamaModel;
import org.pariskv.model.Session;

/**
 * Bits per byte of held-out text over a long generation: the first {@code prefill} bytes are prefilled (full
 * attention), then each of the next {@code steps} bytes is scored by the logits before it and fed as a decode step
 * through the model's attention method, so the cost of sparse attention shows as it drifts away from the prompt.
 */
public final class BitsPerByte {
    private BitsPerByte() {}

    /**
     * One measurement.
     *
     * @param bits       total bits (cross-entropy, log2) of the scored bytes
     * @param bytes      bytes scored
     * @param firstHalf  bits per byte of the first half of the scored bytes
     * @param secondHalf bits per byte of the second half (drift shows as a gap between the halves)
     * @param msPerStep  mean decode step time, the whole model
     */
    public record Result(double bits, int bytes, double firstHalf, double secondHalf, double msPerStep) {
        public double bitsPerByte() {
            return bits / bytes;
        }
    }

    /** Scores {@code text[prefill, prefill + steps)} after prefilling {@code text[0, prefill)} (BOS first, if the model has one). */
    public static Result measure(LlamaModel model, byte[] text, int prefill, int steps, SharedPrefill shared) {
        if (prefill < 1 || steps < 2) throw new IllegalArgumentException("need prefill >= 1 and steps >= 2, got " + prefill + " and " + steps);
        if (prefill + steps > text.length) {
            throw new IllegalArgumentException("prefill + steps = " + (prefill + steps) + " bytes, but the text has " + text.length);
        }
        int bos = model.config().bosTokenId(), lead = bos >= 0 ? 1 : 0;
        int[] prompt = new int[prefill + lead];
        if (lead == 1) prompt[0] = bos;
        for (int i = 0; i < prefill; i++) prompt[i + lead] = text[i] & 0xFF;
        double first = 0, second = 0;
        long t0;
        try (Session s = model.newSession()) {
            if (shared != null) shared.prefill(s, prompt);
            else s.prefill(prompt);
            t0 = System.nanoTime();
            for (int i = 0; i < steps; i++) {
                int next = text[prefill + i] & 0xFF;
                double bits = -logSoftmax(s.logits(), next) / Math.log(2);
                if (i < steps / 2) first += bits;
                else second += bits;
                if (i < steps - 1) s.decode(next);
            }
        }
        double ms = (System.nanoTime() - t0) / 1e6 / Math.max(1, steps - 1);
        return new Result(first + second, steps, first / (steps / 2), second / (steps - steps / 2), ms);
    }

    /** log softmax(logits)[k], in double. */
    static double logSoftmax(float[] logits, int k) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) max = Math.max(max, l);
        double sum = 0;
        for (float l : logits) sum += Math.exp(l - max);
        return logits[k] - max - Math.log(sum);
    }
}
