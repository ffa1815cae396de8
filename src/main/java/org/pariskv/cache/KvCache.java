package org.pariskv.cache;

import java.util.Set;
import java.util.TreeSet;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.method.RetrievalMethod;
import org.pariskv.rotate.Rotation;

/**
 * A model's KV cache under one retrieval method: one {@link LayerCache} per layer, sequences opened and
 * closed by id. Off-heap memory is released by {@link #removeSequence} and {@link #close}.
 *
 * <pre>{@code
 * try (KvCache cache = KvCache.create(ModelShape.llama3_8b(), ParisKvConfig.defaults(), new ParisKv())) {
 *     int seq = cache.newSequence();
 *     for (int l = 0; l < layers; l++) cache.layer(l).prefill(seq, promptKeys[l], promptValues[l], promptTokens);
 *     // each decode step, each layer:
 *     cache.layer(l).decode(new int[] {seq}, q, k, v, out);
 * }
 * }</pre>
 */
public final class KvCache implements AutoCloseable {

    private final ModelShape shape;
    private final ParisKvConfig config;
    private final RetrievalMethod method;
    private final Rotation rotation;
    private final LayerCache[] layers;
    private final Set<Integer> live = new TreeSet<>();
    private int nextSeq;
    private boolean closed;

    private KvCache(ModelShape shape, ParisKvConfig config, RetrievalMethod method) {
        this.shape = shape;
        this.config = config;
        this.method = method;
        this.rotation = Rotation.forDim(shape.headDim(), config.seed());
        this.layers = new LayerCache[shape.layers()];
        for (int l = 0; l < layers.length; l++) layers[l] = new LayerCache(this, l);
    }

    public static KvCache create(ModelShape shape, ParisKvConfig config, RetrievalMethod method) {
        if (shape == null || config == null || method == null) throw new IllegalArgumentException("shape, config and method are required");
        return new KvCache(shape, config, method);
    }

    public ModelShape shape() {
        return shape;
    }

    public ParisKvConfig config() {
        return config;
    }

    public RetrievalMethod method() {
        return method;
    }

    public Rotation rotation() {
        return rotation;
    }

    public synchronized int newSequence() {
        ensureOpen();
        live.add(nextSeq);
        return nextSeq++;
    }

    public synchronized void removeSequence(int seq) {
        if (!live.remove(seq)) throw new IllegalArgumentException("unknown sequence " + seq);
        for (LayerCache l : layers) l.remove(seq);
    }

    public LayerCache layer(int l) {
        ensureOpen();
        if (l < 0 || l >= layers.length) throw new IllegalArgumentException("layer " + l + " out of range [0, " + layers.length + ")");
        return layers[l];
    }

    /** Off-heap bytes of K/V rows held (index metadata not included). */
    public long kvBytesHeld() {
        long b = 0;
        for (LayerCache l : layers) b += l.bytesHeld();
        return b;
    }

    synchronized boolean isLive(int seq) {
        return live.contains(seq);
    }

    synchronized Set<Integer> liveSequences() {
        return Set.copyOf(live);
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("KV cache is closed");
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        for (LayerCache l : layers) l.closeAll();
        live.clear();
    }
}
