package org.pariskv.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.pariskv.GqaMode;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.ShapeProfiles;
import org.pariskv.eval.EvalResult;
import org.pariskv.eval.Evaluation;
import org.pariskv.profile.StageProfile;
import org.pariskv.trace.Trace;
import org.pariskv.trace.TraceGenerator;
import org.pariskv.trace.TraceGenerators;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code pariskv compare}: every (method, context, budget) side by side on the same generated trace (one trace
 * per context, reused by every method and budget), written as CSV, markdown, JSON and PNG plots.
 *
 * <p>{@code pariskv-ref} (alias {@code pariskv-reference}) is ParisKV run with {@link ParisKvConfig#reference()}:
 * group-mean retrieval query, no key centring (its recall@k is then measured against the group-mean exact
 * top-k, the same GQA rule it selects by). {@code pariskv} uses the defaults (per-head GQA, key centring) unless
 * {@code --gqa} / {@code --[no-]center-keys} say otherwise.
 *
 * <p>{@code --preset drift} is the drift experiment (the paper's Figure 1 at CPU scale): trace {@code drift},
 * methods pariskv, pariskv-ref, pqcache, louiskv, oracle, context 12288 (8K prompt + 4096 generated tokens),
 * budget 256, quality scored every 64th step; every option given explicitly overrides the preset.
 */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run several retrieval methods side by side on the same trace over contexts and budgets; "
                + "write results.csv, results.md, results.json and PNG plots into --out.",
                "Methods: pariskv, pariskv-ref (reference config: group-mean GQA, no key centring), full, oracle, streaming, "
                        + "quest, pqcache, magicpig, louiskv.",
                "--preset drift: the drift experiment (recall over the generation; see --help of each option for its default)."})
final class CompareCommand implements Callable<Integer> {

    static final String DEFAULT_METHODS = "pariskv,oracle,streaming,quest,pqcache,magicpig,louiskv";
    static final String DRIFT_METHODS = "pariskv,pariskv-ref,pqcache,louiskv,oracle";

    @Option(names = "--preset", description = "drift: the drift experiment (trace drift, methods " + DRIFT_METHODS
            + ", context 12288, 4096 steps, budget 256, --sample-every 64). Explicit options override it.")
    String preset;

    @Option(names = "--methods", split = ",", description = "Comma-separated methods (default: " + DEFAULT_METHODS + ").")
    List<String> methods;

    @Option(names = "--trace", description = "Generator (iid, llm, drift or needle; model: the bundled model's own attention over held-out text; default: llm) or a .safetensors trace file, which fixes context, steps, shape, layers and seed.")
    String trace;

    @Option(names = {"--contexts", "--context"}, split = ",", description = "Comma-separated contexts: tokens at the last decode step, prompt + steps (default: 32768).")
    List<Integer> contexts;

    @Option(names = "--budgets", split = ",", description = "Comma-separated budgets: top-k tokens per KV head (default: 100,256,1024).")
    List<Integer> budgets;

    @Option(names = "--steps", description = "Decode steps (generated tokens) per run (default: 16).")
    Integer steps;

    @Option(names = "--sample-every", description = "Score quality at every N-th step only (and the last); every step is still decoded (default: 1).")
    Integer sampleEvery;

    @Mixin
    ShapeOption shapeOption;

    @Spec
    CommandSpec spec;

    @Option(names = "--layers", defaultValue = "1", description = "Layers generated and decoded (default: ${DEFAULT-VALUE}).")
    int layers;

    @Option(names = "--seed", defaultValue = "1", description = "Trace seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--gqa", description = "mean or per-head for every method but pariskv-ref (default: the configured default, per-head).")
    String gqa;

    @Option(names = "--sink", description = "Sink tokens always attended (default: 4).")
    Integer sink;

    @Option(names = "--local", description = "Local window tokens always attended (default: 512).")
    Integer local;

    @Option(names = "--center-keys", negatable = true, description = "ParisKV key centring (default: on; pariskv-ref: off).")
    Boolean centerKeys;

    @Option(names = "--adaptive-mass", paramLabel = "TAU", description = "ParisKV adaptive budget: per query head the smallest k whose estimated softmax mass, with sink and local window, reaches TAU of the estimated total, in [--topk-min, --topk-max]; --budgets then only labels the run (default: off).")
    Double adaptiveMass;

    @Option(names = "--topk-max", paramLabel = "K", description = "Cap of the adaptive budget per query head and per KV head (default: 400).")
    Integer topkMax;

    @Option(names = "--topk-min", paramLabel = "K", description = "Floor of the adaptive budget per query head (default: 16).")
    Integer topkMin;

    @Option(names = "--out", description = "Output folder (default: out/compare-<trace>, or out/drift-experiment with --preset drift).")
    Path out;

    @Option(names = "--format", defaultValue = "text", description = "stdout: text (the markdown table) or json (default: ${DEFAULT-VALUE}).")
    String format;

    @Option(names = "--plots", negatable = true, defaultValue = "true", fallbackValue = "true", description = "Write PNG plots (default: on).")
    boolean plots;

    @Option(names = "--warmup", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Run each method once on a small throw-away trace first so that ms/step is not the JIT's warm-up (default: on).")
    boolean warmup;

    @Option(names = "--progress", negatable = true, description = "Progress bar on stderr (default: on when a console is attached).")
    Boolean progress;

    @Override
    public Integer call() {
        boolean drift = resolvePreset();
        JsonOut.checkFormat(format);
        List<MethodChoice> specs = new ArrayList<>();
        for (String m : methods) specs.add(MethodChoice.parse(m));
        if (specs.stream().map(MethodChoice::label).distinct().count() != specs.size()) throw new IllegalArgumentException("a method appears twice in --methods");
        Trace file = TraceOptions.isFile(trace) ? TraceOptions.readFile(trace, spec, "--contexts", "--steps", "--shape", "--layers", "--seed") : null;
        if (file != null) {
            contexts = List.of(file.tokens());
            steps = file.steps();
        }
        TraceGenerator generator = file != null ? TraceGenerators.byName("llm") : TraceOptions.generator(trace); // llm: the warm-up's trace
        String traceName = file != null ? Path.of(trace).getFileName().toString().replaceFirst("\\.safetensors$", "") : trace;
        ModelShape base = file != null ? file.shape() : TraceOptions.baseShape(trace, shapeOption, spec);
        String shape = file != null ? "file (" + file.shape().queryHeads() + " query / " + file.shape().kvHeads() + " KV heads, D=" + file.shape().headDim() + ")"
                : TraceOptions.isModel(trace) ? "bundled model (" + base.queryHeads() + " query / " + base.kvHeads() + " KV heads, D=" + base.headDim() + ")"
                : shapeOption.name(null);
        int layers = file != null ? file.shape().layers() : this.layers;
        long seed = file != null ? 0 : this.seed;
        if (layers <= 0) throw new IllegalArgumentException("--layers must be positive, got " + layers);
        if (steps <= 0) throw new IllegalArgumentException("--steps must be positive, got " + steps);
        Evaluation.Options options = new Evaluation.Options(sampleEvery);
        ParisKvConfig cfg = baseConfig();
        for (int b : budgets) if (b <= 0) throw new IllegalArgumentException("--budgets must be positive, got " + b);
        for (int c : contexts) {
            if (c <= steps) throw new IllegalArgumentException("context " + c + " must exceed --steps (" + steps + "): the prompt would be empty");
            int zone = c - cfg.sink() - cfg.local();
            for (int b : budgets) {
                if (b > zone) {
                    throw new IllegalArgumentException("budget " + b + " is larger than the retrieval zone of context " + c + " (" + Math.max(0, zone)
                            + " tokens = context - sink " + cfg.sink() + " - local " + cfg.local() + ")");
                }
            }
        }
        Path dir = out != null ? out : Path.of("out", drift ? "drift-experiment" : "compare-" + traceName.toLowerCase(Locale.ROOT));
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir + ": " + e.getMessage(), e);
        }

        StageProfile.enable(false); // time the decode without per-stage bookkeeping
        List<EvalResult> results = new ArrayList<>();
        long total = (long) contexts.size() * budgets.size() * specs.size() * steps;
        boolean bar = progress != null ? progress : System.console() != null;
        if (warmup) warmUp(generator instanceof org.pariskv.model.ModelTraceGenerator ? TraceGenerators.byName("llm") : generator, specs, cfg, seed); // JIT warm-up only
        try (Progress p = new Progress("compare", total, bar)) {
            for (int ctx : contexts) {
                p.extra(file != null ? traceName : "generating " + trace + " trace, context " + ctx);
                Trace t = file != null ? file : generator.generate(base.withLayers(layers), ctx - steps, steps, seed);
                for (int budget : budgets) {
                    for (MethodChoice spec : specs) {
                        p.extra(spec.label() + " c" + ctx + " k" + budget);
                        ParisKvConfig c = spec.reference() ? referenceConfig().withTopk(budget) : cfg.withTopk(budget);
                        EvalResult r = Evaluation.run(t, spec.create(), c, "java", p.stepper(), options);
                        String label = spec.label();
                        if (c.adaptive() && spec.registered().startsWith("pariskv")) {
                            label += String.format(Locale.ROOT, " adaptive tau=%s k=%d..%d", c.adaptiveMass(), c.topkMin(), c.topkMax());
                        }
                        results.add(label.equals(r.method()) ? r : r.withMethod(label));
                    }
                }
            }
        }

        CompareOutput.Setup setup = new CompareOutput.Setup(traceName, shape, layers, seed, steps, sampleEvery, "java");
        boolean stepSeries = CompareOutput.hasStepSeries(results);
        boolean manySteps = drift || countScored(steps, sampleEvery) >= 32;
        String md = CompareOutput.markdown(results, setup, manySteps ? 8 : 0);
        String json = JsonOut.write(CompareOutput.json(results, setup));
        List<Path> files = new ArrayList<>();
        CompareOutput.write(dir.resolve("results.csv"), CompareOutput.csv(results));
        files.add(dir.resolve("results.csv"));
        CompareOutput.write(dir.resolve("results.md"), md);
        files.add(dir.resolve("results.md"));
        CompareOutput.write(dir.resolve("results.json"), json + "\n");
        files.add(dir.resolve("results.json"));
        if (stepSeries && manySteps) {
            CompareOutput.write(dir.resolve("recall_steps.csv"), CompareOutput.stepsCsv(results));
            files.add(dir.resolve("recall_steps.csv"));
        }
        if (plots) {
            files.addAll(ComparePlots.budgetPlots(results, dir));
            if (stepSeries && manySteps) files.addAll(ComparePlots.stepPlots(results, dir));
        }
        if (format.equals("json")) {
            System.out.println(json);
        } else {
            System.out.print(md);
            System.out.println();
            for (Path f : files) System.out.println("wrote " + f);
        }
        return 0;
    }

    /** Each method on a small-shape trace of the same generator (2600 tokens, 16 steps); results dropped. */
    private void warmUp(TraceGenerator generator, List<MethodChoice> specs, ParisKvConfig cfg, long seed) {
        int wSteps = 16, wContext = Math.max(2600, cfg.sink() + cfg.local() + 2 * 64 + wSteps + 64);
        Trace t = generator.generate(ShapeProfiles.byName("small"), wContext - wSteps, wSteps, seed + 7919);
        for (MethodChoice spec : specs) {
            ParisKvConfig c = (spec.reference() ? referenceConfig() : cfg).withTopk(64);
            Evaluation.run(t, spec.create(), c, "java", null, new Evaluation.Options(4));
        }
    }

    private static int countScored(int steps, int every) {
        return (steps - 1) / every + 1 + ((steps - 1) % every == 0 ? 0 : 1);
    }

    /** Fills the options not given: from the preset when one is named, else the plain defaults. Returns true for drift. */
    private boolean resolvePreset() {
        boolean drift = false;
        if (preset != null) {
            if (!preset.equalsIgnoreCase("drift")) throw new IllegalArgumentException("unknown --preset '" + preset + "' (expected drift)");
            drift = true;
        }
        if (methods == null || methods.isEmpty()) methods = List.of((drift ? DRIFT_METHODS : DEFAULT_METHODS).split(","));
        if (trace == null) trace = drift ? "drift" : "llm";
        if (contexts == null || contexts.isEmpty()) contexts = List.of(drift ? 12288 : 32768);
        if (budgets == null || budgets.isEmpty()) budgets = drift ? List.of(256) : List.of(100, 256, 1024);
        if (steps == null) steps = drift ? 4096 : 16;
        if (sampleEvery == null) sampleEvery = drift ? 64 : 1;
        return drift;
    }

    private ParisKvConfig baseConfig() {
        ParisKvConfig c = ParisKvConfig.defaults();
        if (gqa != null) c = c.withGqa(GqaMode.parse(gqa));
        if (centerKeys != null) c = c.withCenterKeys(centerKeys);
        return window(c);
    }

    /** {@link ParisKvConfig#reference()} with this run's windows (budget set per run). */
    private ParisKvConfig referenceConfig() {
        return window(ParisKvConfig.reference());
    }

    /** Windows and the adaptive budget of this run. */
    private ParisKvConfig window(ParisKvConfig c) {
        if (sink != null || local != null) c = c.withWindow(sink != null ? sink : c.sink(), local != null ? local : c.local());
        return DecodeOptions.adaptive(c, adaptiveMass, topkMin, topkMax);
    }
}
