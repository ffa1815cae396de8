package org.pariskv.select;

/**
 * Keeps the {@code count} keys with the highest collision score by a counting select over the score
 * histogram; at the cut, equal scores are taken in token order. Output is in ascending zone index.
 */
public final class CandidateSelect {
    private CandidateSelect() {}

    /** Writes the chosen zone indices to {@code out[0..count)} (ascending) and returns {@code count}. */
    public static int select(byte[] scores, int n, int maxScore, int count, int[] out) {
        if (count >= n) {
            for (int i = 0; i < n; i++) out[i] = i;
            return n;
        }
        int[] hist = new int[maxScore + 1];
        for (int i = 0; i < n; i++) hist[scores[i] & 0xff]++;
        int cut = maxScore, above = 0;
        while (cut > 0 && above + hist[cut] < count) above += hist[cut--];
        int ties = count - above;
        int m = 0;
        for (int i = 0; i < n && m < count; i++) {
            int s = scores[i] & 0xff;
            if (s > cut || (s == cut && ties-- > 0)) out[m++] = i;
        }
        return m;
    }
}
