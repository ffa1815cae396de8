package org.pariskv;

/** How one KV head's token selection is derived from the query heads of its GQA group. */
public enum GqaMode {
    /** One retrieval query per group: the mean of its query heads (the reference implementation). */
    MEAN,
    /**
     * Each query head ranks tokens with its own query; the group's budget is filled round-robin
     * from the heads' ranked lists, so heads that look at different tokens all keep theirs.
     */
    PER_HEAD;

    public static GqaMode parse(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT).replace('_', '-')) {
            case "mean" -> MEAN;
            case "per-head", "perhead" -> PER_HEAD;
            default -> throw new IllegalArgumentException("unknown GQA mode '" + s + "' (expected mean or per-head)");
        };
    }
}
