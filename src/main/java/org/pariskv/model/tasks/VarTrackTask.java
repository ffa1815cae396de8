package org.pariskv.model.tasks;

import java.util.ArrayList;
import java.util.List;

/** {@code vartrack}: a value passed along a chain of four variable assignments at evenly spread depths. */
public record VarTrackTask() implements LongContextTask {
    static final int CHAIN = 4;
    static final String INTRO = "Memorize and track the chain of variable assignments hidden in the text below. ";

    static String question(String n5) {
        return "\nQuestion: Find all variables that are assigned the value " + n5 + ". Answer: ";
    }

    static List<String> needles(List<String> vars, String n5) {
        List<String> needles = new ArrayList<>();
        needles.add("VAR " + vars.getFirst() + " = " + n5 + ". ");
        for (int i = 1; i < vars.size(); i++) needles.add("VAR " + vars.get(i) + " = VAR " + vars.get(i - 1) + ". ");
        return needles;
    }

    @Override
    public String name() {
        return "vartrack";
    }

    @Override
    public int minContext() {
        List<String> vars = java.util.Collections.nCopies(CHAIN, "AAA");
        return Prompts.minimumWithFiller(Prompts.fixedBytes(INTRO, needles(vars, "00000"), question("00000")));
    }

    @Override
    public TaskInstance generate(int target, long seed) {
        check(target, 0);
        TaskRandom r = new TaskRandom(seed);
        List<String> vars = r.distinct(CHAIN, r::variable);
        String n5 = r.n5();
        List<Double> depths = Prompts.evenlySpread(CHAIN);
        return Prompts.withFiller(name(), target, INTRO, needles(vars, n5), depths, question(n5), String.join(" ", vars), depths.getFirst());
    }

    @Override
    public TaskInstance generateAt(int target, double depth, long seed) {
        throw new IllegalArgumentException(name() + " spreads its " + CHAIN + " assignments evenly; it takes no depth");
    }
}
