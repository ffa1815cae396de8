package org.pariskv.model.tasks;

import java.util.ArrayList;
import java.util.List;

/** {@code kv_lookup}: lines {@code {hex}: {hex}} (no filler) up to the target; the value of one key is asked. */
public record KvLookupTask() implements LongContextTask {
    static final String INTRO = "Extract the value for the key from the list below.\n";
    static final int LINE_BYTES = 8 + 2 + 8 + 1;
    static final int MIN_LINES = 5;

    static String question(String key) {
        return "\nKey: " + key + "\nValue: ";
    }

    @Override
    public String name() {
        return "kv_lookup";
    }

    @Override
    public int minContext() {
        return 1 + INTRO.length() + question("00000000").length() + MIN_LINES * LINE_BYTES;
    }

    @Override
    public TaskInstance generate(int target, long seed) {
        TaskRandom r = new TaskRandom(seed);
        int lines = lines(target);
        return build(target, r.index(lines), lines, r);
    }

    /** The asked line is the first at or beyond {@code depth × lines}, as a needle goes to the first boundary at or beyond. */
    @Override
    public TaskInstance generateAt(int target, double depth, long seed) {
        int lines = lines(target);
        check(target, depth);
        return build(target, Math.min(lines - 1, (int) Math.ceil(depth * lines)), lines, new TaskRandom(seed));
    }

    private int lines(int target) {
        check(target, 0);
        return (target - 1 - INTRO.length() - question("00000000").length()) / LINE_BYTES;
    }

    private TaskInstance build(int target, int asked, int lines, TaskRandom r) {
        List<String> keys = r.distinct(lines, r::hex);
        List<String> values = new ArrayList<>(lines);
        StringBuilder body = new StringBuilder(INTRO);
        for (String key : keys) {
            String v = r.hex();
            values.add(v);
            body.append(key).append(": ").append(v).append('\n');
        }
        body.append(question(keys.get(asked)));
        double depth = asked / (double) lines;
        return Prompts.instance(name(), target, body.toString(), values.get(asked), List.of(depth), depth);
    }
}
