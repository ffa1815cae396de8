package org.pariskv.cache;

import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.attend.SparseAttention;
import org.pariskv.kv.RowStore;
import org.pariskv.method.HeadContext;
import org.pariskv.method.HeadRetriever;
import org.pariskv.method.RetrievalMethod;
import org.pariskv.method.Selection;
import org.pariskv.method.ZoneView;
import org.pariskv.profile.Stage;
import org.pariskv.profile.StageProfile;
import org.pariskv.rotate.Rotation;

/**
 * One sequence's cache in one layer: per KV head the stored rows and the method's state, plus the zone
 * boundaries shared by the heads: {@code [0, sinkEnd)} sink, {@code [sink, zoneEnd)} retrieval zone,
 * {@code [zoneEnd, length)} local window.
 */
final class SequenceState implements AutoCloseable {

    private final ModelShape shape;
    private final ParisKvConfig cfg;
    private final RetrievalMethod method;
    private final int layer;
    private final RowStore[] keys;
    private final RowStore[] values;
    private final HeadRetriever[] heads;
    private int length;
    private int zoneEnd;

    SequenceState(ModelShape shape, ParisKvConfig cfg, RetrievalMethod method, Rotation rotation, int layer, int seq) {
        this.shape = shape;
        this.cfg = cfg;
        this.method = method;
        this.layer = layer;
        int hkv = shape.kvHeads();
        keys = new RowStore[hkv];
        values = new RowStore[hkv];
        heads = new HeadRetriever[hkv];
        for (int h = 0; h < hkv; h++) {
            String where = "layer " + layer + ", sequence " + seq + ", kv head " + h;
            keys[h] = new RowStore(shape.headDim(), "keys of " + where);
            values[h] = new RowStore(shape.headDim(), "values of " + where);
            heads[h] = method.newHead(new HeadContext(shape, cfg, layer, h, rotation));
        }
        zoneEnd = cfg.sink();
    }

    int length() {
        return length;
    }

    int zoneEnd() {
        return zoneEnd;
    }

    RowStore keys(int h) {
        return keys[h];
    }

    RowStore values(int h) {
        return values[h];
    }

    HeadRetriever head(int h) {
        return heads[h];
    }

    ZoneView view(int h) {
        int sinkEnd = Math.min(cfg.sink(), length); // the zone starts where the sink ends
        return new ZoneView(keys[h], values[h], sinkEnd, sinkEnd, Math.max(sinkEnd, Math.min(zoneEnd, length)), length);
    }

    /** Stores {@code n} tokens' rows of head {@code h} ({@code [n][Hkv][D]} layout) without moving the zone. */
    void store(int h, float[] k, float[] v, int off, int n) {
        int d = shape.headDim();
        int stride = shape.kvHeads() * d;
        keys[h].append(k, off + h * d, n, stride);
        values[h].append(v, off + h * d, n, stride);
    }

    void grow(int n) {
        length += n;
    }

    /**
     * New zone end after tokens arrived: at prefill all but the last {@code L} tokens; while decoding,
     * whole {@code interval}s once the window holds {@code L + interval}.
     */
    int targetZoneEnd(boolean bulk) {
        int local = length - zoneEnd;
        if (length <= cfg.sink()) return zoneEnd;
        if (bulk) return local > cfg.local() ? length - cfg.local() : zoneEnd;
        if (local < cfg.local() + cfg.interval()) return zoneEnd;
        return zoneEnd + cfg.interval() * ((local - cfg.local()) / cfg.interval());
    }

    /** Hands tokens {@code [zoneEnd, newEnd)} of head {@code h} to its retriever. */
    void encodeInto(int h, int newEnd) {
        ZoneView v = new ZoneView(keys[h], values[h], Math.min(cfg.sink(), length), cfg.sink(), newEnd, length);
        heads[h].onZoneGrow(v, zoneEnd, newEnd);
    }

    void setZoneEnd(int end) {
        zoneEnd = end;
    }

    /** Attends the group of KV head {@code h}; returns {retrieved tokens, attended tokens}; dense when retrieved is null. */
    int[][] attend(int h, float[] q, int qOff, float[] out, int outOff) {
        int g = shape.groupSize();
        boolean dense = !method.sparse() || length < cfg.denseBelow();
        int[] tokens;
        int[] retrieved = null;
        float[][] bias = null;
        if (dense) {
            tokens = new int[length];
            for (int i = 0; i < length; i++) tokens[i] = i;
        } else {
            ZoneView zv = view(h);
            Selection sel = heads[h].select(zv, q, qOff, cfg.topk());
            retrieved = sel.tokens();
            int sinkEnd = zv.sinkEnd();
            int local = length - zv.zoneEnd();
            tokens = new int[sinkEnd + retrieved.length + local];
            int n = 0;
            for (int i = 0; i < sinkEnd; i++) tokens[n++] = i;
            for (int t : retrieved) tokens[n++] = t;
            for (int i = zv.zoneEnd(); i < length; i++) tokens[n++] = i;
            if (sel.logitBias() != null) {
                bias = new float[g][tokens.length];
                for (int qh = 0; qh < g; qh++) System.arraycopy(sel.logitBias()[qh], 0, bias[qh], sinkEnd, retrieved.length);
            }
        }
        long t = StageProfile.start();
        SparseAttention.attend(q, qOff, g, keys[h], values[h], tokens, tokens.length, bias, out, outOff);
        StageProfile.stop(Stage.ATTENTION, t);
        return new int[][] {retrieved, tokens};
    }

    long bytesHeld() {
        long b = 0;
        for (int h = 0; h < keys.length; h++) b += keys[h].bytesHeld() + values[h].bytesHeld();
        return b;
    }

    @Override
    public void close() {
        for (int h = 0; h < keys.length; h++) {
            heads[h].close();
            keys[h].close();
            values[h].close();
        }
    }

    int layer() {
        return layer;
    }
}
