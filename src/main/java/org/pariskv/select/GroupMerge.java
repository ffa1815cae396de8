package org.pariskv.select;

/**
 * Fills one token budget from several ranked lists (one per query head of a GQA group): round-robin over
 * the heads, each contributing its next best token not taken yet. Heads that look at different tokens
 * all keep their best ones, which a single group-mean query cannot guarantee.
 */
public final class GroupMerge {
    private GroupMerge() {}

    /** Merges {@code lists[h][0..lengths[h])} into at most {@code budget} distinct tokens, ascending. */
    public static int[] roundRobin(int[][] lists, int[] lengths, int budget) {
        java.util.HashSet<Integer> taken = new java.util.HashSet<>(budget * 2);
        int[] out = new int[budget];
        int n = 0;
        int[] next = new int[lists.length];
        boolean progress = true;
        while (n < budget && progress) {
            progress = false;
            for (int h = 0; h < lists.length && n < budget; h++) {
                while (next[h] < lengths[h]) {
                    int t = lists[h][next[h]++];
                    if (taken.add(t)) {
                        out[n++] = t;
                        progress = true;
                        break;
                    }
                }
            }
        }
        int[] r = java.util.Arrays.copyOf(out, n);
        java.util.Arrays.sort(r);
        return r;
    }
}
