package org.pariskv.profile;

/** The tasks of one decode step, in pipeline order (names shared with the device kernels in {@code tasks/}). */
public enum Stage {
    ENCODE("encodeKeys"),
    PREPARE_QUERY("prepareQuery"),
    COLLISION_SCORES("collisionScores"),
    CANDIDATE_SELECT("candidateSelect"),
    RERANK("rerank"),
    TOPK("topK"),
    ATTENTION("sparseAttention");

    private final String task;

    Stage(String task) {
        this.task = task;
    }

    /** Task name as used by TaskGraphs and kernels. */
    public String task() {
        return task;
    }
}
