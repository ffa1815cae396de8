package org.pariskv.method;

/**
 * The retrieval-zone tokens a method chose for one KV head at one decode step.
 *
 * @param tokens    absolute token positions, ascending, no duplicates, all inside the retrieval zone
 * @param logitBias null, or per query head of the group one value per token added to its logit
 *                  (importance-sampling corrections such as MagicPIG's {@code -log p})
 */
public record Selection(int[] tokens, float[][] logitBias) {

    public static final Selection NONE = new Selection(new int[0], null);

    public static Selection of(int[] tokens) {
        return new Selection(tokens, null);
    }

    public int size() {
        return tokens.length;
    }
}
