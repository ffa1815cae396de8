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
 * @param recallPerStep      per decode step, recall@k averaged over layers and KV heads; NaN for a step that was
 *                           not scored (see {@link Evaluation.Options#sampleEvery()}), dense, or has no retrieval
 * @param retrievalRate      for a method with {@link org.pariskv.method.RetrievalStats} (LouisKV): selections
 *                           computed afresh / selections asked for during this run; NaN for every other method
 * @param scoredSteps        steps whose quality was scored (all steps unless sampled)
 * @param meanRetrieved      realised budget: retrieval-zone tokens retrieved per KV head per scored sparse step,
 *                           mean over steps, layers and KV heads (the adaptive budget's average k); NaN when no
 *                           scored step was sparse
 */
public record EvalResult(String method, String device, String trace, int context, int steps, int topk, String gqa,
                         MetricSummary recallAtK, MetricSummary attentionMass, MetricSummary outputRelError,
                         double needleHitRate, double msPerStep, int sparseSteps, Map<String, Double> stageMs,
                         double[] recallPerStep, double retrievalRate, int scoredSteps, double meanRetrieved) {

    /** The form before the realised budget was reported ({@code meanRetrieved} NaN). */
    public EvalResult(String method, String device, String trace, int context, int steps, int topk, String gqa,
                      MetricSummary recallAtK, MetricSummary attentionMass, MetricSummary outputRelError,
                      double needleHitRate, double msPerStep, int sparseSteps, Map<String, Double> stageMs,
                      double[] recallPerStep, double retrievalRate, int scoredSteps) {
        this(method, device, trace, context, steps, topk, gqa, recallAtK, attentionMass, outputRelError, needleHitRate,
                msPerStep, sparseSteps, stageMs, recallPerStep, retrievalRate, scoredSteps, Double.NaN);
    }

    /** The original summary-only form: no per-step series, no retrieval rate, every step scored. */
    public EvalResult(String method, String device, String trace, int context, int steps, int topk, String gqa,
                      MetricSummary recallAtK, MetricSummary attentionMass, MetricSummary outputRelError,
                      double needleHitRate, double msPerStep, int sparseSteps, Map<String, Double> stageMs) {
        this(method, device, trace, context, steps, topk, gqa, recallAtK, attentionMass, outputRelError, needleHitRate,
                msPerStep, sparseSteps, stageMs, new double[0], Double.NaN, steps);
    }

    /** The same result under another method label (e.g. {@code pariskv-ref} for ParisKV with the reference config). */
    public EvalResult withMethod(String label) {
        return new EvalResult(label, device, trace, context, steps, topk, gqa, recallAtK, attentionMass, outputRelError,
                needleHitRate, msPerStep, sparseSteps, stageMs, recallPerStep, retrievalRate, scoredSteps, meanRetrieved);
    }
}
