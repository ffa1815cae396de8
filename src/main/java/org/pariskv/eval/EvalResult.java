package org.pariskv.eval;

import java.util.Map;
import org.pariskv.metrics.MetricSummary;

/**
 * Quality and speed of one method on one trace, averaged over decode steps, layers and heads
 * (definitions in the README and {@code shared/spec/evaluation.md}).
 *
 * @param recallAtK          |retrieved ∩ exact top-k| / k per KV head (exact by the same GQA rule); NaN when
 *                           no step was sparse or the method retrieves nothing by design
 * @param attentionMass      share of the full softmax mass on the attended tokens, per query head
 * @param outputRelError     ||o - o_full|| / ||o_full|| per query head
 * @param needleHitRate      share of (step, KV head) whose attended set holds the planted needle; NaN without one
 * @param msPerStep          wall time of the method's decode call per step (all layers of the trace), median
 * @param sparseSteps        steps above the dense threshold (the others attended densely)
 * @param stageMs            Java-backend time per pipeline stage per step (empty when not profiled)
 */
public record EvalResult(String method, String device, String trace, int context, int steps, int topk, String gqa,
                         MetricSummary recallAtK, MetricSummary attentionMass, MetricSummary outputRelError,
                         double needleHitRate, double msPerStep, int sparseSteps, Map<String, Double> stageMs) {}
