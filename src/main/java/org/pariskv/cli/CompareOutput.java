package org.pariskv.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.pariskv.eval.EvalResult;

/**
 * The files of {@code pariskv compare}: one row per (method, context, budget) in {@code results.csv},
 * {@code results.md} and {@code results.json}, and the per-step recall series in {@code recall_steps.csv}.
 * NaN (a metric that does not apply) is an empty CSV cell, {@code -} in markdown and {@code null} in JSON.
 */
final class CompareOutput {
    private CompareOutput() {}

    static final List<String> CSV_COLUMNS = List.of("method", "trace", "context", "steps", "scored_steps", "budget", "gqa",
            "recall_at_k", "recall_at_k_min", "attention_mass_recall", "output_rel_error", "output_rel_error_p95",
            "needle_hit_rate", "ms_per_step", "sparse_steps", "retrieval_rate", "mean_k");

    static final List<String> STEP_COLUMNS = List.of("method", "context", "budget", "step", "position", "recall_at_k");

    /** Run-wide facts written at the top of the markdown and JSON files. */
    record Setup(String trace, String shape, int layers, long seed, int steps, int sampleEvery, String device) {}

    static String csv(List<EvalResult> results) {
        StringBuilder sb = new StringBuilder(String.join(",", CSV_COLUMNS)).append('\n');
        for (EvalResult r : results) {
            List<String> row = List.of(r.method(), r.trace(), Integer.toString(r.context()), Integer.toString(r.steps()),
                    Integer.toString(r.scoredSteps()), Integer.toString(r.topk()), r.gqa(),
                    num(r.recallAtK().mean()), num(r.recallAtK().min()), num(r.attentionMass().mean()),
                    num(r.outputRelError().mean()), num(r.outputRelError().p95()), num(r.needleHitRate()),
                    num(r.msPerStep()), Integer.toString(r.sparseSteps()), num(r.retrievalRate()), num(r.meanRetrieved()));
            sb.append(String.join(",", row)).append('\n');
        }
        return sb.toString();
    }

    /** Scored steps with a recall value, one row each; prompt length = context - steps. */
    static String stepsCsv(List<EvalResult> results) {
        StringBuilder sb = new StringBuilder(String.join(",", STEP_COLUMNS)).append('\n');
        for (EvalResult r : results) {
            double[] s = r.recallPerStep();
            int prompt = r.context() - r.steps();
            for (int i = 0; i < s.length; i++) {
                if (Double.isNaN(s[i])) continue;
                sb.append(String.format(Locale.ROOT, "%s,%d,%d,%d,%d,%s%n", r.method(), r.context(), r.topk(), i, prompt + i, num(s[i])));
            }
        }
        return sb.toString();
    }

    static boolean hasStepSeries(List<EvalResult> results) {
        for (EvalResult r : results) for (double v : r.recallPerStep()) if (!Double.isNaN(v)) return true;
        return false;
    }

    static String markdown(List<EvalResult> results, Setup setup, int buckets) {
        boolean needle = results.stream().anyMatch(r -> !Double.isNaN(r.needleHitRate()));
        boolean rate = results.stream().anyMatch(r -> !Double.isNaN(r.retrievalRate()));
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "# pariskv compare: trace `%s`, shape %s x %d layer(s), seed %d, %d decode steps%s, device %s%n%n",
                setup.trace(), setup.shape(), setup.layers(), setup.seed(), setup.steps(),
                setup.sampleEvery() > 1 ? " (quality scored every " + setup.sampleEvery() + " steps)" : "", setup.device()));
        sb.append("| method | context | budget | recall@k | attention-mass recall | output error | mean k |");
        if (needle) sb.append(" needle hit |");
        sb.append(" ms/step |");
        if (rate) sb.append(" retrieval rate |");
        sb.append('\n').append("|---|---:|---:|---:|---:|---:|---:|");
        if (needle) sb.append("---:|");
        sb.append("---:|");
        if (rate) sb.append("---:|");
        sb.append('\n');
        for (EvalResult r : results) {
            sb.append(String.format(Locale.ROOT, "| %s | %d | %d | %s | %s | %s |", r.method(), r.context(), r.topk(),
                    md(r.recallAtK().mean(), "%.4f"), md(r.attentionMass().mean(), "%.4f"), md(r.outputRelError().mean(), "%.4f")));
            sb.append(' ').append(md(r.meanRetrieved(), "%.1f")).append(" |");
            if (needle) sb.append(' ').append(md(r.needleHitRate(), "%.3f")).append(" |");
            sb.append(' ').append(md(r.msPerStep(), "%.2f")).append(" |");
            if (rate) sb.append(' ').append(md(r.retrievalRate(), "%.3f")).append(" |");
            sb.append('\n');
        }
        sb.append("\nrecall@k: |retrieved ∩ exact top-k| / k per KV head (`-`: not applicable, e.g. full attention; StreamingLLM "
                + "retrieves nothing from the zone, hence 0); attention-mass recall and output error (||o - o_full|| / ||o_full||) per query head; ms/step: "
                + "median wall time of the method's decode call per step; mean k: zone tokens retrieved per KV head per sparse step "
                + "(the realised budget; with --adaptive-mass it varies, and recall@k is then against the exact top-k of each head's own size); retrieval rate: LouisKV's selections computed afresh / asked for.\n");
        if (buckets > 0 && hasStepSeries(results)) sb.append('\n').append(stepBuckets(results, buckets));
        return sb.toString();
    }

    /** Mean recall@k per slice of the generation (columns: generated-token ranges), one row per (method, context, budget). */
    static String stepBuckets(List<EvalResult> results, int buckets) {
        StringBuilder sb = new StringBuilder("## recall@k over the generation (mean per slice of generated tokens)\n\n");
        int steps = results.stream().mapToInt(EvalResult::steps).max().orElse(0);
        int n = Math.max(1, Math.min(buckets, steps));
        sb.append("| method | context | budget |");
        for (int b = 0; b < n; b++) sb.append(String.format(Locale.ROOT, " %d–%d |", b * steps / n, (b + 1) * steps / n - 1));
        sb.append('\n').append("|---|---:|---:|").append("---:|".repeat(n)).append('\n');
        for (EvalResult r : results) {
            double[] s = r.recallPerStep();
            boolean any = false;
            for (double v : s) any |= !Double.isNaN(v);
            if (!any) continue;
            sb.append(String.format(Locale.ROOT, "| %s | %d | %d |", r.method(), r.context(), r.topk()));
            for (int b = 0; b < n; b++) {
                double sum = 0;
                int c = 0;
                for (int i = b * steps / n; i < Math.min(s.length, (b + 1) * steps / n); i++) {
                    if (!Double.isNaN(s[i])) {
                        sum += s[i];
                        c++;
                    }
                }
                sb.append(' ').append(c == 0 ? "-" : String.format(Locale.ROOT, "%.4f", sum / c)).append(" |");
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    static Map<String, Object> json(List<EvalResult> results, Setup setup) {
        Map<String, Object> top = new LinkedHashMap<>();
        top.put("command", "compare");
        top.put("trace", setup.trace());
        top.put("shape", setup.shape());
        top.put("layers", setup.layers());
        top.put("seed", setup.seed());
        top.put("steps", setup.steps());
        top.put("sample_every", setup.sampleEvery());
        top.put("device", setup.device());
        List<Object> rows = new ArrayList<>();
        for (EvalResult r : results) {
            Map<String, Object> m = EvalCommand.toMap(r);
            m.put("budget", r.topk());
            m.put("scored_steps", r.scoredSteps());
            List<Integer> st = new ArrayList<>();
            List<Double> rc = new ArrayList<>();
            double[] s = r.recallPerStep();
            for (int i = 0; i < s.length; i++) {
                if (!Double.isNaN(s[i])) {
                    st.add(i);
                    rc.add(s[i]);
                }
            }
            if (!st.isEmpty()) m.put("recall_per_step", Map.of("step", st, "recall_at_k", rc));
            rows.add(m);
        }
        top.put("results", rows);
        return top;
    }

    static void write(Path file, String text) {
        try {
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private static String num(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.6g", v);
    }

    private static String md(double v, String fmt) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, fmt, v);
    }
}
