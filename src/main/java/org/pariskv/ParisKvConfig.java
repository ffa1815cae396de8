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
 * @param adaptiveMass    adaptive budget (our extension, issue 15): NaN = off (fixed {@code topk}, today's selection);
 *                        else tau in (0, 1]: per query head (per group under GQA mean) the smallest k whose estimated
 *                        softmax mass, with the exactly scored sink and local window, reaches tau of the estimated
 *                        total over candidates + sink + local, clamped to [{@code topkMin}, {@code topkMax}]
 * @param topkMin         the adaptive budget's floor per query head (16; unused when {@code adaptiveMass} is NaN)
 * @param topkMax         the adaptive budget's cap per query head and per KV head after the GQA merge (400; unused
 *                        when {@code adaptiveMass} is NaN)
 */
public record ParisKvConfig(int sink, int local, int interval, int topk, long seed, GqaMode gqa,
                            double candidateRatio, double collisionRatio, int minSparseTokens, boolean centerKeys,
                            double adaptiveMass, int topkMin, int topkMax) {

    /** Default adaptive floor and cap ({@code topkMin}, {@code topkMax}). */
    public static final int DEFAULT_TOPK_MIN = 16, DEFAULT_TOPK_MAX = 400;

    /** The fixed-budget form (adaptive budget off), as before the adaptive fields existed. */
    public ParisKvConfig(int sink, int local, int interval, int topk, long seed, GqaMode gqa,
                         double candidateRatio, double collisionRatio, int minSparseTokens, boolean centerKeys) {
        this(sink, local, interval, topk, seed, gqa, candidateRatio, collisionRatio, minSparseTokens, centerKeys,
                Double.NaN, DEFAULT_TOPK_MIN, DEFAULT_TOPK_MAX);
    }

    public ParisKvConfig {
        if (sink < 0) throw new IllegalArgumentException("sink must be >= 0, got " + sink);
        if (local < 0) throw new IllegalArgumentException("local must be >= 0, got " + local);
        if (interval <= 0) throw new IllegalArgumentException("interval must be positive, got " + interval);
        if (topk <= 0) throw new IllegalArgumentException("topk must be positive, got " + topk);
        if (gqa == null) throw new IllegalArgumentException("gqa mode must be set");
        ratio("candidateRatio", candidateRatio);
        ratio("collisionRatio", collisionRatio);
        if (minSparseTokens < 0) throw new IllegalArgumentException("minSparseTokens must be >= 0, got " + minSparseTokens);
        if (!Double.isNaN(adaptiveMass) && !(adaptiveMass > 0 && adaptiveMass <= 1)) {
            throw new IllegalArgumentException("adaptiveMass (tau) must be in (0, 1] or NaN for a fixed top-k, got " + adaptiveMass);
        }
        if (topkMax <= 0) throw new IllegalArgumentException("topkMax must be positive, got " + topkMax);
        if (topkMin <= 0) throw new IllegalArgumentException("topkMin must be positive, got " + topkMin);
        if (topkMax < topkMin) throw new IllegalArgumentException("topkMax must be >= topkMin (" + topkMin + "), got " + topkMax);
    }

    /** Whether the adaptive budget is on ({@code adaptiveMass} not NaN). */
    public boolean adaptive() {
        return !Double.isNaN(adaptiveMass);
    }

    /** The most tokens one KV head may retrieve per step: {@code topkMax} when adaptive, else {@code topk}. */
    public int maxRetrieved() {
        return adaptive() ? topkMax : topk;
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
        return Math.max(minSparseTokens, sink + local + 2 * maxRetrieved());
    }

    public ParisKvConfig withTopk(int k) {
        return new ParisKvConfig(sink, local, interval, k, seed, gqa, candidateRatio, collisionRatio, minSparseTokens, centerKeys, adaptiveMass, topkMin, topkMax);
    }

    public ParisKvConfig withGqa(GqaMode m) {
        return new ParisKvConfig(sink, local, interval, topk, seed, m, candidateRatio, collisionRatio, minSparseTokens, centerKeys, adaptiveMass, topkMin, topkMax);
    }

    public ParisKvConfig withWindow(int sinkTokens, int localTokens) {
        return new ParisKvConfig(sinkTokens, localTokens, interval, topk, seed, gqa, candidateRatio, collisionRatio, minSparseTokens, centerKeys, adaptiveMass, topkMin, topkMax);
    }

    public ParisKvConfig withInterval(int steps) {
        return new ParisKvConfig(sink, local, steps, topk, seed, gqa, candidateRatio, collisionRatio, minSparseTokens, centerKeys, adaptiveMass, topkMin, topkMax);
    }

    public ParisKvConfig withRatios(double candidate, double collision) {
        return new ParisKvConfig(sink, local, interval, topk, seed, gqa, candidate, collision, minSparseTokens, centerKeys, adaptiveMass, topkMin, topkMax);
    }

    public ParisKvConfig withMinSparseTokens(int n) {
        return new ParisKvConfig(sink, local, interval, topk, seed, gqa, candidateRatio, collisionRatio, n, centerKeys, adaptiveMass, topkMin, topkMax);
    }

    public ParisKvConfig withCenterKeys(boolean on) {
        return new ParisKvConfig(sink, local, interval, topk, seed, gqa, candidateRatio, collisionRatio, minSparseTokens, on, adaptiveMass, topkMin, topkMax);
    }

    public ParisKvConfig withSeed(long s) {
        return new ParisKvConfig(sink, local, interval, topk, s, gqa, candidateRatio, collisionRatio, minSparseTokens, centerKeys, adaptiveMass, topkMin, topkMax);
    }

    /** Adaptive budget: {@code tau} in (0, 1], or NaN for the fixed top-k. */
    public ParisKvConfig withAdaptiveMass(double tau) {
        return new ParisKvConfig(sink, local, interval, topk, seed, gqa, candidateRatio, collisionRatio, minSparseTokens, centerKeys, tau, topkMin, topkMax);
    }

    /** The adaptive budget's floor and cap per query head. */
    public ParisKvConfig withTopkRange(int min, int max) {
        return new ParisKvConfig(sink, local, interval, topk, seed, gqa, candidateRatio, collisionRatio, minSparseTokens, centerKeys, adaptiveMass, min, max);
    }

    /** The adaptive budget's cap (floor unchanged, lowered to {@code max} when above it). */
    public ParisKvConfig withTopkMax(int max) {
        if (max <= 0) throw new IllegalArgumentException("topkMax must be positive, got " + max);
        return withTopkRange(Math.min(topkMin, max), max);
    }

    private static void ratio(String name, double r) {
        if (!Double.isNaN(r) && !(r > 0 && r <= 1)) {
            throw new IllegalArgumentException(name + " must be in (0, 1] or NaN for adaptive, got " + r);
        }
    }
}
