package org.pariskv.model.tasks;

import java.util.ArrayList;
import java.util.List;

/** {@code niah_multikey}: four magic numbers under distinct keys at evenly spread depths; one key is asked. */
public record NiahMultikeyTask() implements LongContextTask {
    static final int NEEDLES = 4;

    @Override
    public String name() {
        return "niah_multikey";
    }

    @Override
    public int minContext() {
        return NiahSingleTask.minContext(NEEDLES);
    }

    @Override
    public TaskInstance generate(int target, long seed) {
        check(target, 0);
        TaskRandom r = new TaskRandom(seed);
        List<String> keys = r.distinct(NEEDLES, r::key);
        List<String> numbers = new ArrayList<>(), needles = new ArrayList<>();
        for (String key : keys) {
            String n7 = r.n7();
            numbers.add(n7);
            needles.add(NiahSingleTask.needle(key, n7));
        }
        int asked = r.index(NEEDLES);
        List<Double> depths = Prompts.evenlySpread(NEEDLES);
        return Prompts.withFiller(name(), target, NiahSingleTask.INTRO, needles, depths, NiahSingleTask.question(keys.get(asked)),
                numbers.get(asked), depths.get(asked));
    }

    @Override
    public TaskInstance generateAt(int target, double depth, long seed) {
        throw new IllegalArgumentException(name() + " spreads its " + NEEDLES + " needles evenly; it takes no depth");
    }
}
