package org.pariskv.compute.graph;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.pariskv.compute.DeviceBuffer;
import org.pariskv.compute.Grid;
import org.pariskv.compute.KernelSource;
import org.pariskv.compute.kernel.KernelArray;

/**
 * A fluent builder of named device tasks and the transfers around them (the shape of TornadoVM's
 * {@code TaskGraph}). Each task names a kernel in the current source: either an {@code @Kernel} Java method of the
 * class given to {@link #source(Class)}, which is translated to OpenCL C / CUDA C for devices and runs as it is on the
 * java backend (see {@code org.pariskv.compute.kernel}), or a kernel of hand-written C ({@link #source(KernelSource)},
 * {@link #source(String)}) together with its Java twin, which the java backend runs instead:
 *
 * <pre>{@code
 * TaskGraph g = new TaskGraph("smoke")
 *     .source(SmokeTasks.class)
 *     .transferToDevice(DataTransferMode.FIRST_EXECUTION, x)
 *     .transferToDevice(DataTransferMode.EVERY_EXECUTION, y)
 *     .task("saxpy", Grid.linear(n, 128), x, y, a, n)
 *     .transferToHost(DataTransferMode.EVERY_EXECUTION, y);
 * try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(DeviceSpec.parse("opencl"))) {
 *     plan.execute();
 * }
 * }</pre>
 *
 * Arrays are bound to device buffers by identity: pass the same array object to several tasks and they
 * share one buffer. Arguments may be {@code float[] int[] byte[] short[] long[]}, {@link MemorySegment}, kernel
 * arrays ({@link KernelArray}), {@link IntParam} {@link FloatParam} {@link LongParam} (read at each execution), boxed
 * Integer / Float / Long / Boolean constants, {@link LocalMem} (C kernels), and {@link DeviceBuffer}s. Arrays never transferred to the device are
 * allocated there and left uninitialised (outputs). Not thread-safe; {@link #snapshot()} gives an immutable copy.
 *
 * <p>A {@link DeviceBuffer} argument is device-resident data, TornadoVM's persist/consume idea: it lives on the
 * device across graphs and plans (a decoder's KV cache, its index, scratch one graph leaves for the next), so a
 * plan never allocates, transfers or frees it and the kernel gets it as is; feed it per execution with
 * {@link #upload}. It must come from the plan's device ({@code Backends.open(device).allocate...}). On the java
 * backend the twin gets its {@link DeviceBuffer#hostSegment()}: write such twins as {@link TaskBodies.TaskN}.
 */
public final class TaskGraph {
    private final String name;
    private final List<Step> steps = new ArrayList<>();
    private KernelSource source;
    private final Map<String, String> defines = new LinkedHashMap<>();

    public TaskGraph(String name) {
        this.name = Objects.requireNonNull(name);
    }

    public String name() {
        return name;
    }

    /** Tasks added from now on are kernels of {@code source}. */
    public TaskGraph source(KernelSource source) {
        this.source = Objects.requireNonNull(source);
        return this;
    }

    /**
     * Tasks added from now on are {@code @Kernel} methods of {@code kernels}, written in Java: added with
     * {@link #task(String, Grid, Object...)}, they run as generated OpenCL C / CUDA C on devices and as the method
     * itself on the java backend, so they need no twin.
     */
    public TaskGraph source(Class<?> kernels) {
        return source(KernelSource.of(kernels));
    }

    /**
     * A task that runs the {@code @Kernel} method {@code name} of the current Java {@link #source(Class) source} over
     * {@code grid}: on devices its generated code, on the java backend the method itself (work-groups as threads).
     * {@code args} are the method's parameters after the {@code KernelContext}: the kernel arrays
     * ({@code FloatArray}, ...) or Java arrays or segments or device-resident buffers for array parameters,
     * Integer/Long/Float/Boolean constants or {@link IntParam}/{@link LongParam}/{@link FloatParam} for scalars.
     */
    public TaskGraph task(String name, Grid grid, Object... args) {
        Objects.requireNonNull(grid, "grid");
        return task(name, () -> grid, args);
    }

    /** {@link #task(String, Grid, Object...)} with a grid computed at each execution. */
    public TaskGraph task(String name, Supplier<Grid> grid, Object... args) {
        if (source == null || !source.isJava()) {
            throw new IllegalStateException("task '" + name + "' has no twin: call source(SomeKernels.class) first to run a Java kernel");
        }
        JavaKernelTask kernel = JavaKernelTask.of(source.kernelClass(), name, args);
        return addTask(name, kernel::run, grid, args);
    }

    /** Tasks added from now on are kernels of {@code tasks/<file>} from the classpath. */
    public TaskGraph source(String file) {
        return source(KernelSource.resource(file));
    }

    /** {@code -Dmacro=value} for the kernels of tasks added from now on. */
    public TaskGraph define(String macro, Object value) {
        defines.put(macro, String.valueOf(value));
        return this;
    }

    /** Copies {@code data} (arrays or segments) to the device before the next task, as {@code mode} says. */
    public TaskGraph transferToDevice(DataTransferMode mode, Object... data) {
        if (mode == DataTransferMode.UNDER_DEMAND) {
            throw new IllegalArgumentException("UNDER_DEMAND applies to transferToHost only; use FIRST_EXECUTION");
        }
        steps.add(new Step.ToDevice(mode, checkData(data)));
        return this;
    }

    /** Copies {@code data} back to the host after the preceding tasks, as {@code mode} says. */
    public TaskGraph transferToHost(DataTransferMode mode, Object... data) {
        steps.add(new Step.ToHost(mode, checkData(data)));
        return this;
    }

    /**
     * At every execution, before the next task, enqueues a copy of all of {@code from} (native memory) to the start
     * of the device-resident {@code to}, in order with the launches ({@code Backend.copyInAsync}): the host does not
     * wait for it, so keep {@code from} unchanged until the plan has waited ({@link ExecutionPlan#finish()}). On the
     * java backend it is a plain copy into the buffer's host memory.
     */
    public TaskGraph upload(MemorySegment from, DeviceBuffer to) {
        if (!from.isNative()) throw new IllegalArgumentException("upload needs native host memory (it is enqueued), got a heap segment");
        if (from.byteSize() > to.bytes()) {
            throw new IllegalArgumentException("upload of " + from.byteSize() + " bytes into a buffer of " + to.bytes());
        }
        steps.add(new Step.Upload(from, to));
        return this;
    }

    /**
     * A task whose grid {@code grid} gives at each execution (e.g. from a growing sequence length), with a
     * positional {@code body} for the java backend: kernel {@code name} on devices. Suits device-resident arguments
     * and twins that take plain scalars, e.g. {@code a -> twins.rerank(a.segment(0), ..., a.intValue(7))}.
     */
    public TaskGraph task(String name, TaskBodies.TaskN body, Supplier<Grid> grid, Object... args) {
        Objects.requireNonNull(body, "body");
        return addTask(name, (v, grid_) -> body.apply(new TaskBodies.Args(Arrays.asList(v))), grid, args);
    }

    /**
     * At every execution, after the preceding tasks, copies the start of the device-resident {@code from} into
     * {@code to} and waits for it (the execution then waits for the device, as for {@link #transferToHost}). On the
     * java backend it is a plain copy from the buffer's host memory.
     */
    public TaskGraph download(DeviceBuffer from, MemorySegment to) {
        if (to.byteSize() > from.bytes()) {
            throw new IllegalArgumentException("download of " + to.byteSize() + " bytes from a buffer of " + from.bytes());
        }
        steps.add(new Step.Download(from, to));
        return this;
    }

    /**
     * Makes the task added last run only in executions where {@code when} says true (asked at each execution):
     * one graph then covers a step whose shape varies, e.g. an encode every few steps or a second top-k stage for
     * long lists. Skipped tasks report no profile.
     */
    public TaskGraph onlyIf(BooleanSupplier when) {
        Objects.requireNonNull(when, "when");
        if (steps.isEmpty() || !(steps.getLast() instanceof Step.Task t)) {
            throw new IllegalStateException("onlyIf(...) follows a task");
        }
        steps.set(steps.size() - 1, t.withEnabled(when));
        return this;
    }

    private static final BooleanSupplier ALWAYS = () -> true;

    /** An immutable copy of the graph as built so far. */
    public ImmutableTaskGraph snapshot() {
        if (steps.stream().noneMatch(s -> s instanceof Step.Task)) {
            throw new IllegalStateException("task graph '" + name + "' has no tasks");
        }
        return new ImmutableTaskGraph(name, steps);
    }

    private TaskGraph addTask(String taskName, Step.Twin twin, Grid grid, Object... args) {
        Objects.requireNonNull(grid, "grid");
        return addTask(taskName, twin, () -> grid, args);
    }

    private TaskGraph addTask(String taskName, Step.Twin twin, Supplier<Grid> grid, Object[] args) {
        if (taskName == null || !taskName.matches("[A-Za-z_][A-Za-z0-9_]*")) {
            throw new IllegalArgumentException("task name must be a C identifier (it is the kernel name): " + taskName);
        }
        if (source == null) {
            throw new IllegalStateException("task '" + taskName + "': call source(...) first to say which tasks/*.c holds the kernel");
        }
        Objects.requireNonNull(grid, "grid");
        for (int i = 0; i < args.length; i++) {
            if (!isArgument(args[i])) {
                throw new IllegalArgumentException("task '" + taskName + "' argument #" + i + ": unsupported type "
                        + (args[i] == null ? "null" : args[i].getClass().getSimpleName())
                        + " (arrays float/int/byte/short/long, FloatArray/IntArray/..., MemorySegment, Int/Float/LongParam, Integer/Float/Long, LocalMem, DeviceBuffer)");
            }
        }
        steps.add(new Step.Task(taskName, source, Map.copyOf(defines), grid, Arrays.asList(args.clone()), twin, ALWAYS));
        return this;
    }

    static boolean isData(Object o) {
        return o instanceof float[] || o instanceof int[] || o instanceof byte[] || o instanceof short[]
                || o instanceof long[] || o instanceof MemorySegment || o instanceof KernelArray;
    }

    private static boolean isArgument(Object o) {
        return isData(o) || o instanceof IntParam || o instanceof FloatParam || o instanceof LongParam
                || o instanceof Integer || o instanceof Float || o instanceof Long || o instanceof Boolean
                || o instanceof LocalMem || o instanceof DeviceBuffer;
    }

    private static List<Object> checkData(Object[] data) {
        for (Object o : data) {
            if (!isData(o)) {
                throw new IllegalArgumentException("only arrays (float/int/byte/short/long) and MemorySegments transfer, not "
                        + (o == null ? "null" : o.getClass().getSimpleName())
                        + (o instanceof DeviceBuffer ? " (device-resident: feed it with upload(...))" : ""));
            }
        }
        return Arrays.asList(data.clone());
    }

    /** A task of 1 argument: kernel {@code name} on devices, {@code body} on the java backend. */
    @SuppressWarnings("unchecked")
    public <A> TaskGraph task(String name, TaskBodies.Task1<A> body, Grid grid, A a) {
        return addTask(name, (v, grid_) -> body.apply((A) v[0]), grid, a);
    }

    /** A task of 2 arguments: kernel {@code name} on devices, {@code body} on the java backend. */
    @SuppressWarnings("unchecked")
    public <A, B> TaskGraph task(String name, TaskBodies.Task2<A, B> body, Grid grid, A a, B b) {
        return addTask(name, (v, grid_) -> body.apply((A) v[0], (B) v[1]), grid, a, b);
    }

    /** A task of 3 arguments: kernel {@code name} on devices, {@code body} on the java backend. */
    @SuppressWarnings("unchecked")
    public <A, B, C> TaskGraph task(String name, TaskBodies.Task3<A, B, C> body, Grid grid, A a, B b, C c) {
        return addTask(name, (v, grid_) -> body.apply((A) v[0], (B) v[1], (C) v[2]), grid, a, b, c);
    }

    /** A task of 4 arguments: kernel {@code name} on devices, {@code body} on the java backend. */
    @SuppressWarnings("unchecked")
    public <A, B, C, D> TaskGraph task(String name, TaskBodies.Task4<A, B, C, D> body, Grid grid, A a, B b, C c, D d) {
        return addTask(name, (v, grid_) -> body.apply((A) v[0], (B) v[1], (C) v[2], (D) v[3]), grid, a, b, c, d);
    }

    /** A task of 5 arguments: kernel {@code name} on devices, {@code body} on the java backend. */
    @SuppressWarnings("unchecked")
    public <A, B, C, D, E> TaskGraph task(String name, TaskBodies.Task5<A, B, C, D, E> body, Grid grid, A a, B b, C c, D d, E e) {
        return addTask(name, (v, grid_) -> body.apply((A) v[0], (B) v[1], (C) v[2], (D) v[3], (E) v[4]), grid, a, b, c, d, e);
    }

    /** A task of 6 arguments: kernel {@code name} on devices, {@code body} on the java backend. */
    @SuppressWarnings("unchecked")
    public <A, B, C, D, E, F> TaskGraph task(String name, TaskBodies.Task6<A, B, C, D, E, F> body, Grid grid, A a, B b, C c, D d, E e, F f) {
        return addTask(name, (v, grid_) -> body.apply((A) v[0], (B) v[1], (C) v[2], (D) v[3], (E) v[4], (F) v[5]), grid, a, b, c, d, e, f);
    }

    /** A task of 7 arguments: kernel {@code name} on devices, {@code body} on the java backend. */
    @SuppressWarnings("unchecked")
    public <A, B, C, D, E, F, G> TaskGraph task(String name, TaskBodies.Task7<A, B, C, D, E, F, G> body, Grid grid, A a, B b, C c, D d, E e, F f, G g) {
        return addTask(name, (v, grid_) -> body.apply((A) v[0], (B) v[1], (C) v[2], (D) v[3], (E) v[4], (F) v[5], (G) v[6]), grid, a, b, c, d, e, f, g);
    }

    /** A task of 8 arguments: kernel {@code name} on devices, {@code body} on the java backend. */
    @SuppressWarnings("unchecked")
    public <A, B, C, D, E, F, G, H> TaskGraph task(String name, TaskBodies.Task8<A, B, C, D, E, F, G, H> body, Grid grid, A a, B b, C c, D d, E e, F f, G g, H h) {
        return addTask(name, (v, grid_) -> body.apply((A) v[0], (B) v[1], (C) v[2], (D) v[3], (E) v[4], (F) v[5], (G) v[6], (H) v[7]), grid, a, b, c, d, e, f, g, h);
    }

    /** A task of 9 arguments: kernel {@code name} on devices, {@code body} on the java backend. */
    @SuppressWarnings("unchecked")
    public <A, B, C, D, E, F, G, H, I> TaskGraph task(String name, TaskBodies.Task9<A, B, C, D, E, F, G, H, I> body, Grid grid, A a, B b, C c, D d, E e, F f, G g, H h, I i) {
        return addTask(name, (v, grid_) -> body.apply((A) v[0], (B) v[1], (C) v[2], (D) v[3], (E) v[4], (F) v[5], (G) v[6], (H) v[7], (I) v[8]), grid, a, b, c, d, e, f, g, h, i);
    }

    /** A task of 10 arguments: kernel {@code name} on devices, {@code body} on the java backend. */
    @SuppressWarnings("unchecked")
    public <A, B, C, D, E, F, G, H, I, J> TaskGraph task(String name, TaskBodies.Task10<A, B, C, D, E, F, G, H, I, J> body, Grid grid, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j) {
        return addTask(name, (v, grid_) -> body.apply((A) v[0], (B) v[1], (C) v[2], (D) v[3], (E) v[4], (F) v[5], (G) v[6], (H) v[7], (I) v[8], (J) v[9]), grid, a, b, c, d, e, f, g, h, i, j);
    }

    /** A task of 11 arguments: kernel {@code name} on devices, {@code body} on the java backend. */
    @SuppressWarnings("unchecked")
    public <A, B, C, D, E, F, G, H, I, J, K> TaskGraph task(String name, TaskBodies.Task11<A, B, C, D, E, F, G, H, I, J, K> body, Grid grid, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k) {
        return addTask(name, (v, grid_) -> body.apply((A) v[0], (B) v[1], (C) v[2], (D) v[3], (E) v[4], (F) v[5], (G) v[6], (H) v[7], (I) v[8], (J) v[9], (K) v[10]), grid, a, b, c, d, e, f, g, h, i, j, k);
    }

    /** A task of 12 arguments: kernel {@code name} on devices, {@code body} on the java backend. */
    @SuppressWarnings("unchecked")
    public <A, B, C, D, E, F, G, H, I, J, K, L> TaskGraph task(String name, TaskBodies.Task12<A, B, C, D, E, F, G, H, I, J, K, L> body, Grid grid, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l) {
        return addTask(name, (v, grid_) -> body.apply((A) v[0], (B) v[1], (C) v[2], (D) v[3], (E) v[4], (F) v[5], (G) v[6], (H) v[7], (I) v[8], (J) v[9], (K) v[10], (L) v[11]), grid, a, b, c, d, e, f, g, h, i, j, k, l);
    }

    /** A task of 13 arguments: kernel {@code name} on devices, {@code body} on the java backend. */
    @SuppressWarnings("unchecked")
    public <A, B, C, D, E, F, G, H, I, J, K, L, M> TaskGraph task(String name, TaskBodies.Task13<A, B, C, D, E, F, G, H, I, J, K, L, M> body, Grid grid, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m) {
        return addTask(name, (v, grid_) -> body.apply((A) v[0], (B) v[1], (C) v[2], (D) v[3], (E) v[4], (F) v[5], (G) v[6], (H) v[7], (I) v[8], (J) v[9], (K) v[10], (L) v[11], (M) v[12]), grid, a, b, c, d, e, f, g, h, i, j, k, l, m);
    }

    /** A task of 14 arguments: kernel {@code name} on devices, {@code body} on the java backend. */
    @SuppressWarnings("unchecked")
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N> TaskGraph task(String name, TaskBodies.Task14<A, B, C, D, E, F, G, H, I, J, K, L, M, N> body, Grid grid, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n) {
        return addTask(name, (v, grid_) -> body.apply((A) v[0], (B) v[1], (C) v[2], (D) v[3], (E) v[4], (F) v[5], (G) v[6], (H) v[7], (I) v[8], (J) v[9], (K) v[10], (L) v[11], (M) v[12], (N) v[13]), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n);
    }

    /** A task of 15 arguments: kernel {@code name} on devices, {@code body} on the java backend. */
    @SuppressWarnings("unchecked")
    public <A, B, C, D, E, F, G, H, I, J, K, L, M, N, O> TaskGraph task(String name, TaskBodies.Task15<A, B, C, D, E, F, G, H, I, J, K, L, M, N, O> body, Grid grid, A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l, M m, N n, O o) {
        return addTask(name, (v, grid_) -> body.apply((A) v[0], (B) v[1], (C) v[2], (D) v[3], (E) v[4], (F) v[5], (G) v[6], (H) v[7], (I) v[8], (J) v[9], (K) v[10], (L) v[11], (M) v[12], (N) v[13], (O) v[14]), grid, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o);
    }
}
