package org.pariskv.model;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.pariskv.attend.SparseAttention;
import org.pariskv.kv.RowStore;

/** The blocked prefill attention against the one attention routine, query by query, for every block remainder. */
class CausalAttentionTest {

    @ParameterizedTest
    @CsvSource({"0, 1", "0, 7", "5, 4", "4093, 10", "100, 33"}) // start, chunk: remainders 1..3 and 0, a chunk across a row-store chunk
    void equalsSparseAttentionOverAllEarlierTokens(int start, int n) {
        int d = 24, g = 3, heads = 6, qRow = heads * d;
        SplittableRandom r = new SplittableRandom(start * 31L + n);
        float[] rows = new float[(start + n) * d];
        for (int i = 0; i < rows.length; i++) rows[i] = (float) r.nextDouble(-2, 2);
        try (RowStore k = new RowStore(d, "k"); RowStore v = new RowStore(d, "v")) {
            k.append(rows, 0, start + n, d);
            for (int i = 0; i < rows.length; i++) rows[i] = (float) r.nextDouble(-1, 1);
            v.append(rows, 0, start + n, d);
            float[] q = new float[n * qRow];
            for (int i = 0; i < q.length; i++) q[i] = (float) r.nextDouble(-1, 1);
            float[] blocked = new float[q.length], single = new float[q.length];
            CausalAttention.attend(k, v, q, blocked, start, n, g, g, qRow); // the second KV head's group: heads 3..5
            int[] all = IntStream.range(0, start + n).toArray();
            for (int t = 0; t < n; t++) SparseAttention.attend(q, t * qRow + g * d, g, k, v, all, start + t + 1, null, single, t * qRow + g * d);
            for (int i = 0; i < q.length; i++) {
                assertEquals(single[i], blocked[i], 1e-6, "element " + i + " (query " + i / qRow + ")"); // exp within an ulp
            }
            for (int t = 0; t < n; t++) {
                for (int i = 0; i < g * d; i++) assertEquals(0f, blocked[t * qRow + i], "other group untouched");
            }
        }
    }
}
