package org.pariskv.model.tasks;

import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the answer out of a prompt with regular expressions written from docs/tasks.md alone (no generator
 * code): the tests' independent check of every task, and the perfect {@link Answerer}.
 */
final class TaskOracle {
    private TaskOracle() {}

    static final Pattern PASSKEY = Pattern.compile("The pass key is (\\d{5})\\. Remember it\\. \\1 is the pass key\\. ");
    static final Pattern PASSKEY_Q = Pattern.compile("\nWhat is the pass key\\? The pass key is \\z");
    static final Pattern NIAH_Q = Pattern.compile(
            "\nWhat is the special magic number for ([a-z]+-[a-z]+)\\? The special magic number for \\1 is: \\z");
    static final Pattern NIAH = Pattern.compile("The special magic number for ([a-z]+-[a-z]+) is: (\\d{7})\\. ");
    static final Pattern KV_Q = Pattern.compile("\nKey: ([0-9a-f]{8})\nValue: \\z");
    static final Pattern KV_LINE = Pattern.compile("^([0-9a-f]{8}): ([0-9a-f]{8})$", Pattern.MULTILINE);
    static final Pattern VAR_Q = Pattern.compile("\nQuestion: Find all variables that are assigned the value (\\d{5})\\. Answer: \\z");
    static final Pattern VAR_VALUE = Pattern.compile("VAR ([A-Z]{3}) = (\\d{5})\\. ");
    static final Pattern VAR_COPY = Pattern.compile("VAR ([A-Z]{3}) = VAR ([A-Z]{3})\\. ");

    static String answer(byte[] prompt) {
        if (prompt.length == 0 || prompt[0] != 0x02) throw new IllegalArgumentException("no BOS");
        String p = new String(prompt, 1, prompt.length - 1, StandardCharsets.US_ASCII);
        Matcher q;
        if ((q = PASSKEY_Q.matcher(p)).find()) return only(PASSKEY.matcher(p)).group(1);
        if ((q = NIAH_Q.matcher(p)).find()) {
            String key = q.group(1), found = null;
            for (Matcher m = NIAH.matcher(p); m.find(); ) {
                if (m.group(1).equals(key)) {
                    if (found != null) throw new IllegalStateException("key " + key + " twice");
                    found = m.group(2);
                }
            }
            if (found == null) throw new IllegalStateException("no needle for " + key);
            return found;
        }
        if ((q = KV_Q.matcher(p)).find()) {
            String key = q.group(1), found = null;
            for (Matcher m = KV_LINE.matcher(p); m.find(); ) {
                if (m.group(1).equals(key)) {
                    if (found != null) throw new IllegalStateException("key " + key + " twice");
                    found = m.group(2);
                }
            }
            if (found == null) throw new IllegalStateException("no line for " + key);
            return found;
        }
        if ((q = VAR_Q.matcher(p)).find()) {
            String value = q.group(1);
            Matcher first = only(VAR_VALUE.matcher(p));
            if (!first.group(2).equals(value)) throw new IllegalStateException("value " + value + " not assigned");
            StringBuilder chain = new StringBuilder(first.group(1));
            String last = first.group(1);
            for (Matcher m = VAR_COPY.matcher(p); m.find(); ) {
                if (m.group(2).equals(last)) {
                    last = m.group(1);
                    chain.append(' ').append(last);
                }
            }
            return chain.toString();
        }
        throw new IllegalArgumentException("no known question at the end of the prompt");
    }

    private static Matcher only(Matcher m) {
        if (!m.find()) throw new IllegalStateException("no needle");
        Matcher one = m.pattern().matcher(m.group());
        one.find();
        String whole = m.group();
        if (m.find()) throw new IllegalStateException("needle twice: " + whole);
        return one;
    }
}
