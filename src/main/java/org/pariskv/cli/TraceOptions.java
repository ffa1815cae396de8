package org.pariskv.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import org.pariskv.ModelShape;
import org.pariskv.ShapeProfiles;
import org.pariskv.trace.Trace;
import org.pariskv.trace.TraceFiles;
import org.pariskv.trace.TraceGenerators;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Where a command's trace comes from: a seeded generator or a safetensors trace file. */
final class TraceOptions {

    @Option(names = "--trace", defaultValue = "llm", description = "Generator (iid, llm, drift, needle; model: the bundled model's own attention over held-out text) or a .safetensors trace file (default: ${DEFAULT-VALUE}).")
    String trace;

    @Option(names = "--context", defaultValue = "32768", description = "Tokens at the last decode step: prompt + steps (default: ${DEFAULT-VALUE}).")
    int context;

    @Option(names = "--steps", defaultValue = "32", description = "Decode steps scored (default: ${DEFAULT-VALUE}).")
    int steps;

    @Mixin
    ShapeOption shapeOption;

    @Option(names = "--layers", defaultValue = "1", description = "Layers generated and decoded (default: ${DEFAULT-VALUE}).")
    int layers;

    @Option(names = "--seed", defaultValue = "1", description = "Trace seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    /** Options a trace file fixes itself: giving one with a file is refused rather than silently ignored. */
    private static final String[] FIXED_BY_FILE = {"--context", "--steps", "--shape", "--layers", "--seed"};

    boolean isFile() {
        return isFile(trace);
    }

    /** A trace argument names a file (rather than a generator) when it looks like a path or exists. */
    static boolean isFile(String trace) {
        return trace.endsWith(".safetensors") || trace.contains("/") || Files.exists(Path.of(trace));
    }

    /**
     * Reads the trace file {@code trace}; any of {@code fixedByFile} given on {@code command}'s line is refused, since
     * the file fixes it.
     */
    static Trace readFile(String trace, CommandSpec command, String... fixedByFile) {
        Path p = Path.of(trace);
        if (Files.isDirectory(p)) throw new IllegalArgumentException("trace " + trace + " is a directory, not a trace file");
        if (!Files.isRegularFile(p)) throw new IllegalArgumentException("trace file not found: " + trace);
        Trace t = TraceFiles.read(p);
        for (String option : fixedByFile) {
            if (command != null && command.commandLine().getParseResult().hasMatchedOption(option)) {
                throw new IllegalArgumentException(option + " cannot be combined with a trace file: " + trace + " fixes it ("
                        + t.promptTokens() + " prompt tokens + " + t.steps() + " steps, " + t.shape().layers() + " layer(s))");
            }
        }
        return t;
    }

    Trace load() {
        if (isFile()) return readFile(trace, command, FIXED_BY_FILE);
        if (steps <= 0) throw new IllegalArgumentException("--steps must be positive, got " + steps);
        if (context <= steps) throw new IllegalArgumentException("--context (" + context + ") must exceed --steps (" + steps + "): the prompt would be empty");
        if (layers <= 0) throw new IllegalArgumentException("--layers must be positive, got " + layers);
        ModelShape s = baseShape(trace, shapeOption, command);
        return generator(trace).generate(s.withLayers(layers), context - steps, steps, seed);
    }

    /** The generator {@code trace} names: a synthetic one, or {@code model}, the bundled model's recorded attention. */
    static org.pariskv.trace.TraceGenerator generator(String trace) {
        return isModel(trace) ? new org.pariskv.model.ModelTraceGenerator() : TraceGenerators.byName(trace);
    }

    static boolean isModel(String trace) {
        return trace.trim().equalsIgnoreCase("model");
    }

    /** The head geometry a generated trace gets: --shape's, or the model's own for {@code model} (--shape then refused). */
    static ModelShape baseShape(String trace, ShapeOption shapeOption, CommandSpec command) {
        if (!isModel(trace)) return ShapeProfiles.byName(shapeOption.name(null));
        if (command != null && command.commandLine().getParseResult().hasMatchedOption("--shape")) {
            throw new IllegalArgumentException("--shape cannot be combined with --trace model: the trace has the bundled model's own heads");
        }
        return new org.pariskv.model.ModelTraceGenerator().shape();
    }
}
