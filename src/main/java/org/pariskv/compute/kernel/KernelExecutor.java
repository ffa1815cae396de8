package org.pariskv.compute.kernel;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.pariskv.compute.Grid;

/**
 * Runs a kernel method on the JVM over a {@link Grid}: the Java method is the kernel and its twin. Work-groups run in
 * parallel. Within a group, a kernel that calls {@link KernelContext#barrier()} (as its bytecode says) runs its
 * work-items as virtual threads meeting at a phaser; any other kernel runs them one after another. Local arrays are
 * per group, atomics are atomic.
 */
public final class KernelExecutor {
    /** Group size in dimension 0 when the grid leaves it to the backend. */
    private static final int DEFAULT_GROUP = 64;

    private final Method method;
    private final boolean barriers;
    private final boolean takesContext;

    /**
     * @param barriers whether the kernel (or a method it calls) waits at a barrier: its work-items then need threads
     */
    public KernelExecutor(Method method, boolean barriers) {
        if (!Modifier.isStatic(method.getModifiers()) || method.getReturnType() != void.class) {
            throw new IllegalArgumentException(method + " is not a static void kernel");
        }
        method.setAccessible(true);
        this.method = method;
        this.barriers = barriers;
        Class<?>[] p = method.getParameterTypes();
        this.takesContext = p.length > 0 && p[0] == KernelContext.class;
    }

    public Method method() {
        return method;
    }

    /** Runs the kernel over {@code grid} with {@code args} (the parameters after the context, already converted). */
    public void run(Grid grid, Object[] args) {
        int dims = grid.dimensions();
        int[] global = {1, 1, 1}, local = {1, 1, 1};
        long[] g = grid.global(), l = grid.local();
        for (int d = 0; d < dims; d++) {
            global[d] = Math.toIntExact(g[d]);
            local[d] = l != null ? (int) l[d] : d == 0 ? largestDivisorAtMost(global[0], DEFAULT_GROUP) : 1;
        }
        int[] groups = {global[0] / local[0], global[1] / local[1], global[2] / local[2]};
        int groupCount = Math.multiplyExact(Math.multiplyExact(groups[0], groups[1]), groups[2]);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        IntStream.range(0, groupCount).parallel().forEach(flat -> {
            if (failure.get() != null) return;
            int[] group = {flat % groups[0], flat / groups[0] % groups[1], flat / (groups[0] * groups[1])};
            try {
                runGroup(global, local, group, args);
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        });
        Throwable t = failure.get();
        if (t instanceof RuntimeException e) throw e;
        if (t instanceof Error e) throw e;
        if (t != null) throw new IllegalStateException(t);
    }

    private void runGroup(int[] global, int[] local, int[] group, Object[] args) throws Throwable {
        int items = local[0] * local[1] * local[2];
        if (!barriers) {
            GroupMemory mem = new GroupMemory(0);
            KernelContext ctx = new KernelContext(global, local, mem);
            Object[] call = callArgs(ctx, args);
            int[] lid = new int[3];
            for (int i = 0; i < items; i++) {
                lid[0] = i % local[0];
                lid[1] = i / local[0] % local[1];
                lid[2] = i / (local[0] * local[1]);
                ctx.at(group, lid);
                invoke(call);
            }
            return;
        }
        GroupMemory mem = new GroupMemory(items);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>(items);
        for (int i = 0; i < items; i++) {
            int[] lid = {i % local[0], i / local[0] % local[1], i / (local[0] * local[1])};
            KernelContext ctx = new KernelContext(global, local, mem);
            ctx.at(group, lid);
            Object[] call = callArgs(ctx, args);
            threads.add(Thread.ofVirtual().start(() -> {
                try {
                    invoke(call);
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                } finally {
                    mem.leave();
                }
            }));
        }
        for (Thread th : threads) th.join();
        if (failure.get() != null) throw failure.get();
    }

    private Object[] callArgs(KernelContext ctx, Object[] args) {
        if (!takesContext) return args;
        Object[] call = new Object[args.length + 1];
        call[0] = ctx;
        System.arraycopy(args, 0, call, 1, args.length);
        return call;
    }

    private void invoke(Object[] call) throws Throwable {
        try {
            method.invoke(null, call);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private static int largestDivisorAtMost(int n, int max) {
        for (int d = Math.min(n, max); d > 1; d--) if (n % d == 0) return d;
        return 1;
    }
}
