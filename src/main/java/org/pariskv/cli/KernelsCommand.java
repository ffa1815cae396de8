package org.pariskv.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.pariskv.compute.jit.Dialect;
import org.pariskv.compute.jit.KernelPrinter;
import org.pariskv.compute.jit.KernelTranslator;
import org.pariskv.compute.jit.Translation;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code pariskv kernels}: the OpenCL C / CUDA C generated from Java kernel classes (TornadoVM's
 * {@code --printKernel}): list their kernels and translation times, print one class's program, or dump them all.
 */
@Command(name = "kernels", mixinStandardHelpOptions = true,
        description = "Show the device code generated from Java @Kernel classes (default: the built-in ones).")
final class KernelsCommand implements Callable<Integer> {
    /** Kernel classes of the library, shown when no --class is given. */
    static final List<String> BUILT_IN = java.util.stream.Stream.concat(
            org.pariskv.device.DeviceDecoder.kernelClasses().stream().map(Class::getName),
            java.util.stream.Stream.of("org.pariskv.compute.smoke.SmokeTasks", "org.pariskv.model.device.ModelKernels")).toList();

    @Option(names = "--class", description = "Kernel class (repeatable; on the class path). Default: the built-in kernel classes.")
    List<String> classes = new ArrayList<>();

    @Option(names = "--print", paramLabel = "KERNEL", description = "Print the program that holds kernel KERNEL.")
    String print;

    @Option(names = "--dialect", description = "opencl or cuda (default: ${DEFAULT-VALUE}).", defaultValue = "opencl")
    String dialect;

    @Option(names = "--dump-kernels", paramLabel = "DIR", description = "Write every class's OpenCL C and CUDA C into DIR.")
    Path dump;

    @Override
    public Integer call() throws Exception {
        Dialect d = switch (dialect.toLowerCase()) {
            case "opencl" -> Dialect.OPENCL;
            case "cuda" -> Dialect.CUDA;
            default -> throw new IllegalArgumentException("--dialect is opencl or cuda, not '" + dialect + "'");
        };
        List<Class<?>> types = new ArrayList<>();
        for (String c : classes.isEmpty() ? BUILT_IN : classes) {
            try {
                types.add(Class.forName(c));
            } catch (ClassNotFoundException e) {
                throw new IllegalArgumentException("no class " + c + " on the class path");
            }
        }
        if (dump != null) {
            for (Path f : KernelPrinter.dump(dump, types)) System.out.println("wrote " + f);
            return 0;
        }
        if (print != null) {
            for (Class<?> c : types) {
                if (KernelTranslator.kernelNames(c).contains(print)) {
                    KernelPrinter.print(c, d, System.out);
                    return 0;
                }
            }
            throw new IllegalArgumentException("no @Kernel method '" + print + "' in " + types.stream().map(Class::getName).toList());
        }
        for (Class<?> c : types) {
            Translation t = KernelTranslator.translate(c, d);
            System.out.printf("%s (%s, %s): %s%n", c.getName(), d.name().toLowerCase(),
                    t.fromDisk() ? "disk cache" : String.format("%.1f ms", t.nanos() / 1e6), String.join(", ", t.kernels()));
        }
        return 0;
    }
}
