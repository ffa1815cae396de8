package org.pariskv.model.tasks;

import java.nio.charset.StandardCharsets;
import java.util.List;

/** Assembles a prompt of docs/tasks.md: BOS, intro, NOISE filler with needles, question; at most the target in bytes. */
final class Prompts {
    private Prompts() {}

    static final byte BOS = 0x02;

    /** The fixed bytes of a filler prompt (BOS, intro, needles, question): the filler gets the rest of the target. */
    static int fixedBytes(String intro, List<String> needles, String question) {
        return 1 + intro.length() + needles.stream().mapToInt(String::length).sum() + question.length();
    }

    /** The smallest target that leaves one whole NOISE group of filler: the tasks' minimum context. */
    static int minimumWithFiller(int fixedBytes) {
        return fixedBytes + Filler.GROUP_BYTES;
    }

    static TaskInstance withFiller(String task, int target, String intro, List<String> needles, List<Double> depths,
                                   String question, String expected, double answerDepth) {
        String filler = Filler.cut(target - fixedBytes(intro, needles, question));
        return instance(task, target, intro + Filler.withNeedles(filler, needles, depths) + question, expected, depths, answerDepth);
    }

    static TaskInstance instance(String task, int target, String body, String expected, List<Double> depths, double answerDepth) {
        byte[] text = body.getBytes(StandardCharsets.US_ASCII);
        byte[] prompt = new byte[text.length + 1];
        prompt[0] = BOS;
        System.arraycopy(text, 0, prompt, 1, text.length);
        return new TaskInstance(task, target, prompt, expected, depths, answerDepth);
    }

    /** Depths {@code (i + 1) / (n + 1)}: the "evenly spread" depths of several needles. */
    static List<Double> evenlySpread(int n) {
        Double[] d = new Double[n];
        for (int i = 0; i < n; i++) d[i] = (i + 1) / (double) (n + 1);
        return List.of(d);
    }
}
