package org.pariskv.compute.graph;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.pariskv.compute.Backend;
import org.pariskv.compute.Backends;
import org.pariskv.compute.DeviceBuffer;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Devices;
import org.pariskv.compute.Grid;
import org.pariskv.compute.JavaBackend;
import org.pariskv.compute.Kernel;
import org.pariskv.compute.KernelArg;
import org.pariskv.compute.Program;
import org.pariskv.compute.jit.Dialect;
import org.pariskv.compute.jit.KernelTranslator;
import org.pariskv.compute.jit.Translation;
import org.pariskv.compute.kernel.KernelArray;

/**
 * Runs an {@link ImmutableTaskGraph} on one device (the shape of TornadoVM's execution plan): options are
 * {@code withX()} decorators, {@link #execute()} runs the graph, {@link #close()} frees its device buffers.
 *
 * <p>Device buffers are bound to host arrays by identity and persist across executions until close, so
 * {@link DataTransferMode#FIRST_EXECUTION} data is copied once. On the java backend tasks run their Java
 * twins on the arrays themselves and no bytes move. The backend (context, compiled programs) is shared
 * process-wide per device. Not thread-safe: use a plan from one thread at a time.
 *
 * <p>An execution waits for the device only when it must: when a {@code transferToHost} step ran, when the
 * profiler times kernels (any mode but {@link ProfilerMode#OFF}), or {@link #withWait(boolean) withWait(true)}.
 * Otherwise its launches and uploads stay enqueued, in order with later work of any plan on the same device, so
 * several graphs of one decode step cost one wait: the caller's {@link #finish()} (or a blocking copy).
 */
public final class ExecutionPlan implements AutoCloseable {
    private final ImmutableTaskGraph graph;
    private DeviceSpec spec = DeviceSpec.AUTO;
    private DeviceInfo device;
    private ProfilerMode profiler = ProfilerMode.SILENT;
    private int warmUp;
    private boolean printKernel;
    private boolean waitAlways;
    private boolean cudaGraph;
    private boolean dependentLaunch;
    private LaunchListener listener;
    private final Map<RunKey, Backend.Recording> recordings = new java.util.LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<RunKey, Backend.Recording> eldest) {
            if (size() <= MAX_RECORDINGS) return false;
            backend.finish(); // it may still be running
            eldest.getValue().close();
            return true;
        }
    };
    private boolean recordingUnsupported;
    private static final int MAX_RECORDINGS = 16;
    private static final Set<String> SAID_NO_GRAPHS = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private static final Set<String> SAID_NO_DEPENDENT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private Backend backend;
    private final Map<Object, DeviceBuffer> buffers = new IdentityHashMap<>();
    private final Set<Object> copiedIn = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Map<Step.Task, Kernel> kernels = new IdentityHashMap<>();
    private final Map<Step.Task, Program> programs = new IdentityHashMap<>();
    private int executions;
    private boolean closed;

    public ExecutionPlan(ImmutableTaskGraph graph) {
        this.graph = graph;
    }

    /** Runs on the device {@code spec} resolves to (default {@code auto}). */
    public ExecutionPlan withDevice(DeviceSpec spec) {
        checkNotStarted();
        this.spec = spec;
        this.device = null;
        return this;
    }

    public ExecutionPlan withDevice(DeviceInfo device) {
        checkNotStarted();
        this.device = device;
        return this;
    }

    /** Runs on {@code backend}, already open: needed when tasks take its device-resident buffers. */
    public ExecutionPlan withBackend(Backend backend) {
        checkNotStarted();
        this.backend = Objects.requireNonNull(backend, "backend");
        this.device = backend.device();
        return this;
    }

    /**
     * TornadoVM's {@code withCUDAGraph()}: on CUDA, each run of consecutive uploads and tasks is recorded once as a
     * CUDA graph and then replayed with one driver call per execution. A run is recorded again when its signature
     * changes (which tasks are on, their grids, their Int/Float/LongParam values; the last 16 are kept). Buffers and
     * upload sources are bound by address, so what they hold at replay is what the kernels see. Off while the
     * profiler times tasks or a {@link LaunchListener} watches; elsewhere than CUDA it says so once and launches as
     * usual.
     */
    public ExecutionPlan withCudaGraph(boolean on) {
        this.cudaGraph = on;
        return this;
    }

    /**
     * CUDA programmatic dependent launch (sm_90 and later; TornadoVM has no such option): each task's kernel may be
     * scheduled while the one before it finishes, so a launch's latency and a kernel's first loads overlap its
     * predecessor's tail. Every kernel of the graph must wait for its inputs itself ({@code AWAIT_INPUTS} in pkv.h)
     * before it reads what an earlier task wrote. Off while the profiler times tasks or a listener watches; elsewhere
     * it says so once and launches as usual.
     */
    public ExecutionPlan withDependentLaunch(boolean on) {
        this.dependentLaunch = on;
        return this;
    }

    /** Calls {@code listener} around every kernel launch (tests: replay a launch by its twin); null removes it. */
    public ExecutionPlan withLaunchListener(LaunchListener listener) {
        this.listener = listener;
        return this;
    }

    /** Watches launches: the task, its grid and its arguments as the kernel gets them. */
    public interface LaunchListener {
        void before(String task, Grid grid, List<KernelArg> args);

        void after(String task, Grid grid, List<KernelArg> args);
    }

    public ExecutionPlan withProfiler(ProfilerMode mode) {
        this.profiler = mode;
        return this;
    }

    /** Runs the graph {@code iterations} times before the first measured execution (they count as executions). */
    public ExecutionPlan withWarmUp(int iterations) {
        if (iterations < 0) throw new IllegalArgumentException("warm-up iterations must be >= 0");
        this.warmUp = iterations;
        return this;
    }

    /** Prints each kernel's compiled source (and PTX on CUDA) to standard output when it is first compiled. */
    public ExecutionPlan withPrintKernel(boolean print) {
        this.printKernel = print;
        return this;
    }

    /** When true, every execution waits for the device before returning, as if it read results back. */
    public ExecutionPlan withWait(boolean wait) {
        this.waitAlways = wait;
        return this;
    }

    /** Recorded runs this plan keeps (CUDA graphs); 0 where none were made. */
    int recordings() {
        return recordings.size();
    }

    /** Waits for everything enqueued on this plan's device so far (this plan's executions and any other's). */
    public void finish() {
        checkOpen();
        if (backend != null) backend.finish();
    }

    /** The device this plan runs on (resolving the spec and opening the backend if needed). */
    public DeviceInfo device() {
        return backend().device();
    }

    /** The compiled source of task {@code taskName} as the device compiler saw it, plus PTX on CUDA. */
    public String kernelSource(String taskName) {
        Step.Task task = graph.steps().stream().filter(s -> s instanceof Step.Task t && t.name().equals(taskName))
                .map(s -> (Step.Task) s).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no task '" + taskName + "' in graph " + graph.name()));
        Program p = program(task);
        String asm = p.assembly();
        return p.source() + (asm.isEmpty() ? "" : "\n// ---- " + taskName + ": PTX for " + device().name() + " ----\n" + asm);
    }

    /**
     * Runs the graph once (after any pending warm-up) and reports what it did. Unless it has to wait (see the class
     * comment) it returns with the work still enqueued, and its wall time covers the enqueueing only.
     */
    public ExecutionResult execute() {
        checkOpen();
        Backend b = backend();
        if (executions == 0) {
            for (int i = 0; i < warmUp; i++) runOnce(b);
        }
        ExecutionResult r = runOnce(b);
        switch (profiler) {
            case CONSOLE -> System.out.print("[" + graph.name() + "] " + r.table());
            case JSON -> System.out.println(r.json());
            case OFF, SILENT -> { }
        }
        return r;
    }

    private ExecutionResult runOnce(Backend b) {
        boolean first = executions++ == 0;
        boolean timed = profiler != ProfilerMode.OFF;
        boolean java = b instanceof JavaBackend;
        boolean replay = cudaGraph && !timed && listener == null && !java;
        long start = System.nanoTime();
        long pendingIn = 0, totalIn = 0, totalOut = 0;
        boolean readBack = false;
        List<TaskProfile> profiles = new ArrayList<>();
        Map<Integer, Backend.DeferredTime> deferred = new java.util.HashMap<>(); // timed launches: read after the run
        List<Step> steps = graph.steps();
        int runFrom = -1; // first step of the replayable run (uploads and tasks) not yet enqueued
        for (int i = 0; i <= steps.size(); i++) {
            Step step = i < steps.size() ? steps.get(i) : null;
            if (replay && (step instanceof Step.Upload || step instanceof Step.Task)) {
                if (runFrom < 0) runFrom = i;
                continue;
            }
            if (runFrom >= 0) {
                pendingIn = replayRun(b, runFrom, i, profiles, pendingIn);
                for (int j = runFrom; j < i; j++) if (steps.get(j) instanceof Step.Upload up) totalIn += up.from().byteSize();
                runFrom = -1;
            }
            if (step == null) break;
            switch (step) {
                case Step.ToDevice in -> {
                    if (java) break;
                    for (Object data : in.data()) {
                        if (in.mode() == DataTransferMode.EVERY_EXECUTION || !copiedIn.contains(data)) {
                            long n = copyIn(b, data);
                            copiedIn.add(data);
                            pendingIn += n;
                            totalIn += n;
                        }
                    }
                }
                case Step.Upload up -> {
                    b.copyInAsync(up.to(), 0, up.from());
                    pendingIn += up.from().byteSize();
                    totalIn += up.from().byteSize();
                }
                case Step.Task task -> {
                    if (!task.enabled().getAsBoolean()) break;
                    Grid grid = grid(task);
                    long ns = -1;
                    if (java) ns = runTwin(task, timed);
                    else if (timed) deferred.put(profiles.size(), launchTimed(b, task, grid));
                    else launch(b, task, grid);
                    profiles.add(new TaskProfile(task.name(), ns, pendingIn, 0, grid, b.device().backend()));
                    pendingIn = 0;
                }
                case Step.Download down -> {
                    b.copyOut(down.to(), down.from());
                    readBack = true;
                    totalOut += down.to().byteSize();
                    chargeOut(profiles, down.to().byteSize());
                }
                case Step.ToHost out -> {
                    if (java) break;
                    boolean now = out.mode() == DataTransferMode.EVERY_EXECUTION
                            || (out.mode() == DataTransferMode.FIRST_EXECUTION && first);
                    if (!now) break;
                    readBack = true;
                    long n = 0;
                    for (Object data : out.data()) n += copyOut(b, data);
                    totalOut += n;
                    chargeOut(profiles, n);
                }
            }
        }
        if (readBack || timed || waitAlways) b.finish();
        deferred.forEach((i, t) -> {
            TaskProfile p = profiles.get(i);
            profiles.set(i, new TaskProfile(p.task(), t.nanos(), p.bytesIn(), p.bytesOut(), p.grid(), p.backend()));
        });
        return new ExecutionResult(this, b.device(), profiles, totalIn, totalOut, System.nanoTime() - start);
    }

    private static void chargeOut(List<TaskProfile> profiles, long n) {
        if (profiles.isEmpty()) return;
        TaskProfile last = profiles.removeLast();
        profiles.add(new TaskProfile(last.task(), last.kernelNanos(), last.bytesIn(), last.bytesOut() + n, last.grid(), last.backend()));
    }

    private static Grid grid(Step.Task task) {
        return Objects.requireNonNull(task.grid().get(), () -> "task '" + task.name() + "': the grid supplier gave null");
    }

    /**
     * Steps [from, to) (uploads and tasks) as one recorded unit: its signature (which tasks run, their grids and
     * scalar arguments) picks a recording made earlier, or records a new one; then one replay enqueues it all.
     * Backends that cannot record run the steps one by one.
     */
    private long replayRun(Backend b, int from, int to, List<TaskProfile> profiles, long pendingIn) {
        List<Step> steps = graph.steps();
        Grid[] grids = new Grid[to - from];
        long[] sig = new long[8];
        int n = 0;
        sig[n++] = from;
        for (int i = from; i < to; i++) {
            if (!(steps.get(i) instanceof Step.Task task)) continue;
            boolean on = task.enabled().getAsBoolean();
            if (n + 16 + task.args().size() > sig.length) sig = java.util.Arrays.copyOf(sig, 2 * sig.length + 16 + task.args().size());
            sig[n++] = on ? i : -i - 1;
            if (!on) continue;
            Grid g = grids[i - from] = grid(task);
            long[] gl = g.global(), lo = g.local();
            for (long v : gl) sig[n++] = v;
            if (lo != null) for (long v : lo) sig[n++] = v;
            for (Object a : task.args()) {
                switch (a) {
                    case IntParam p -> sig[n++] = p.get();
                    case FloatParam p -> sig[n++] = Float.floatToRawIntBits(p.get());
                    case LongParam p -> sig[n++] = p.get();
                    default -> { }
                }
            }
        }
        RunKey key = new RunKey(java.util.Arrays.copyOf(sig, n));
        Backend.Recording rec = recordings.get(key);
        if (rec == null && !recordingUnsupported) {
            rec = b.record(() -> enqueue(b, from, to, grids));
            if (rec == null) {
                recordingUnsupported = true;
                if (SAID_NO_GRAPHS.add(b.device().spec())) {
                    System.err.println("pariskv: " + b.device().spec() + " has no CUDA graphs; plan '" + graph.name() + "' launches task by task");
                }
            } else {
                recordings.put(key, rec);
            }
        }
        if (rec != null) rec.replay();
        else enqueue(b, from, to, grids);
        for (int i = from; i < to; i++) {
            switch (steps.get(i)) {
                case Step.Upload up -> pendingIn += up.from().byteSize();
                case Step.Task task -> {
                    if (grids[i - from] == null) break;
                    profiles.add(new TaskProfile(task.name(), -1, pendingIn, 0, grids[i - from], b.device().backend()));
                    pendingIn = 0;
                }
                default -> { }
            }
        }
        return pendingIn;
    }

    /** Enqueues steps [from, to): uploads, and the tasks that have a grid this execution. */
    private void enqueue(Backend b, int from, int to, Grid[] grids) {
        List<Step> steps = graph.steps();
        for (int i = from; i < to; i++) {
            switch (steps.get(i)) {
                case Step.Upload up -> b.copyInAsync(up.to(), 0, up.from());
                case Step.Task task -> {
                    if (grids[i - from] != null) launch(b, task, grids[i - from]);
                }
                default -> throw new IllegalStateException("not replayable: " + steps.get(i));
            }
        }
    }

    /** A replayable run's signature. */
    private record RunKey(long[] sig) {
        @Override
        public boolean equals(Object o) {
            return o instanceof RunKey k && java.util.Arrays.equals(sig, k.sig);
        }

        @Override
        public int hashCode() {
            return java.util.Arrays.hashCode(sig);
        }
    }

    private static long runTwin(Step.Task task, boolean timed) {
        Object[] args = task.args().toArray();
        for (int i = 0; i < args.length; i++) {
            if (args[i] instanceof DeviceBuffer d) {
                args[i] = d.hostSegment();
                if (args[i] == null) {
                    throw new IllegalArgumentException("task '" + task.name() + "' argument #" + i + ": a device-resident "
                            + d.kind() + " buffer has no host memory for the java twin (allocate it through the java backend)");
                }
            }
        }
        long t0 = System.nanoTime();
        task.twin().run(args, grid(task));
        return timed ? System.nanoTime() - t0 : -1;
    }

    private void launch(Backend b, Step.Task task, Grid grid) {
        List<KernelArg> args = kernelArgs(b, task);
        Kernel kernel = kernel(task);
        if (listener != null) listener.before(task.name(), grid, args);
        if (dependentLaunch && listener == null && b.canLaunchDependent()) b.launchDependent(kernel, grid, args);
        else b.launch(kernel, grid, args, false);
        if (listener != null) listener.after(task.name(), grid, args);
        if (dependentLaunch && !b.canLaunchDependent() && SAID_NO_DEPENDENT.add(b.device().spec())) {
            System.err.println("pariskv: " + b.device().spec() + " has no programmatic dependent launch (CUDA 12 on sm_90 or later); "
                    + "plan '" + graph.name() + "' launches each kernel after the one before it ends");
        }
    }

    /** A launch whose device time is read after the execution (kernels stay back to back meanwhile). */
    private Backend.DeferredTime launchTimed(Backend b, Step.Task task, Grid grid) {
        List<KernelArg> args = kernelArgs(b, task);
        Kernel kernel = kernel(task);
        if (listener != null) listener.before(task.name(), grid, args);
        Backend.DeferredTime t = b.launchTimed(kernel, grid, args);
        if (listener != null) listener.after(task.name(), grid, args);
        return t;
    }

    private Kernel kernel(Step.Task task) {
        return kernels.computeIfAbsent(task, t -> program(t).kernel(t.name()));
    }

    private List<KernelArg> kernelArgs(Backend b, Step.Task task) {
        List<KernelArg> args = new ArrayList<>(task.args().size());
        for (Object a : task.args()) {
            args.add(switch (a) {
                case IntParam p -> new KernelArg.Int(p.get());
                case FloatParam p -> new KernelArg.Float(p.get());
                case LongParam p -> new KernelArg.Long(p.get());
                case Integer v -> new KernelArg.Int(v);
                case Float v -> new KernelArg.Float(v);
                case Long v -> new KernelArg.Long(v);
                case Boolean v -> new KernelArg.Int(v ? 1 : 0);
                case LocalMem m -> new KernelArg.Local(m.bytes());
                case DeviceBuffer d -> new KernelArg.Buffer(d);
                default -> new KernelArg.Buffer(buffer(b, a));
            });
        }
        return args;
    }

    private Program program(Step.Task task) {
        Program p = programs.get(task);
        if (p == null) {
            Backend b = backend();
            if (task.source().isJava()) {
                Translation t = KernelTranslator.translate(task.source().kernelClass(), Dialect.of(b.device().backend()));
                Map<String, String> defines = new java.util.HashMap<>(task.defines());
                defines.put(Backend.STRICT_FP, "1"); // Java's float semantics
                defines.putAll(JavaKernelTask.constantDefines(task.source().kernelClass(), task.name(), task.args()));
                p = b.compile(t.sourceName(), t.source(), defines);
            } else {
                p = b.compile(task.source().name(), task.source().compilable(), task.defines());
            }
            programs.put(task, p);
            if (printKernel) {
                System.out.println("// ---- task " + task.name() + " (" + task.source().name() + ") on "
                        + b.device().spec() + " " + b.device().name() + " ----");
                System.out.println(p.source());
                String asm = p.assembly();
                if (!asm.isEmpty()) System.out.println("// ---- PTX ----\n" + asm);
            }
        }
        return p;
    }

    private DeviceBuffer buffer(Backend b, Object data) {
        return buffers.computeIfAbsent(data, d -> b.allocate(hostView(d).byteSize()));
    }

    private long copyIn(Backend b, Object data) {
        MemorySegment host = hostView(data);
        b.copyIn(buffer(b, data), host);
        return host.byteSize();
    }

    private long copyOut(Backend b, Object data) {
        MemorySegment host = hostView(data);
        b.copyOut(host, buffer(b, data));
        return host.byteSize();
    }

    long copyToHost(Object... data) {
        checkOpen();
        Backend b = backend();
        if (b instanceof JavaBackend) return 0;
        long n = 0;
        for (Object d : data) {
            if (!buffers.containsKey(d)) {
                throw new IllegalArgumentException("this plan has no device copy of the given "
                        + d.getClass().getSimpleName() + " (not an argument of any executed task)");
            }
            n += copyOut(b, d);
        }
        return n;
    }

    static MemorySegment hostView(Object data) {
        return switch (data) {
            case float[] a -> MemorySegment.ofArray(a);
            case int[] a -> MemorySegment.ofArray(a);
            case byte[] a -> MemorySegment.ofArray(a);
            case short[] a -> MemorySegment.ofArray(a);
            case long[] a -> MemorySegment.ofArray(a);
            case MemorySegment s -> s;
            case KernelArray a -> a.segment();
            default -> throw new IllegalArgumentException("not transferable: " + data.getClass().getSimpleName());
        };
    }

    private Backend backend() {
        if (backend == null) {
            DeviceInfo d = device != null ? device : spec.resolve(Devices.list());
            backend = Backends.open(d);
        }
        return backend;
    }

    private void checkNotStarted() {
        if (backend != null) throw new IllegalStateException("the device is fixed once the plan has run");
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("execution plan for '" + graph.name() + "' is closed");
    }

    /**
     * Frees the device buffers this plan allocated; device-resident {@link DeviceBuffer} arguments stay with their
     * owner, and so does the shared backend.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        RuntimeException failure = null;
        try {
            if (backend != null && (!buffers.isEmpty() || !recordings.isEmpty())) backend.finish(); // enqueued executions may still use them
        } catch (RuntimeException e) {
            failure = e;
        }
        for (Backend.Recording r : recordings.values()) {
            try {
                r.close();
            } catch (RuntimeException e) {
                if (failure == null) failure = e;
            }
        }
        recordings.clear();
        for (DeviceBuffer buf : buffers.values()) {
            try {
                buf.close();
            } catch (RuntimeException e) {
                if (failure == null) failure = e;
            }
        }
        buffers.clear();
        if (failure != null) throw failure;
    }
}
