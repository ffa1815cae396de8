package org.pariskv.model.tasks;

import java.util.List;

/** {@code niah_single}: one 7-digit magic number under a two-word key. */
public record NiahSingleTask() implements LongContextTask {
    static final String INTRO = "Some special magic numbers are hidden in the text below. Memorize them. ";

    static String needle(String key, String n7) {
        return "The special magic number for " + key + " is: " + n7 + ". ";
    }

    static String question(String key) {
        return "\nWhat is the special magic number for " + key + "? The special magic number for " + key + " is: ";
    }

    /** The minimum of a prompt with these many needles, sized with the longest key. */
    static int minContext(int needles) {
        String key = "k".repeat(TaskRandom.LONGEST_KEY);
        return Prompts.minimumWithFiller(Prompts.fixedBytes(INTRO, java.util.Collections.nCopies(needles, needle(key, "0000000")), question(key)));
    }

    @Override
    public String name() {
        return "niah_single";
    }

    @Override
    public int minContext() {
        return minContext(1);
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
        String key = r.key(), n7 = r.n7();
        return Prompts.withFiller(name(), target, INTRO, List.of(needle(key, n7)), List.of(depth), question(key), n7, depth);
    }
}
