package org.pariskv.model.tasks;

import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/** The random fields of docs/tasks.md ({n5}, {n7}, {key}, {hex}, {var}) drawn from one seeded {@link Random}. */
final class TaskRandom {
    /** The 64 words of {@code {key}}, in the doc's order. */
    static final List<String> KEY_WORDS = List.of(
            "amber", "falcon", "river", "copper", "maple", "silver", "harbor", "violet", "canyon", "meadow", "ember", "glacier",
            "lantern", "orchid", "pebble", "quartz", "raven", "saffron", "thistle", "willow", "basalt", "cedar", "dune", "fern",
            "granite", "hazel", "iris", "juniper", "kelp", "lotus", "marble", "nectar", "opal", "pine", "quill", "ridge", "sable",
            "tundra", "umber", "velvet", "walnut", "yarrow", "zephyr", "acorn", "birch", "cobalt", "delta", "echo", "fjord",
            "garnet", "heron", "indigo", "jade", "koi", "lilac", "mist", "nova", "onyx", "prairie", "quince", "rust", "sienna",
            "topaz", "wren");

    /** The longest {@code {key}}: two of the longest words and the {@code -}; sizes the tasks' minimum contexts. */
    static final int LONGEST_KEY = 2 * KEY_WORDS.stream().mapToInt(String::length).max().orElseThrow() + 1;

    private final Random rng;

    TaskRandom(long seed) {
        this.rng = new Random(seed);
    }

    /** 10000–99999. */
    String n5() {
        return Integer.toString(10_000 + rng.nextInt(90_000));
    }

    /** 1000000–9999999. */
    String n7() {
        return Integer.toString(1_000_000 + rng.nextInt(9_000_000));
    }

    /** Two distinct words joined by {@code -}. */
    String key() {
        int a = rng.nextInt(KEY_WORDS.size()), b = rng.nextInt(KEY_WORDS.size() - 1);
        if (b >= a) b++;
        return KEY_WORDS.get(a) + "-" + KEY_WORDS.get(b);
    }

    /** 8 lowercase hex digits. */
    String hex() {
        return String.format(java.util.Locale.ROOT, "%08x", rng.nextInt());
    }

    /** 3 uppercase letters. */
    String variable() {
        char[] c = new char[3];
        for (int i = 0; i < 3; i++) c[i] = (char) ('A' + rng.nextInt(26));
        return new String(c);
    }

    /** A depth in [0, 1). */
    double depth() {
        return rng.nextDouble();
    }

    int index(int bound) {
        return rng.nextInt(bound);
    }

    /** {@code n} distinct values of {@code draw}: a question must name one needle only. */
    List<String> distinct(int n, java.util.function.Supplier<String> draw) {
        Set<String> seen = new HashSet<>();
        java.util.ArrayList<String> out = new java.util.ArrayList<>(n);
        while (out.size() < n) {
            String s = draw.get();
            if (seen.add(s)) out.add(s);
        }
        return out;
    }
}
