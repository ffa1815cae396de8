package org.pariskv.select;

/**
 * Fills one token budget from several ranked lists (one per query head of a GQA group). Items are taken in
 * (rank, head) order — every head's best, then every head's second, ... — keeping first occurrences, until
 * the budget is full. Heads that look at different tokens all keep their best ones, which a single
 * group-mean query cannot guarantee. The rule is order-free per item (an item is kept iff no earlier item
 * in that order has its token and fewer than {@code budget} distinct tokens precede it), so a device runs it
 * as one flag-and-scan pass.
 */
public final class GroupMerge {
    private GroupMerge() {}

    /** Merges {@code lists[h][0..lengths[h])} into at most {@code budget} distinct tokens, ascending. */
    public static int[] roundRobin(int[][] lists, int[] lengths, int budget) {
        java.util.HashSet<Integer> taken = new java.util.HashSet<>(budget * 2);
        int[] out = new int[budget];
        int n = 0;
        int depth = 0;
        for (int len : lengths) depth = Math.max(depth, len);
        for (int r = 0; r < depth && n < budget; r++) {
            for (int h = 0; h < lists.length && n < budget; h++) {
                if (r < lengths[h] && taken.add(lists[h][r])) out[n++] = lists[h][r];
            }
        }
        int[] result = java.util.Arrays.copyOf(out, n);
        java.util.Arrays.sort(result);
        return result;
    }
}
