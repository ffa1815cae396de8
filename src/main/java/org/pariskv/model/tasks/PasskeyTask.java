package org.pariskv.model.tasks;

import java.util.List;

/** {@code passkey}: a 5-digit pass key stated once in the filler. */
public record PasskeyTask() implements LongContextTask {
    static final String INTRO = "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. ";
    static final String QUESTION = "\nWhat is the pass key? The pass key is ";

    static String needle(String n5) {
        return "The pass key is " + n5 + ". Remember it. " + n5 + " is the pass key. ";
    }

    @Override
    public String name() {
        return "passkey";
    }

    @Override
    public int minContext() {
        return Prompts.minimumWithFiller(Prompts.fixedBytes(INTRO, List.of(needle("00000")), QUESTION));
    }

    @Override
    public TaskInstance generate(int target, long seed) {
        TaskRandom r = new TaskRandom(seed);
        return build(target, r.depth(), r);
    }

    @Override
    public TaskInstance generateAt(int target, double depth, long seed) {
        return build(target, depth, new TaskRandom(seed));
    }

    private TaskInstance build(int target, double depth, TaskRandom r) {
        check(target, depth);
        String n5 = r.n5();
        return Prompts.withFiller(name(), target, INTRO, List.of(needle(n5)), List.of(depth), QUESTION, n5, depth);
    }
}
