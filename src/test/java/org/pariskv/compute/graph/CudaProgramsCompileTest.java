package org.pariskv.compute.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.MethodModel;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.pariskv.compute.jit.Dialect;
import org.pariskv.compute.jit.KernelTranslator;
import org.pariskv.compute.kernel.Constant;
import org.pariskv.compute.kernel.Kernel;
import org.pariskv.compute.kernel.KernelContext;

/**
 * Every CUDA program of the Java kernel classes compiles: for each {@code @Kernel}, the translated CUDA source under
 * the defines a run passes to NVRTC ({@code PKV_ONLY_<kernel>}, {@link JavaKernelTask#constantDefines} of realistic
 * {@code @Constant} values, {@code PKV_STRICT_FP} and with it {@code --fmad=false}), compiled by the local
 * {@code nvcc -ptx}. Without it a CUDA-only compile error (the tables' {@code const}) surfaced on a GPU only, as an
 * {@code NVRTC_ERROR_COMPILATION} whose log was lost. Skipped where nvcc is not on the PATH (CI has none).
 */
@Tag("slow") // about 1 s of nvcc per kernel and shape
class CudaProgramsCompileTest {
    private static final String[] CLASSES = {"org.pariskv.device.DecodeKernels", "org.pariskv.device.TopKKernels",
            "org.pariskv.device.AttentionKernels", "org.pariskv.device.StepInputKernels", "org.pariskv.model.device.ModelKernels",
            "org.pariskv.compute.jit.SpecialisedKernels", "org.pariskv.compute.jit.SubsetKernels",
            "org.pariskv.compute.smoke.SmokeTasks"};

    /** @Constant values by parameter name: llama3-8b's decode shape, and a small one with the other branches. */
    private static final Map<String, Map<String, Object>> SHAPES = Map.of(
            "llama3-8b", Map.ofEntries(Map.entry("headDim", 128), Map.entry("group", 4), Map.entry("hkv", 8),
                    Map.entry("nq", 1), Map.entry("kmax", 128), Map.entry("blocks", 16), Map.entry("hadamard", true),
                    Map.entry("attWindow", false), Map.entry("scale", (float) (1 / Math.sqrt(128))),
                    Map.entry("rotScale", (float) (1 / Math.sqrt(128))), Map.entry("dim", 16), Map.entry("twice", true),
                    Map.entry("bins", 37), Map.entry("cols", 4096), Map.entry("rowsPerWarp", 2), Map.entry("rope", true)),
            "small", Map.ofEntries(Map.entry("headDim", 64), Map.entry("group", 1), Map.entry("hkv", 2),
                    Map.entry("nq", 4), Map.entry("kmax", 32), Map.entry("blocks", 8), Map.entry("hadamard", false),
                    Map.entry("attWindow", true), Map.entry("scale", 0.125f), Map.entry("rotScale", 0.125f),
                    Map.entry("dim", 3), Map.entry("twice", false), Map.entry("bins", 256), Map.entry("cols", 1032),
                    Map.entry("rowsPerWarp", 4), Map.entry("rope", false)));

    @ParameterizedTest
    @ValueSource(strings = {"llama3-8b", "small"})
    void everyKernelCompilesForSm90(String shape, @TempDir Path dir) throws Exception {
        assumeTrue(onPath("nvcc"), "nvcc is not on the PATH (CI has none): only NVRTC on a GPU compiles these programs");
        List<String> failed = new ArrayList<>();
        int compiled = 0;
        for (String name : CLASSES) {
            Class<?> k = Class.forName(name);
            Path src = dir.resolve(k.getSimpleName() + ".cu");
            Files.writeString(src, KernelTranslator.translate(k, Dialect.CUDA).source());
            for (String kernel : KernelTranslator.kernelNames(k)) {
                Map<String, String> defines = new TreeMap<>(JavaKernelTask.constantDefines(k, kernel, args(k, kernel, SHAPES.get(shape))));
                defines.put("PKV_STRICT_FP", "1");
                List<String> cmd = new ArrayList<>(List.of("nvcc", "-arch=sm_90", "-ptx", "--fmad=false", "-o",
                        dir.resolve(kernel + ".ptx").toString()));
                defines.forEach((m, v) -> cmd.add("-D" + m + "=" + v));
                cmd.add(src.toString());
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                String log = new String(p.getInputStream().readAllBytes());
                if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                    failed.add(k.getSimpleName() + "." + kernel + " " + defines + ":\n" + errors(log));
                }
                compiled++;
            }
        }
        assertTrue(compiled > 40, "kernels compiled: " + compiled);
        assertEquals(List.of(), failed, "CUDA programs that nvcc refuses");
    }

    /** The task arguments: the shape's value at each @Constant parameter (by its source name), null elsewhere. */
    private static List<Object> args(Class<?> k, String kernel, Map<String, Object> shape) throws IOException {
        Method m = java.util.Arrays.stream(k.getDeclaredMethods())
                .filter(x -> x.getName().equals(kernel) && x.isAnnotationPresent(Kernel.class)).findFirst().orElseThrow();
        List<String> names = parameterNames(k, m);
        int first = m.getParameterCount() > 0 && m.getParameterTypes()[0] == KernelContext.class ? 1 : 0;
        List<Object> args = new ArrayList<>();
        for (int p = first; p < m.getParameterCount(); p++) {
            boolean constant = java.util.Arrays.stream(m.getParameterAnnotations()[p]).anyMatch(a -> a instanceof Constant);
            Object v = constant ? shape.get(names.get(p)) : null;
            if (constant && v == null) throw new IllegalStateException(kernel + ": no value for @Constant " + names.get(p));
            args.add(v);
        }
        return args;
    }

    /** Parameter names from the class file's local variable table (the classes are compiled without -parameters). */
    private static List<String> parameterNames(Class<?> k, Method m) throws IOException {
        byte[] bytes;
        try (var in = k.getResourceAsStream(k.getSimpleName() + ".class")) {
            bytes = in.readAllBytes();
        }
        MethodModel mm = ClassFile.of().parse(bytes).methods().stream()
                .filter(x -> x.methodName().equalsString(m.getName())).findFirst().orElseThrow();
        var table = mm.code().orElseThrow().findAttribute(java.lang.classfile.Attributes.localVariableTable()).orElseThrow();
        List<String> names = new ArrayList<>();
        int slot = 0;
        for (Class<?> t : m.getParameterTypes()) {
            int s = slot;
            names.add(table.localVariables().stream().filter(v -> v.slot() == s && v.startPc() == 0).findFirst()
                    .map(v -> v.name().stringValue()).orElse("?"));
            slot += t == long.class || t == double.class ? 2 : 1;
        }
        return names;
    }

    private static String errors(String log) {
        return log.lines().filter(l -> l.contains("error")).limit(5).reduce("", (a, b) -> a + b + "\n");
    }

    private static boolean onPath(String tool) {
        String path = System.getenv("PATH");
        if (path == null) return false;
        for (String d : path.split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(d, tool))) return true;
        }
        return false;
    }
}
