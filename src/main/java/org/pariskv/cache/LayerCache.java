package org.pariskv.cache;

import java.util.HashMap;
import java.util.Map;
import java.util.stream.IntStream;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;

/**
 * The KV cache of one layer for every live sequence: the call an inference engine makes once per layer per
 * decode step is {@link #decode}. Sequences have independent lengths (ragged batches). Work is spread over
 * (sequence, KV head) pairs in parallel. Calls on one layer must not overlap; different layers may run
 * concurrently.
 */
public final class LayerCache {

    private final KvCache owner;
    private final int layer;
    private final ModelShape shape;
    private final ParisKvConfig cfg;
    private final Map<Integer, SequenceState> sequences = new HashMap<>();

    LayerCache(KvCache owner, int layer) {
        this.owner = owner;
        this.layer = layer;
        this.shape = owner.shape();
        this.cfg = owner.config();
    }

    public int layer() {
        return layer;
    }

    /** Tokens held for a sequence in this layer. */
    public int length(int seq) {
        return state(seq).length();
    }

    /** End of the retrieval zone (exclusive) of a sequence in this layer. */
    public int zoneEnd(int seq) {
        return state(seq).zoneEnd();
    }

    /**
     * Bulk prefill: appends {@code tokens} rows of keys and values laid out {@code [token][Hkv][D]} and encodes
     * all but the last {@code L} tokens into the retrieval zone. Validated completely before anything is stored.
     */
    public void prefill(int seq, float[] keys, float[] values, int tokens) {
        if (tokens <= 0) throw new IllegalArgumentException("prefill of sequence " + seq + " at layer " + layer + " needs at least one token, got " + tokens);
        SequenceState s = state(seq);
        long n = (long) tokens * shape.kvHeads() * shape.headDim();
        String sh = "[" + tokens + " tokens][" + shape.kvHeads() + " kv heads][" + shape.headDim() + "]";
        InputCheck.length("keys", keys, n, sh);
        InputCheck.length("values", values, n, sh);
        InputCheck.finite("keys", layer, keys, 0, tokens, s.length(), shape.kvHeads(), shape.headDim(), "kv head");
        InputCheck.finite("values", layer, values, 0, tokens, s.length(), shape.kvHeads(), shape.headDim(), "kv head");
        appendAndEncode(new SequenceState[] {s}, new float[][] {keys}, new float[][] {values}, tokens, true);
    }

    /**
     * One decode step for a batch: appends each sequence's new token ({@code k}, {@code v}: {@code [batch][Hkv][D]}),
     * then attends with its queries ({@code q}: {@code [batch][Hq][D]}) over the cache, writing {@code out}
     * ({@code [batch][Hq][D]}). Sequences may have different lengths.
     */
    public Attended[] decode(int[] seqs, float[] q, float[] k, float[] v, float[] out) {
        int b = seqs.length;
        int kvRow = shape.kvHeads() * shape.headDim();
        int qRow = shape.queryHeads() * shape.headDim();
        String bs = "[" + b + " sequences]";
        InputCheck.length("queries", q, (long) b * qRow, bs + "[" + shape.queryHeads() + " query heads][" + shape.headDim() + "]");
        InputCheck.length("keys", k, (long) b * kvRow, bs + "[" + shape.kvHeads() + " kv heads][" + shape.headDim() + "]");
        InputCheck.length("values", v, (long) b * kvRow, bs + "[" + shape.kvHeads() + " kv heads][" + shape.headDim() + "]");
        InputCheck.length("out", out, (long) b * qRow, bs + "[" + shape.queryHeads() + " query heads][" + shape.headDim() + "]");
        SequenceState[] states = new SequenceState[b];
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        for (int i = 0; i < b; i++) {
            if (!seen.add(seqs[i])) throw new IllegalArgumentException("sequence " + seqs[i] + " appears twice in one decode batch");
            states[i] = state(seqs[i]);
            InputCheck.finite("keys", layer, k, i * kvRow, 1, states[i].length(), shape.kvHeads(), shape.headDim(), "kv head");
            InputCheck.finite("values", layer, v, i * kvRow, 1, states[i].length(), shape.kvHeads(), shape.headDim(), "kv head");
            InputCheck.finite("queries", layer, q, i * qRow, 1, states[i].length(), shape.queryHeads(), shape.headDim(), "query head");
        }
        float[][] ks = new float[b][];
        float[][] vs = new float[b][];
        for (int i = 0; i < b; i++) {
            ks[i] = java.util.Arrays.copyOfRange(k, i * kvRow, (i + 1) * kvRow);
            vs[i] = java.util.Arrays.copyOfRange(v, i * kvRow, (i + 1) * kvRow);
        }
        appendAndEncode(states, ks, vs, 1, false);
        return attendAll(states, q, out);
    }

    /** Attends without appending (e.g. to re-score the last step); same layouts as {@link #decode}. */
    public Attended[] attend(int[] seqs, float[] q, float[] out) {
        int qRow = shape.queryHeads() * shape.headDim();
        SequenceState[] states = new SequenceState[seqs.length];
        InputCheck.length("queries", q, (long) seqs.length * qRow, "[" + seqs.length + " sequences][" + shape.queryHeads() + " query heads][" + shape.headDim() + "]");
        InputCheck.length("out", out, (long) seqs.length * qRow, "[" + seqs.length + " sequences][" + shape.queryHeads() + " query heads][" + shape.headDim() + "]");
        for (int i = 0; i < seqs.length; i++) {
            states[i] = state(seqs[i]);
            if (states[i].length() == 0) throw new IllegalStateException("sequence " + seqs[i] + " has an empty context at layer " + layer + ": prefill or decode first");
            InputCheck.finite("queries", layer, q, i * qRow, 1, states[i].length(), shape.queryHeads(), shape.headDim(), "query head");
        }
        return attendAll(states, q, out);
    }

    private void appendAndEncode(SequenceState[] states, float[][] ks, float[][] vs, int tokens, boolean bulk) {
        int hkv = shape.kvHeads();
        // store rows: allocation happens before any write (RowStore.append), per head
        IntStream.range(0, states.length * hkv).parallel().forEach(i -> states[i / hkv].store(i % hkv, ks[i / hkv], vs[i / hkv], 0, tokens));
        int[] newEnd = new int[states.length];
        for (int s = 0; s < states.length; s++) {
            states[s].grow(tokens);
            newEnd[s] = states[s].targetZoneEnd(bulk);
        }
        IntStream.range(0, states.length * hkv).parallel().forEach(i -> {
            SequenceState s = states[i / hkv];
            int end = newEnd[i / hkv];
            if (end > s.zoneEnd()) s.encodeInto(i % hkv, end);
        });
        for (int s = 0; s < states.length; s++) states[s].setZoneEnd(Math.max(states[s].zoneEnd(), newEnd[s]));
    }

    private Attended[] attendAll(SequenceState[] states, float[] q, float[] out) {
        int hkv = shape.kvHeads();
        int d = shape.headDim();
        int g = shape.groupSize();
        int qRow = shape.queryHeads() * d;
        int[][][] results = new int[states.length * hkv][][];
        IntStream.range(0, states.length * hkv).parallel().forEach(i -> {
            int s = i / hkv, h = i % hkv;
            int off = s * qRow + h * g * d;
            results[i] = states[s].attend(h, q, off, out, off);
        });
        Attended[] a = new Attended[states.length];
        for (int s = 0; s < states.length; s++) {
            int[][] tokens = new int[hkv][];
            int[][] retrieved = new int[hkv][];
            for (int h = 0; h < hkv; h++) {
                retrieved[h] = results[s * hkv + h][0];
                tokens[h] = results[s * hkv + h][1];
            }
            a[s] = new Attended(tokens, retrieved[0] == null ? null : retrieved, retrieved[0] == null, states[s].length());
        }
        return a;
    }

    /** Read access for metrics and device backends: the stored rows and zone of one head. */
    public org.pariskv.method.ZoneView zone(int seq, int kvHead) {
        return state(seq).view(kvHead);
    }

    /** The method's per-head state (e.g. ParisKV's index) of one sequence and KV head. */
    public org.pariskv.method.HeadRetriever head(int seq, int kvHead) {
        return state(seq).head(kvHead);
    }

    long bytesHeld() {
        long b = 0;
        for (SequenceState s : sequences.values()) b += s.bytesHeld();
        return b;
    }

    private SequenceState state(int seq) {
        SequenceState s = sequences.get(seq);
        if (s == null) {
            if (!owner.isLive(seq)) throw new IllegalArgumentException("unknown sequence " + seq + " (open sequences: " + owner.liveSequences() + ")");
            s = new SequenceState(shape, cfg, owner.method(), owner.rotation(), layer, seq);
            sequences.put(seq, s);
        }
        return s;
    }

    void remove(int seq) {
        SequenceState s = sequences.remove(seq);
        if (s != null) s.close();
    }

    void closeAll() {
        sequences.values().forEach(SequenceState::close);
        sequences.clear();
    }
}
