package org.pariskv.cli;

import java.util.Locale;
import java.util.concurrent.Callable;
import org.pariskv.ParisKvConfig;
import org.pariskv.eval.EvalResult;
import org.pariskv.eval.Evaluation;
import org.pariskv.method.Methods;
import org.pariskv.trace.Trace;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code pariskv demo}: the main job — a long-context decode with quality against full attention and time per step. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Long-context decode on the default trace: ParisKV against full attention (quality and time per step).")
final class DemoCommand implements Callable<Integer> {

    @Mixin
    TraceOptions traceOptions;

    @Mixin
    DecodeOptions decode;

    @Override
    public Integer call() {
        ParisKvConfig cfg = decode.config();
        String device = decode.resolveDevice().spec();
        System.out.printf(Locale.ROOT, "ParisKV demo: trace '%s', context %d tokens, %d decode steps, shape %s x %d layer(s), device %s%n",
                traceOptions.trace, traceOptions.context, traceOptions.steps, traceOptions.shape, traceOptions.layers, device);
        long t0 = System.nanoTime();
        Trace trace = traceOptions.load();
        decode.checkAgainst(trace);
        System.out.printf(Locale.ROOT, "trace generated in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        String[] methods = {"pariskv", "full", "streaming"};
        EvalResult[] results = new EvalResult[methods.length];
        for (int i = 0; i < methods.length; i++) {
            try (Progress p = new Progress(methods[i], trace.steps(), true)) {
                results[i] = decode.evaluate(trace, methods[i], cfg, p.stepper());
            }
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "%-10s %-10s %10s %12s %12s %12s%n", "method", "device", "recall@k", "attn-mass", "out-error", "ms/step");
        for (EvalResult r : results) {
            System.out.printf(Locale.ROOT, "%-10s %-10s %10s %12.4f %12.4f %12.2f%n", r.method(), r.device(),
                    r.recallAtK().count() == 0 ? "-" : String.format(Locale.ROOT, "%.4f", r.recallAtK().mean()),
                    r.attentionMass().mean(), r.outputRelError().mean(), r.msPerStep());
        }
        System.out.println();
        System.out.print(EvalCommand.text(results[0]));
        return 0;
    }
}
