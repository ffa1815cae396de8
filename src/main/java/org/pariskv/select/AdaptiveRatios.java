package org.pariskv.select;

/**
 * Candidate and collision ratios as a function of the retrieval-zone size {@code n} (reference defaults):
 * a small zone keeps a large share of its keys as candidates, a large zone a small share.
 */
public record AdaptiveRatios(double candidateRatio, double collisionRatio) {

    public static AdaptiveRatios forZone(int n) {
        if (n < 5_000) return new AdaptiveRatios(0.5, 0.5);
        if (n < 10_000) return new AdaptiveRatios(0.25, 0.3);
        if (n < 30_000) return new AdaptiveRatios(0.2, 0.25);
        return new AdaptiveRatios(0.1, 0.2);
    }

    /** The adaptive ratios with explicit overrides where {@code candidate}/{@code collision} are not NaN. */
    public static AdaptiveRatios forZone(int n, double candidate, double collision) {
        AdaptiveRatios a = forZone(n);
        return new AdaptiveRatios(Double.isNaN(candidate) ? a.candidateRatio : candidate,
                Double.isNaN(collision) ? a.collisionRatio : collision);
    }

    /** Candidates kept after collision counting: {@code ceil(n * candidateRatio)}. */
    public int candidates(int n) {
        return (int) Math.min(n, Math.ceil(n * candidateRatio));
    }
}
