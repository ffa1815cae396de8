package org.pariskv.model.tasks;

import java.util.ArrayList;
import java.util.List;

/**
 * The {@code NOISE} filler of docs/tasks.md: its five sentences repeated, cut at a sentence boundary, and the
 * placement of needles at boundaries by depth.
 */
final class Filler {
    private Filler() {}

    /** The sentence group, each sentence followed by one space. */
    static final List<String> SENTENCES = List.of("The grass is green. ", "The sky is blue. ", "The sun is yellow. ",
            "Here we go. ", "There and back again. ");

    /** Bytes of one whole group (90). */
    static final int GROUP_BYTES = SENTENCES.stream().mapToInt(String::length).sum();

    /** The longest sentence (22 bytes): the most a cut filler can fall short of its budget. */
    static final int LONGEST_SENTENCE = SENTENCES.stream().mapToInt(String::length).max().orElseThrow();

    /** The longest repetition of the sentences that ends at a sentence boundary and has at most {@code budget} bytes. */
    static String cut(int budget) {
        if (budget < 0) throw new IllegalArgumentException("negative filler budget " + budget);
        StringBuilder sb = new StringBuilder(budget);
        for (int i = 0; ; i++) {
            String s = SENTENCES.get(i % SENTENCES.size());
            if (sb.length() + s.length() > budget) return sb.toString();
            sb.append(s);
        }
    }

    /**
     * The boundary where a needle of depth {@code d} goes: the first sentence boundary (0, or just after a
     * {@code ". "}) at or beyond {@code d × filler.length()}; the filler's end when none is.
     */
    static int boundaryAtDepth(String filler, double d) {
        double at = d * filler.length();
        if (at <= 0) return 0;
        for (int i = 0; i + 1 < filler.length(); i++) {
            if (filler.charAt(i) == '.' && filler.charAt(i + 1) == ' ' && i + 2 >= at) return i + 2;
        }
        return filler.length();
    }

    /**
     * The filler with needle {@code i} inserted at {@link #boundaryAtDepth} of {@code depths[i]} (measured on the
     * filler without needles); needles at one boundary keep their order. Depths must not decrease.
     */
    static String withNeedles(String filler, List<String> needles, List<Double> depths) {
        if (needles.size() != depths.size()) throw new IllegalArgumentException(needles.size() + " needles, " + depths.size() + " depths");
        StringBuilder sb = new StringBuilder(filler.length() + needles.stream().mapToInt(String::length).sum());
        int from = 0;
        List<Integer> at = new ArrayList<>();
        for (double d : depths) at.add(boundaryAtDepth(filler, d));
        for (int i = 0; i < needles.size(); i++) {
            if (at.get(i) < from) throw new IllegalArgumentException("needle depths must not decrease: " + depths);
            sb.append(filler, from, at.get(i)).append(needles.get(i));
            from = at.get(i);
        }
        return sb.append(filler, from, filler.length()).toString();
    }
}
