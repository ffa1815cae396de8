package org.pariskv.trace;

import java.util.SplittableRandom;

/**
 * Planted-target policy of the {@code llm} and {@code drift} generators for one GQA group.
 * Each query head has {@code plantedPerHead} slots: the first {@code sharedPerGroup} are shared by the
 * whole group, the others belong to the head; a slot keeps its token from the previous step with
 * probability {@code persistence}, else it is redrawn by the {@link PositionSampler}. Each head also
 * attends {@code recentPerHead} tokens drawn uniformly from the last {@code recentWindow} tokens,
 * with weight {@code recentWeight} (planted: weight 1).
 */
final class SlotPolicy implements PlantedEngine.TargetPolicy {

    /** Draws a planted position for a step whose context has {@code context} tokens. */
    interface PositionSampler {
        int draw(SplittableRandom rng, int context);
    }

    private final int shared;
    private final int recent;
    private final int recentWindow;
    private final double recentWeight;
    private final double persistence;
    private final boolean recentShared;
    private final PositionSampler sampler;
    private final int[] sharedSlots;
    private final int[][] ownSlots;

    SlotPolicy(int groupSize, int plantedPerHead, int sharedPerGroup, int recentPerHead, int recentWindow,
               double recentWeight, double persistence, boolean recentShared, PositionSampler sampler) {
        this.recentShared = recentShared;
        this.shared = Math.min(sharedPerGroup, plantedPerHead);
        this.recent = recentPerHead;
        this.recentWindow = recentWindow;
        this.recentWeight = recentWeight;
        this.persistence = persistence;
        this.sampler = sampler;
        this.sharedSlots = new int[shared];
        this.ownSlots = new int[groupSize][plantedPerHead - shared];
        java.util.Arrays.fill(sharedSlots, -1);
        for (int[] o : ownSlots) {
            java.util.Arrays.fill(o, -1);
        }
    }

    /**
     * Uniform over the tokens after the {@code sinks} sink tokens and before the recent window (over all
     * non-sink tokens, or all tokens, when the context is short).
     */
    static int uniformBeforeWindow(SplittableRandom rng, int context, int window, int sinks) {
        int end = context - window;
        if (end > sinks) {
            return sinks + rng.nextInt(end - sinks);
        }
        return context > sinks ? sinks + rng.nextInt(context - sinks) : rng.nextInt(context);
    }

    private int refresh(int current, SplittableRandom rng, int context) {
        if (current >= 0 && rng.nextDouble() < persistence) {
            return current;
        }
        return sampler.draw(rng, context);
    }

    @Override
    public void next(int step, int context, SplittableRandom rng, PlantedEngine.Targets[] perHeadTargets) {
        for (int i = 0; i < shared; i++) {
            sharedSlots[i] = refresh(sharedSlots[i], rng, context);
        }
        int lo0 = Math.max(0, context - recentWindow);
        int[] sharedRecent = new int[recent];
        for (int i = 0; i < recent; i++) {
            sharedRecent[i] = lo0 + rng.nextInt(context - lo0);
        }
        for (int g = 0; g < perHeadTargets.length; g++) {
            PlantedEngine.Targets t = perHeadTargets[g];
            t.clear();
            for (int p : sharedSlots) {
                t.add(p, 1.0, true);
            }
            int[] own = ownSlots[g];
            for (int i = 0; i < own.length; i++) {
                own[i] = refresh(own[i], rng, context);
                t.add(own[i], 1.0, true);
            }
            int lo = Math.max(0, context - recentWindow);
            for (int i = 0; i < recent; i++) {
                int ownRecent = lo + rng.nextInt(context - lo);
                t.add(recentShared ? sharedRecent[i] : ownRecent, recentWeight, false);
            }
        }
    }
}
