package org.pariskv.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code pariskv} command line. Exit 0 on success, 2 with a one-line reason on bad input. */
@Command(name = "pariskv", mixinStandardHelpOptions = true, version = "pariskv 0.1.0",
        description = "Fast, drift-robust KV-cache retrieval for long-context LLM decoding (Java, OpenCL, CUDA).",
        subcommands = {DemoCommand.class, GenerateCommand.class, RulerCommand.class, BitsPerByteCommand.class, EvalCommand.class, CompareCommand.class, BenchCommand.class, PlanCommand.class,
                DevicesCommand.class, KernelsCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the CLI and returns its exit code (tests call this). */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (ex instanceof IllegalArgumentException || ex instanceof IllegalStateException
                    || ex instanceof java.io.IOException || ex instanceof java.io.UncheckedIOException
                    || ex instanceof org.pariskv.compute.BackendUnavailableException) {
                cmd.getErr().println("pariskv: " + ex.getMessage());
                return 2;
            }
            throw ex;
        });
        cl.setParameterExceptionHandler((ex, args2) -> {
            ex.getCommandLine().getErr().println("pariskv: " + ex.getMessage() + " (see --help)");
            return 2;
        });
        return cl.execute(args);
    }
}
