package org.pariskv.model;

import org.pariskv.cache.Attended;

/**
 * One sequence being decoded by a {@link LlamaModel}: its length, its next-token logits, and its K/V in the model's
 * cache (released by {@link #close}). Not thread-safe; the model serialises forwards.
 */
public final class Session implements AutoCloseable {

    private final LlamaModel model;
    private final int seq;
    private final Attended[] attended;
    private int length;
    private float[] logits;
    private boolean closed;
    private String failure;

    Session(LlamaModel model, int seq) {
        this.model = model;
        this.seq = seq;
        this.attended = new Attended[model.config().layers()];
    }

    /** Feeds {@code tokens} (chunks of {@link LlamaModel#PREFILL_CHUNK}); returns the logits after the last one. */
    public float[] prefill(int[] tokens) {
        return prefill(tokens, LlamaModel.PREFILL_CHUNK);
    }

    /** {@link #prefill(int[])} with a chunk size of your choice (the result does not depend on it). */
    public float[] prefill(int[] tokens, int chunk) {
        return model.prefill(this, tokens, chunk, false);
    }

    /** {@link #prefill(int[])} that returns what it stored, so that sessions of other methods can {@link #prefill(PrefillRecord) replay} it. */
    public PrefillRecord prefillRecorded(int[] tokens) {
        return model.prefillRecorded(this, tokens, LlamaModel.PREFILL_CHUNK);
    }

    /**
     * Prefills this (empty) session from a record of the same model: the same rows stored and indexed as a prefill of
     * {@code r.tokens()} would, without running the model. Returns the logits after the last token.
     */
    public float[] prefill(PrefillRecord r) {
        return model.replay(this, r);
    }

    /** Feeds {@code tokens} and returns the logits after each of them, {@code [tokens][vocab]} row-major. */
    public float[] prefillAllLogits(int[] tokens) {
        return model.prefill(this, tokens, LlamaModel.PREFILL_CHUNK, true);
    }

    /** Feeds one token (a decode step through the retrieval method) and returns the next-token logits. */
    public float[] decode(int token) {
        return model.decode(java.util.List.of(this), new int[] {token})[0];
    }

    /** Samples the next token from {@link #logits()}, feeds it, and returns it. */
    public int next(Sampler sampler) {
        int t = sampler.sample(logits());
        decode(t);
        return t;
    }

    /**
     * Samples up to {@code maxTokens} tokens, feeding each, and stops before the first one {@code stop} accepts
     * (that one is neither fed nor returned; e.g. {@code t -> t == '\n'} for the byte model's answers).
     */
    public int[] generate(Sampler sampler, int maxTokens, java.util.function.IntPredicate stop) {
        if (maxTokens < 0) throw new IllegalArgumentException("maxTokens must be >= 0, got " + maxTokens);
        int[] out = new int[maxTokens];
        int n = 0;
        while (n < maxTokens) {
            int t = sampler.sample(logits());
            if (stop.test(t)) break;
            decode(t);
            out[n++] = t;
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** The logits for the next token (owned by the session; replaced by the next step). */
    public float[] logits() {
        if (logits == null) throw new IllegalStateException("session " + seq + " has no logits yet: prefill first");
        return logits;
    }

    /** Tokens fed so far. */
    public int length() {
        return length;
    }

    /** Per layer, what the last decode step attended (null before the first decode). */
    public Attended[] attended() {
        return attended;
    }

    int seq() {
        return seq;
    }

    LlamaModel model() {
        return model;
    }

    void advance(int tokens, float[] next) {
        length += tokens;
        logits = next;
    }

    void ensureOpen() {
        if (closed) throw new IllegalStateException("session " + seq + " is closed");
        if (failure != null) throw new IllegalStateException("session " + seq + " is unusable after a failed step (" + failure + "): close it");
    }

    /** A forward failed part-way (some layers may hold the token, others not): the session can only be closed. */
    void fail(RuntimeException e) {
        failure = e.getMessage();
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        model.release(this);
    }
}
