package org.pariskv.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.BiFunction;
import org.pariskv.ParisKvConfig;
import org.pariskv.model.BundledModel;
import org.pariskv.model.tasks.ModelAnswerer;
import org.pariskv.model.tasks.SharedPrefill;
import org.pariskv.model.tasks.Answerer;
import org.pariskv.model.tasks.InstanceResult;
import org.pariskv.model.tasks.LongContextTask;
import org.pariskv.model.tasks.SuiteListener;
import org.pariskv.model.tasks.SuitePlan;
import org.pariskv.model.tasks.SuiteResult;
import org.pariskv.model.tasks.SuiteRunner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code pariskv ruler}: the RULER-like tasks of docs/tasks.md on a byte-level model, every method on the same
 * prompts; prints the accuracy table and writes results.md, results.json, accuracy.csv, instances.csv and one
 * PNG per task into {@code --out}.
 */
@Command(name = "ruler", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run the RULER-like long-context tasks (docs/tasks.md) on a model with each attention method; "
                + "print accuracy per task x context x method and write results.md, results.json, accuracy.csv, instances.csv "
                + "and accuracy-<task>.png into --out.",
                "Tasks and their minimum contexts (bytes): passkey ${sys:pariskv.ruler.min.passkey}, "
                        + "niah_single ${sys:pariskv.ruler.min.niah_single}, niah_multikey ${sys:pariskv.ruler.min.niah_multikey}, "
                        + "kv_lookup ${sys:pariskv.ruler.min.kv_lookup}, vartrack ${sys:pariskv.ruler.min.vartrack}."})
final class RulerCommand implements Callable<Integer> {

    // picocli's descriptions are annotation constants: the computed minimums reach --help as system properties
    static {
        for (LongContextTask t : LongContextTask.ALL) System.setProperty("pariskv.ruler.min." + t.name(), Integer.toString(t.minContext()));
    }

    /**
     * The model hook: (model folder, method name) to an {@link Answerer} that decodes greedily with that attention
     * method in every layer. Called once per method, closed at the end of the run. Null (the default): the Java decoder
     * with our default settings, one prefill per prompt shared by all methods ({@link SharedPrefill}). Tests install fakes.
     */
    static volatile BiFunction<Path, String, Answerer> answerers;

    @Option(names = "--model", description = "Model folder (config.json + model.safetensors; default: the bundled byte-level model).")
    Path model;

    @Option(names = "--methods", split = ",", defaultValue = "pariskv,full", description = "Comma-separated attention methods (default: ${DEFAULT-VALUE}).")
    List<String> methods;

    @Option(names = "--tasks", split = ",", defaultValue = "passkey,niah_single,niah_multikey,kv_lookup,vartrack",
            description = "Comma-separated tasks (default: ${DEFAULT-VALUE}).")
    List<String> tasks;

    @Option(names = {"--contexts", "--context"}, split = ",", defaultValue = "2048,4096,8192,16384",
            description = "Comma-separated target prompt lengths in bytes = tokens, BOS included (default: ${DEFAULT-VALUE}).")
    List<Integer> contexts;

    @Option(names = "--samples", defaultValue = "10",
            description = "Instances per task x context (passkey: depths 10, 20, ..., 90 %% in turn; default: ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the prompts (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", defaultValue = "out/ruler", description = "Output folder (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--format", defaultValue = "text", description = "stdout: text (the table) or json (default: ${DEFAULT-VALUE}).")
    String format;

    @Option(names = "--plots", negatable = true, defaultValue = "true", fallbackValue = "true", description = "Write PNG plots (default: on).")
    boolean plots;

    @Option(names = "--progress", negatable = true, description = "Progress bar on stderr (default: on when a console is attached).")
    Boolean progress;

    @Option(names = "--adaptive-mass", paramLabel = "TAU", description = "ParisKV methods with the adaptive budget (as in eval/compare; default: off).")
    Double adaptiveMass;

    @Option(names = "--topk-max", paramLabel = "K", description = "Cap of the adaptive budget (default: 400).")
    Integer topkMax;

    @Option(names = "--topk-min", paramLabel = "K", description = "Floor of the adaptive budget (default: 16).")
    Integer topkMin;

    @Override
    public Integer call() {
        JsonOut.checkFormat(format);
        ParisKvConfig base = DecodeOptions.adaptive(ParisKvConfig.defaults(), adaptiveMass, topkMin, topkMax);
        if (model == null) model = BundledModel.directory();
        ModelFolder.require(model);
        List<LongContextTask> taskList = new ArrayList<>();
        for (String t : tasks) taskList.add(LongContextTask.byName(t));
        List<String> methodList = new ArrayList<>();
        for (String m : methods) methodList.add(method(m));
        SuitePlan plan = new SuitePlan(taskList, contexts, methodList, samples, seed);
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + out + ": " + e.getMessage(), e);
        }

        SharedPrefill sharedPrefill = new SharedPrefill();
        BiFunction<Path, String, Answerer> hook = answerers != null ? answerers
                : (dir, method) -> ModelAnswerer.open(dir, MethodChoice.parse(method).registered(), MethodChoice.parse(method).config(base), sharedPrefill);
        SuiteResult result;
        boolean bar = progress != null ? progress : System.console() != null;
        try (Progress p = new Progress("ruler", plan.answers(), bar)) {
            result = SuiteRunner.run(plan, m -> hook.apply(model, m), new SuiteListener() {
                @Override
                public void starting(String method, String task, int context) {
                    p.extra(method + " " + task + " c" + context);
                }

                @Override
                public void answered(InstanceResult r) {
                    p.stepper().accept(1);
                }
            });
        }

        String md = RulerOutput.markdown(result, model.toString());
        String json = JsonOut.write(RulerOutput.json(result, model.toString()));
        List<Path> files = new ArrayList<>();
        write(files, out.resolve("results.md"), md);
        write(files, out.resolve("results.json"), json + "\n");
        write(files, out.resolve("accuracy.csv"), RulerOutput.accuracyCsv(result));
        write(files, out.resolve("instances.csv"), RulerOutput.instancesCsv(result));
        if (plots) files.addAll(RulerPlots.accuracyPlots(result, out));
        if (format.equals("json")) {
            System.out.println(json);
        } else {
            System.out.print(md);
            System.out.println();
            for (Path f : files) System.out.println("wrote " + f);
        }
        return 0;
    }

    private static String method(String name) {
        return MethodChoice.parse(name).label();
    }

    private static void write(List<Path> files, Path file, String text) {
        CompareOutput.write(file, text);
        files.add(file);
    }
}
