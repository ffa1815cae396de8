package org.pariskv.eval;

import org.pariskv.kv.RowStore;
import org.pariskv.metrics.KeyRows;

/** The cache's own bf16 rows seen through the metrics' {@link KeyRows}: references use exactly the stored data. */
record StoreRows(RowStore store) implements KeyRows {

    @Override
    public int dim() {
        return store.dim();
    }

    @Override
    public float dot(int token, float[] q) {
        return store.dot(token, q, 0);
    }

    @Override
    public void row(int token, float[] dst) {
        store.read(token, 1, dst, 0);
    }
}
