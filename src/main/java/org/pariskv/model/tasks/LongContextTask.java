package org.pariskv.model.tasks;

import java.util.List;
import java.util.Locale;

/**
 * A RULER-like task of docs/tasks.md: builds seeded prompts of a target length in bytes for the byte-level model.
 * The same seed gives the same bytes.
 */
public sealed interface LongContextTask permits PasskeyTask, NiahSingleTask, NiahMultikeyTask, KvLookupTask, VarTrackTask {

    /** All tasks, in the doc's order. */
    List<LongContextTask> ALL = List.of(new PasskeyTask(), new NiahSingleTask(), new NiahMultikeyTask(), new KvLookupTask(), new VarTrackTask());

    /** The task's name as the doc and {@code --tasks} spell it. */
    String name();

    /** The smallest target context (bytes) this task accepts: every prompt part plus one NOISE group (kv_lookup: 5 lines). */
    int minContext();

    /** One instance of at most {@code target} bytes; needle depths as the doc says (drawn uniformly, or evenly spread). */
    TaskInstance generate(int target, long seed);

    /**
     * One instance whose answer needle sits at {@code depth} (0..1): passkey, niah_single, kv_lookup (the asked line).
     * The multi-needle tasks spread their needles evenly and refuse a depth.
     */
    TaskInstance generateAt(int target, double depth, long seed);

    static LongContextTask byName(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        for (LongContextTask t : ALL) if (t.name().equals(n)) return t;
        throw new IllegalArgumentException("unknown task '" + name + "' (expected one of " + String.join(", ", names()) + ")");
    }

    static List<String> names() {
        return ALL.stream().map(LongContextTask::name).toList();
    }

    /** Refuses a target below {@link #minContext()} or a depth outside 0..1, naming the task and its minimum. */
    default void check(int target, double depth) {
        if (target < minContext()) {
            throw new IllegalArgumentException("context " + target + " is too small for " + name() + " (minimum " + minContext() + " bytes)");
        }
        if (!(depth >= 0 && depth <= 1)) throw new IllegalArgumentException("depth " + depth + " is outside 0..1");
    }
}
