package org.pariskv.model.tasks;

/**
 * What the suite needs of a model: greedy answers to prompts. One is opened per method and closed after its
 * last prompt (so a model is loaded once per method).
 */
@FunctionalInterface
public interface Answerer extends AutoCloseable {

    /**
     * The bytes generated after {@code prompt} (which starts with BOS {@code 0x02}), one char per byte
     * (ISO-8859-1). Generation may stop at the first {@code \n} and must not go past {@code maxAnswerBytes};
     * anything after the first {@code \n} is ignored by the scoring.
     */
    String answer(byte[] prompt, int maxAnswerBytes);

    /** Frees the model; nothing by default. */
    @Override
    default void close() {}
}
