package org.pariskv.cli;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.pariskv.ParisKvConfig;
import org.pariskv.eval.EvalResult;
import org.pariskv.metrics.MetricSummary;
import org.pariskv.trace.Trace;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code pariskv eval}: one method on one trace, scored against exact attention. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Score one retrieval method on a trace: recall@k, attention-mass recall, output error, time per step.")
final class EvalCommand implements Callable<Integer> {

    @Option(names = "--method", defaultValue = "pariskv", description = "pariskv, pariskv-ref (reference config: group-mean GQA, no key centring), full, oracle, streaming, or a peer (default: ${DEFAULT-VALUE}).")
    String method;

    @Mixin
    TraceOptions traceOptions;

    @Mixin
    DecodeOptions decode;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE}).")
    String format;

    @Override
    public Integer call() {
        JsonOut.checkFormat(format);
        MethodChoice choice = MethodChoice.parse(method); // fail fast on an unknown method name
        ParisKvConfig cfg = choice.config(decode.config());
        Trace trace = traceOptions.load();
        decode.checkAgainst(trace);
        EvalResult r;
        int layers = trace.shape().layers();
        // one unit per layer's prefill, then one per decode step: the bar moves (and says what runs) during a long prefill
        try (Progress p = new Progress("eval " + method, layers + trace.steps(), format.equals("text") && System.console() != null)) {
            java.util.function.IntConsumer prefill = l -> {
                if (l > 0) p.stepper().accept(l);
                p.extra(l < layers ? "prefill " + trace.promptTokens() + " tokens, layer " + (l + 1) + "/" + layers : "decode");
            };
            r = decode.evaluate(trace, choice.registered(), cfg, p.stepper(), org.pariskv.eval.Evaluation.Options.defaults().withPrefillProgress(prefill));
        }
        if (choice.reference()) r = r.withMethod(choice.label());
        if (format.equals("json")) System.out.println(JsonOut.write(toMap(r)));
        else System.out.print(text(r));
        decode.printProfile(r);
        return 0;
    }

    static Map<String, Object> toMap(EvalResult r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("method", r.method());
        m.put("device", r.device());
        m.put("trace", r.trace());
        m.put("context", r.context());
        m.put("steps", r.steps());
        m.put("topk", r.topk());
        m.put("gqa", r.gqa());
        m.put("recall_at_k", r.recallAtK().mean());
        m.put("attention_mass_recall", r.attentionMass().mean());
        m.put("output_rel_error", r.outputRelError().mean());
        m.put("needle_hit_rate", r.needleHitRate());
        m.put("ms_per_step", r.msPerStep());
        m.put("sparse_steps", r.sparseSteps());
        m.put("recall_at_k_min", r.recallAtK().min());
        m.put("output_rel_error_p95", r.outputRelError().p95());
        m.put("stage_thread_ms_per_step", r.stageMs()); // summed over threads: may exceed ms_per_step
        m.put("retrieval_rate", r.retrievalRate());
        m.put("mean_k", r.meanRetrieved()); // realised budget: zone tokens retrieved per KV head per sparse step
        return m;
    }

    static String text(EvalResult r) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "method %s on %s  (device %s, context %d, %d steps, top-k %d, gqa %s)%n",
                r.method(), r.trace(), r.device(), r.context(), r.steps(), r.topk(), r.gqa()));
        sb.append(String.format(Locale.ROOT, "  recall@k               %s%n", fmt(r.recallAtK())));
        sb.append(String.format(Locale.ROOT, "  attention-mass recall  %s%n", fmt(r.attentionMass())));
        sb.append(String.format(Locale.ROOT, "  output rel. error      %s%n", fmt(r.outputRelError())));
        if (!Double.isNaN(r.meanRetrieved())) sb.append(String.format(Locale.ROOT, "  mean k                 %.1f (zone tokens retrieved per KV head per sparse step)%n", r.meanRetrieved()));
        if (!Double.isNaN(r.needleHitRate())) sb.append(String.format(Locale.ROOT, "  needle hit rate        %.3f%n", r.needleHitRate()));
        if (!Double.isNaN(r.retrievalRate())) sb.append(String.format(Locale.ROOT, "  retrieval rate         %.3f (selections computed afresh / asked for)%n", r.retrievalRate()));
        sb.append(String.format(Locale.ROOT, "  time per step          %.3f ms (median; %d of %d steps sparse)%n", r.msPerStep(), r.sparseSteps(), r.steps()));
        if (!r.stageMs().isEmpty()) {
            sb.append("  per stage (thread-ms/step, summed over parallel threads):  ");
            r.stageMs().forEach((k, v) -> sb.append(String.format(Locale.ROOT, " %s %.3f", k, v)));
            sb.append(System.lineSeparator());
        }
        return sb.toString();
    }

    private static String fmt(MetricSummary s) {
        if (s.count() == 0) return "n/a";
        return String.format(Locale.ROOT, "mean %.4f  (min %.4f, p50 %.4f, max %.4f, n=%d)", s.mean(), s.min(), s.p50(), s.max(), s.count());
    }

}
