package org.pariskv.model.tasks;

import java.util.Arrays;
import java.util.List;

/**
 * One generated prompt of a {@link LongContextTask}.
 *
 * @param task         the task's name ({@code passkey}, ...)
 * @param target       the context length asked for, in bytes; the prompt is at most that long
 * @param prompt       the prompt's bytes, BOS {@code 0x02} first, ASCII after it (a copy is kept and handed out)
 * @param expected     the answer that solves it
 * @param depths       the depth (0..1) of every needle, in prompt order (kv_lookup: the asked line's)
 * @param answerDepth  the depth of the needle the answer comes from (vartrack: the first assignment's)
 */
public record TaskInstance(String task, int target, byte[] prompt, String expected, List<Double> depths, double answerDepth) {

    public TaskInstance {
        prompt = prompt.clone();
        depths = List.copyOf(depths);
    }

    @Override
    public byte[] prompt() {
        return prompt.clone();
    }

    /** The context length: the prompt's bytes including BOS. */
    public int context() {
        return prompt.length;
    }

    /** The prompt as text (ISO-8859-1: one char per byte). */
    public String promptText() {
        return new String(prompt, java.nio.charset.StandardCharsets.ISO_8859_1);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TaskInstance t && t.task.equals(task) && t.target == target && Arrays.equals(t.prompt, prompt)
                && t.expected.equals(expected) && t.depths.equals(depths) && Double.compare(t.answerDepth, answerDepth) == 0;
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(prompt) + expected.hashCode();
    }

    @Override
    public String toString() {
        return "TaskInstance[" + task + ", target " + target + ", context " + prompt.length + ", expected " + expected + ", depths " + depths + "]";
    }
}
