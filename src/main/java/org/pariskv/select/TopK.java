package org.pariskv.select;

/**
 * The {@code k} best of {@code m} scored items: highest score first, equal scores by lower token. A bounded
 * heap of size {@code k}, O(m log k).
 */
public final class TopK {
    private TopK() {}

    /**
     * Ranks {@code tokens[0..m)} by {@code score[0..m)} and writes the best {@code min(k, m)} tokens to {@code out}
     * in rank order (best first). Returns the number written.
     */
    public static int ranked(float[] score, int[] tokens, int m, int k, int[] out) {
        int size = Math.min(k, m);
        if (size <= 0) return 0;
        // min-heap on (score, -token): the root is the worst kept item
        int[] heap = new int[size];
        int n = 0;
        for (int i = 0; i < m; i++) {
            if (n < size) {
                heap[n] = i;
                siftUp(heap, n++, score, tokens);
            } else if (better(i, heap[0], score, tokens)) {
                heap[0] = i;
                siftDown(heap, size, score, tokens);
            }
        }
        // pop worst-first into the back of out
        for (int end = size - 1; end >= 0; end--) {
            out[end] = tokens[heap[0]];
            heap[0] = heap[end];
            siftDown(heap, end, score, tokens);
        }
        return size;
    }

    /** Like {@link #ranked} but the result sorted by ascending token (set order). */
    public static int select(float[] score, int[] tokens, int m, int k, int[] out) {
        int n = ranked(score, tokens, m, k, out);
        java.util.Arrays.sort(out, 0, n);
        return n;
    }

    private static boolean better(int a, int b, float[] s, int[] t) {
        return s[a] > s[b] || (s[a] == s[b] && t[a] < t[b]);
    }

    private static void siftUp(int[] h, int i, float[] s, int[] t) {
        while (i > 0) {
            int p = (i - 1) >> 1;
            if (!better(h[p], h[i], s, t)) break;
            int x = h[p]; h[p] = h[i]; h[i] = x;
            i = p;
        }
    }

    private static void siftDown(int[] h, int n, float[] s, int[] t) {
        int i = 0;
        while (true) {
            int l = 2 * i + 1, r = l + 1, w = i;
            if (l < n && better(h[w], h[l], s, t)) w = l;
            if (r < n && better(h[w], h[r], s, t)) w = r;
            if (w == i) return;
            int x = h[w]; h[w] = h[i]; h[i] = x;
            i = w;
        }
    }
}
