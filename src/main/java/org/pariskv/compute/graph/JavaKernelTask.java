package org.pariskv.compute.graph;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.List;
import org.pariskv.compute.DeviceBuffer;
import org.pariskv.compute.Grid;
import org.pariskv.compute.jit.BarrierScan;
import org.pariskv.compute.kernel.ByteArray;
import org.pariskv.compute.kernel.Constant;
import org.pariskv.compute.kernel.FloatArray;
import org.pariskv.compute.kernel.IntArray;
import org.pariskv.compute.kernel.Kernel;
import org.pariskv.compute.kernel.KernelArray;
import org.pariskv.compute.kernel.KernelContext;
import org.pariskv.compute.kernel.KernelExecutor;
import org.pariskv.compute.kernel.LongArray;
import org.pariskv.compute.kernel.ShortArray;

/**
 * A task of a Java {@code @Kernel} method on the java backend: the graph's arguments converted to the method's
 * parameter types (Java arrays and segments to kernel arrays, parameters to their current values) and run by the
 * {@link KernelExecutor}. Arguments are checked against the parameters when the task is added.
 */
final class JavaKernelTask {
    private final KernelExecutor executor;
    private final Class<?>[] params;

    private JavaKernelTask(KernelExecutor executor, Class<?>[] params) {
        this.executor = executor;
        this.params = params;
    }

    static JavaKernelTask of(Class<?> kernels, String name, Object[] args) {
        Method m = method(kernels, name);
        return checked(m, name, m.getParameterTypes(), args);
    }

    /**
     * The {@code -D} values of kernel {@code name}'s {@link Constant} parameters for these task arguments: each is
     * compiled into the program as a literal ({@code PKV_CONST_name_i}), and the program holds that kernel only.
     */
    static java.util.Map<String, String> constantDefines(Class<?> kernels, String name, List<Object> args) {
        Method m = method(kernels, name);
        java.util.Map<String, String> defines = new java.util.LinkedHashMap<>();
        defines.put("PKV_ONLY", "1");
        defines.put("PKV_ONLY_" + name, "1");
        var annotations = m.getParameterAnnotations();
        int first = m.getParameterCount() > 0 && m.getParameterTypes()[0] == KernelContext.class ? 1 : 0;
        for (int p = first; p < m.getParameterCount(); p++) {
            if (Arrays.stream(annotations[p]).noneMatch(a -> a instanceof Constant)) continue;
            int i = p - first;
            Object v = args.get(i);
            String literal = switch (v) {
                case Integer x -> x == Integer.MIN_VALUE ? "(-2147483647 - 1)" : "(" + x + ")";
                case Long x -> "((jlong) " + (x == Long.MIN_VALUE ? "(-9223372036854775807LL - 1)" : x + "LL") + ")";
                case Float x when Float.isFinite(x) -> "(" + Float.toHexString(x) + "f)";
                case Float x -> "PKV_AS_FLOAT(" + Float.floatToRawIntBits(x) + ")";
                case Boolean x -> x ? "1" : "0";
                default -> throw constantNeeded(m, name, i, v);
            };
            defines.put(org.pariskv.compute.jit.KernelTranslator.constantMacro(name, i), literal);
        }
        return defines;
    }

    private static IllegalArgumentException constantNeeded(Method m, String name, int i, Object v) {
        return new IllegalArgumentException("task '" + name + "' argument #" + i + ": the parameter is @Constant (compiled into the "
                + "program), so it takes a plain value, not " + (v == null ? "null" : "a " + v.getClass().getSimpleName()));
    }

    private static Method method(Class<?> kernels, String name) {
        List<Method> found = Arrays.stream(kernels.getDeclaredMethods())
                .filter(m -> m.getName().equals(name) && m.isAnnotationPresent(Kernel.class)).toList();
        if (found.size() != 1) {
            throw new IllegalArgumentException(found.isEmpty()
                    ? kernels.getName() + " has no @Kernel method '" + name + "'"
                    : kernels.getName() + " has " + found.size() + " @Kernel methods named '" + name + "' (kernel names must be unique)");
        }
        Method m = found.getFirst();
        if (!Modifier.isStatic(m.getModifiers()) || m.getReturnType() != void.class) {
            throw new IllegalArgumentException(m + ": a kernel is a static void method");
        }
        return m;
    }

    private static JavaKernelTask checked(Method m, String name, Class<?>[] all, Object[] args) {
        Class<?>[] params = all.length > 0 && all[0] == KernelContext.class ? Arrays.copyOfRange(all, 1, all.length) : all;
        for (Class<?> p : params) {
            if (p == KernelContext.class) throw new IllegalArgumentException(m + ": the KernelContext must be the first parameter");
        }
        if (params.length != args.length) {
            throw new IllegalArgumentException("task '" + name + "': " + m.getName() + " takes " + params.length
                    + " arguments after the KernelContext, got " + args.length);
        }
        for (int i = 0; i < args.length; i++) {
            if (!fits(params[i], args[i])) {
                throw new IllegalArgumentException("task '" + name + "' argument #" + i + ": "
                        + (args[i] == null ? "null" : args[i].getClass().getSimpleName()) + " does not fit parameter type "
                        + params[i].getSimpleName());
            }
        }
        constantDefines(m.getDeclaringClass(), name, Arrays.asList(args)); // a @Constant given a runtime parameter is refused now
        return new JavaKernelTask(new KernelExecutor(m, BarrierScan.usesBarrier(m)), params);
    }

    private static boolean fits(Class<?> p, Object a) {
        if (a instanceof DeviceBuffer) return KernelArray.class.isAssignableFrom(p) || p.isArray();
        if (KernelArray.class.isAssignableFrom(p)) {
            return p.isInstance(a) || a instanceof MemorySegment || (a != null && a.getClass().isArray()
                    && a.getClass().componentType() == elementOf(p));
        }
        if (p.isArray()) return p.isInstance(a);
        if (p == int.class || p == short.class || p == byte.class || p == char.class) return a instanceof Integer || a instanceof IntParam;
        if (p == long.class) return a instanceof Long || a instanceof LongParam;
        if (p == float.class) return a instanceof Float || a instanceof FloatParam;
        if (p == boolean.class) return a instanceof Boolean;
        return false;
    }

    private static Class<?> elementOf(Class<?> arrayType) {
        if (arrayType == FloatArray.class) return float.class;
        if (arrayType == IntArray.class) return int.class;
        if (arrayType == ByteArray.class) return byte.class;
        if (arrayType == ShortArray.class) return short.class;
        if (arrayType == LongArray.class) return long.class;
        return null;
    }

    /** Runs the kernel over {@code grid}: device-resident buffers arrive here as their host segments. */
    void run(Object[] args, Grid grid) {
        Object[] call = new Object[args.length];
        for (int i = 0; i < args.length; i++) call[i] = convert(params[i], args[i]);
        executor.run(grid, call);
    }

    private static Object convert(Class<?> p, Object a) {
        if (KernelArray.class.isAssignableFrom(p) && !p.isInstance(a)) {
            MemorySegment s = a instanceof MemorySegment seg ? seg : ExecutionPlan.hostView(a);
            if (p == FloatArray.class) return FloatArray.of(s);
            if (p == IntArray.class) return IntArray.of(s);
            if (p == ByteArray.class) return ByteArray.of(s);
            if (p == ShortArray.class) return ShortArray.of(s);
            return LongArray.of(s);
        }
        return switch (a) {
            case IntParam v when p == short.class -> (short) v.get();
            case Integer v when p == short.class -> (short) (int) v;
            case IntParam v when p == byte.class -> (byte) v.get();
            case Integer v when p == byte.class -> (byte) (int) v;
            case IntParam v when p == char.class -> (char) v.get();
            case Integer v when p == char.class -> (char) (int) v;
            case IntParam v -> v.get();
            case LongParam v -> v.get();
            case FloatParam v -> v.get();
            default -> a;
        };
    }
}
