package org.pariskv.compute.jit;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Shows the code generated for Java kernels: {@link #print} writes a class's program in one dialect (what the device
 * compiler sees), {@link #dump} writes both dialects of some classes to a directory. Also a small command line:
 * {@code java -cp pariskv.jar org.pariskv.compute.jit.KernelPrinter org.example.MyKernels [opencl|cuda]}
 * (the CLI's {@code pariskv kernels} does the same).
 */
public final class KernelPrinter {
    private KernelPrinter() {}

    /** Writes the program of {@code kernels} in {@code dialect}, headed by its kernels and translation time. */
    public static void print(Class<?> kernels, Dialect dialect, PrintStream out) {
        Translation t = KernelTranslator.translate(kernels, dialect);
        out.println("// ---- " + t.sourceName() + ": kernels " + String.join(", ", t.kernels()) + "; "
                + (t.fromDisk() ? "from the disk cache" : String.format("translated in %.1f ms", t.nanos() / 1e6)) + " ----");
        out.print(t.source());
    }

    /** Writes {@code <class>.java.cl} and {@code <class>.java.cu} of each class into {@code dir}; returns the files. */
    public static List<Path> dump(Path dir, List<Class<?>> classes) {
        List<Path> files = new ArrayList<>();
        try {
            Files.createDirectories(dir);
            for (Class<?> c : classes) {
                for (Dialect d : Dialect.values()) {
                    Translation t = KernelTranslator.translate(c, d);
                    Path f = dir.resolve(t.sourceName());
                    Files.writeString(f, t.source());
                    files.add(f);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write kernels to " + dir, e);
        }
        return files;
    }

    public static void main(String[] args) throws ClassNotFoundException {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: KernelPrinter <kernel class> [opencl|cuda]");
            System.exit(2);
        }
        Dialect d = args.length == 2 ? Dialect.valueOf(args[1].toUpperCase()) : Dialect.OPENCL;
        print(Class.forName(args[0]), d, System.out);
    }
}
