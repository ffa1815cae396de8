package org.pariskv.compute;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A kernel source file from {@code tasks/} and its full text for the device compilers: {@code pkv.h}
 * (the OpenCL C / CUDA C portability macros) prepended, then a {@code #line} so that compiler
 * messages point at the task file's own lines.
 */
public record KernelSource(String name, String text) {
    private static final Map<String, KernelSource> RESOURCES = new ConcurrentHashMap<>();

    /** The classpath resource {@code /tasks/<file>} (packaged from the top-level {@code tasks/} directory). */
    public static KernelSource resource(String file) {
        return RESOURCES.computeIfAbsent(file, f -> new KernelSource(f, read("/tasks/" + f)));
    }

    /** A source given in code (tests, experiments). */
    public static KernelSource of(String name, String text) {
        return new KernelSource(name, text);
    }

    /** {@code pkv.h} + this file: what OpenCL and NVRTC compile. */
    public String compilable() {
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
