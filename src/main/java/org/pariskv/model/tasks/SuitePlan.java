package org.pariskv.model.tasks;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;

/**
 * What a suite runs: every task at every context, {@code samples} instances each, answered by every method.
 * Instances depend only on (seed, task, context, index), so every method sees the same prompts and adding a
 * task or a context leaves the others' prompts unchanged. Passkey instance {@code i} is at depth
 * {@code 10 × (1 + i mod 9)} %; the other tasks draw theirs.
 */
public record SuitePlan(List<LongContextTask> tasks, List<Integer> contexts, List<String> methods, int samples, long seed) {

    public SuitePlan {
        tasks = List.copyOf(tasks);
        contexts = List.copyOf(contexts);
        methods = List.copyOf(methods);
        if (tasks.isEmpty()) throw new IllegalArgumentException("no task given");
        if (contexts.isEmpty()) throw new IllegalArgumentException("no context given");
        if (methods.isEmpty()) throw new IllegalArgumentException("no method given");
        if (samples < 1) throw new IllegalArgumentException("samples must be at least 1, got " + samples);
        distinct("task", tasks.stream().map(LongContextTask::name).toList());
        distinct("method", methods);
        distinct("context", contexts.stream().map(String::valueOf).toList());
        for (LongContextTask t : tasks) {
            for (int c : contexts) {
                if (c < t.minContext()) {
                    throw new IllegalArgumentException("context " + c + " is too small for " + t.name() + " (minimum " + t.minContext() + " bytes)");
                }
            }
        }
    }

    /** The depth of passkey instance {@code i}: 10 %, 20 %, ..., 90 %, then again. */
    public static double passkeyDepth(int i) {
        return (1 + i % 9) / 10.0;
    }

    /** The {@code samples} instances of one task at one context. */
    public List<TaskInstance> instances(LongContextTask task, int context) {
        List<TaskInstance> out = new ArrayList<>(samples);
        for (int i = 0; i < samples; i++) {
            long s = instanceSeed(seed, task.name(), context, i);
            out.add(task instanceof PasskeyTask ? task.generateAt(context, passkeyDepth(i), s) : task.generate(context, s));
        }
        return out;
    }

    /** Total answers the suite asks for. */
    public long answers() {
        return (long) tasks.size() * contexts.size() * methods.size() * samples;
    }

    /** SplitMix64 over the parts: the seed of one instance. */
    static long instanceSeed(long seed, String task, int context, int index) {
        long h = mix(seed);
        h = mix(h ^ task.hashCode());
        h = mix(h ^ context);
        return mix(h ^ index);
    }

    private static long mix(long z) {
        z += 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static void distinct(String what, List<String> names) {
        if (new HashSet<>(names).size() != names.size()) throw new IllegalArgumentException("a " + what + " appears twice: " + names);
    }
}
