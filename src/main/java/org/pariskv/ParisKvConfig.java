package org.pariskv;

/**
 * Knobs of the sparse decode, defaults from the reference implementation.
 *
 * @param sink            always-attended first tokens ({@code S = 4})
 * @param local           always-attended most recent tokens ({@code L = 512})
 * @param interval        decode steps between moves of the oldest local tokens into the retrieval zone (128)
 * @param topk            tokens retrieved from the retrieval zone per KV head (100)
 * @param seed            seed of the rotation shared by every layer and head (42)
 * @param gqa             how a KV head's selection follows its group's query heads
 * @param candidateRatio  share of the zone kept as candidates after collision counting; NaN = adaptive by zone size
 * @param collisionRatio  scale of the tier thresholds; NaN = adaptive by zone size
 * @param minSparseTokens below {@code max(minSparseTokens, S + L + 2 topk)} tokens a layer attends densely (2000)
 * @param centerKeys      subtract the mean of the first keys entering the zone before encoding (our extension; rankings
 *                        stay exact because {@code q·μ} is common to all keys); false reproduces the reference
 */
public record ParisKvConfig(int sink, int local, int interval, int topk, long seed, GqaMode gqa,
                            double candidateRatio, double collisionRatio, int minSparseTokens, boolean centerKeys) {

    public ParisKvConfig {
        if (sink < 0) throw new IllegalArgumentException("sink must be >= 0, got " + sink);
        if (local < 0) throw new IllegalArgumentException("local must be >= 0, got " + local);
        if (interval <= 0) throw new IllegalArgumentException("interval must be positive, got " + interval);
        if (topk <= 0) throw new IllegalArgumentException("topk must be positive, got " + topk);
        if (gqa == null) throw new IllegalArgumentException("gqa mode must be set");
        ratio("candidateRatio", candidateRatio);
        ratio("collisionRatio", collisionRatio);
        if (minSparseTokens < 0) throw new IllegalArgumentException("minSparseTokens must be >= 0, got " + minSparseTokens);
    }

    /**
     * Our defaults: the reference's constants, with per-head GQA selection and key centring on — both measured
     * better on the {@code llm} and {@code drift} traces (README, "Defaults"). {@link #reference()} turns both off.
     */
    public static ParisKvConfig defaults() {
        return new ParisKvConfig(4, 512, 128, 100, 42L, GqaMode.PER_HEAD, Double.NaN, Double.NaN, 2000, true);
    }

    /** Exactly the reference implementation's behaviour: group-mean retrieval query, no key centring. */
    public static ParisKvConfig reference() {
        return defaults().withGqa(GqaMode.MEAN).withCenterKeys(false);
    }

    /** Total length below which the layer attends densely: {@code max(minSparseTokens, S + L + 2 topk)}. */
    public int denseBelow() {
        return Math.max(minSparseTokens, sink + local + 2 * topk);
    }

    public ParisKvConfig withTopk(int k) {
        return new ParisKvConfig(sink, local, interval, k, seed, gqa, candidateRatio, collisionRatio, minSparseTokens, centerKeys);
    }

    public ParisKvConfig withGqa(GqaMode m) {
        return new ParisKvConfig(sink, local, interval, topk, seed, m, candidateRatio, collisionRatio, minSparseTokens, centerKeys);
    }

    public ParisKvConfig withWindow(int sinkTokens, int localTokens) {
        return new ParisKvConfig(sinkTokens, localTokens, interval, topk, seed, gqa, candidateRatio, collisionRatio, minSparseTokens, centerKeys);
    }

    public ParisKvConfig withInterval(int steps) {
        return new ParisKvConfig(sink, local, steps, topk, seed, gqa, candidateRatio, collisionRatio, minSparseTokens, centerKeys);
    }

    public ParisKvConfig withRatios(double candidate, double collision) {
        return new ParisKvConfig(sink, local, interval, topk, seed, gqa, candidate, collision, minSparseTokens, centerKeys);
    }

    public ParisKvConfig withMinSparseTokens(int n) {
        return new ParisKvConfig(sink, local, interval, topk, seed, gqa, candidateRatio, collisionRatio, n, centerKeys);
    }

    public ParisKvConfig withCenterKeys(boolean on) {
        return new ParisKvConfig(sink, local, interval, topk, seed, gqa, candidateRatio, collisionRatio, minSparseTokens, on);
    }

    public ParisKvConfig withSeed(long s) {
        return new ParisKvConfig(sink, local, interval, topk, s, gqa, candidateRatio, collisionRatio, minSparseTokens, centerKeys);
    }

    private static void ratio(String name, double r) {
        if (!Double.isNaN(r) && !(r > 0 && r <= 1)) {
            throw new IllegalArgumentException(name + " must be in (0, 1] or NaN for adaptive, got " + r);
        }
    }
}
