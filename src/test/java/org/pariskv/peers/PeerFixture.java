package org.pariskv.peers;

import java.util.SplittableRandom;
import org.pariskv.GqaMode;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.cache.KvCache;
import org.pariskv.kv.RowStore;
import org.pariskv.method.HeadContext;
import org.pariskv.method.RetrievalMethod;
import org.pariskv.method.ZoneView;
import org.pariskv.rotate.Rotation;

/** Drives one head directly (a RowStore and hand-made zone views) or a whole small cache. */
final class PeerFixture implements AutoCloseable {
    static final int SINK = 4;

    final ModelShape shape;
    final ParisKvConfig cfg;
    final RowStore keys;
    final RowStore values;

    PeerFixture(ModelShape shape) {
        this.shape = shape;
        this.cfg = ParisKvConfig.defaults().withWindow(SINK, 32).withMinSparseTokens(0);
        this.keys = new RowStore(shape.headDim(), "test keys");
        this.values = new RowStore(shape.headDim(), "test values");
    }

    HeadContext context() {
        return new HeadContext(shape, cfg, 0, 0, Rotation.forDim(shape.headDim(), cfg.seed()));
    }

    /** Appends rows ({@code n × D}). */
    void append(float[] rows, int n) {
        keys.append(rows, 0, n, shape.headDim());
        values.append(rows, 0, n, shape.headDim());
    }

    /** Zone {@code [SINK, zoneEnd)} of a sequence of {@code length} tokens. */
    ZoneView zone(int zoneEnd, int length) {
        return new ZoneView(keys, values, SINK, SINK, zoneEnd, length);
    }

    @Override
    public void close() {
        keys.close();
        values.close();
    }

    static float[] random(SplittableRandom rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rnd.nextDouble(-1, 1);
        return v;
    }

    static float[] scaled(float[] v, float s) {
        float[] r = v.clone();
        for (int i = 0; i < r.length; i++) r[i] *= s;
        return r;
    }

    static double relError(float[] a, float[] ref) {
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - ref[i]) * (double) (a[i] - ref[i]);
            den += ref[i] * (double) ref[i];
        }
        return Math.sqrt(num / den);
    }

    /** A small cache config where everything past the sink and a 32-token window is retrieved. */
    static ParisKvConfig smallConfig(int topk) {
        return ParisKvConfig.defaults().withWindow(SINK, 32).withInterval(16).withTopk(topk).withMinSparseTokens(0).withGqa(GqaMode.MEAN);
    }

    /** Prefills {@code prompt} random tokens into every layer of a fresh cache, returns it with the sequence 0 open. */
    static KvCache prefilled(ModelShape shape, ParisKvConfig cfg, RetrievalMethod m, int prompt, SplittableRandom rnd) {
        KvCache cache = KvCache.create(shape, cfg, m);
        int seq = cache.newSequence();
        int kv = shape.kvHeads() * shape.headDim();
        for (int l = 0; l < shape.layers(); l++) cache.layer(l).prefill(seq, random(rnd, prompt * kv), random(rnd, prompt * kv), prompt);
        return cache;
    }
}
