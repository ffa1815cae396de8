package org.pariskv.compute;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Where a graph's kernels come from: a file from {@code tasks/} (hand-written C; its full text for the device compilers
 * is {@code pkv.h}, the OpenCL C / CUDA C portability macros, prepended, then a {@code #line} so that compiler messages
 * point at the task file's own lines), or a class of {@code @Kernel} Java methods ({@link #of(Class)}), which the
 * translator in {@code org.pariskv.compute.jit} turns into OpenCL C or CUDA C and the java backend runs as they are.
 *
 * @param kernelClass the Java kernel class, or null for C text
 */
public record KernelSource(String name, String text, Class<?> kernelClass) {
    public KernelSource(String name, String text) {
        this(name, text, null);
    }

    private static final Map<String, KernelSource> RESOURCES = new ConcurrentHashMap<>();

    /** The classpath resource {@code /tasks/<file>} (packaged from the top-level {@code tasks/} directory). */
    public static KernelSource resource(String file) {
        return RESOURCES.computeIfAbsent(file, f -> new KernelSource(f, read("/tasks/" + f)));
    }

    /** A source given in code (tests, experiments). */
    public static KernelSource of(String name, String text) {
        return new KernelSource(name, text);
    }

    /** Kernels written in Java: the {@code @Kernel} methods of {@code kernels}. */
    public static KernelSource of(Class<?> kernels) {
        return new KernelSource(kernels.getName() + ".java", "", kernels);
    }

    /** Whether the kernels are Java methods (translated per device) rather than C text. */
    public boolean isJava() {
        return kernelClass != null;
    }

    /** {@code pkv.h} + this file: what OpenCL and NVRTC compile. */
    public String compilable() {
        if (isJava()) throw new IllegalStateException(name + " is Java: its device code is generated per dialect (KernelTranslator)");
        return header() + "\n#line 1 \"" + name + "\"\n" + text;
    }

    /** The text of {@code tasks/pkv.h}. */
    public static String header() {
        return resource("pkv.h").text();
    }

    private static String read(String path) {
        try (InputStream in = KernelSource.class.getResourceAsStream(path)) {
            if (in == null) throw new IllegalArgumentException("kernel source " + path + " is not on the classpath");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path, e);
        }
    }
}
