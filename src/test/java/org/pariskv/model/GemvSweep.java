package org.pariskv.model;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Locale;
import org.pariskv.compute.Backend;
import org.pariskv.compute.Backends;
import org.pariskv.compute.DeviceBuffer;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Devices;
import org.pariskv.compute.Grid;
import org.pariskv.compute.graph.ExecutionPlan;
import org.pariskv.compute.graph.ProfilerMode;
import org.pariskv.compute.graph.TaskGraph;
import org.pariskv.model.device.ModelKernels;

/**
 * A developer's sweep (not a test): {@link ModelKernels#gemv} and {@link ModelKernels#gemvRounds} at Llama-3.1-8B's
 * matrix shapes, 1 and 8 input rows, 1/2/4 rows a warp, timed launch by launch on the device: median µs and GB/s of
 * the weights, and whether each output has the bits of gemv with one row a warp (it must: the same sums in the same
 * order). {@code java -cp test-classes:pariskv.jar org.pariskv.model.GemvSweep [device]}.
 */
public final class GemvSweep {
    public static void main(String[] args) {
        Backend b = Backends.open(DeviceSpec.parse(args.length > 0 ? args[0] : "auto").resolve(Devices.list()));
        System.out.println("device: " + b.device().describe());
        int[][] shapes = {{4096, 4096}, {1024, 4096}, {14336, 4096}, {4096, 14336}, {128256, 4096}};
        System.out.println("| rows x cols | n | kernel | rows/warp | median µs | GB/s | bits as gemv/1 |\n|---|---:|---|---:|---:|---:|---|");
        try (Arena arena = Arena.ofConfined()) {
            for (int[] sh : shapes) {
                int rows = sh[0], cols = sh[1];
                DeviceBuffer w = b.allocate(2L * rows * cols);
                run(b, new TaskGraph("rnd").source(ModelKernels.class).task("randomBf16", Grid.linear(1 << 20, 256), w, (long) rows * cols, 11, 0.05f), 1);
                for (int n : new int[] {1, 8}) {
                    DeviceBuffer x = b.allocate(4L * n * cols), out = b.allocate(4L * n * rows);
                    float[] xs = new float[n * cols];
                    for (int i = 0; i < xs.length; i++) xs[i] = (float) Math.sin(i * 0.37);
                    b.copyIn(x, MemorySegment.ofArray(xs));
                    float[] ref = null;
                    for (String k : new String[] {"gemv", "gemvRounds"}) {
                        for (int rpw : new int[] {1, 2, 4}) {
                            int perGroup = ModelKernels.GEMV_WARPS * rpw;
                            Grid g = new Grid(new long[] {(long) ((rows + perGroup - 1) / perGroup) * ModelKernels.GEMV_THREADS, (n + 7) / 8},
                                    new long[] {ModelKernels.GEMV_THREADS, 1});
                            long[] ns = run(b, new TaskGraph(k).source(ModelKernels.class).task(k, g, w, x, out, n, rows, cols, rpw), 25);
                            MemorySegment o = arena.allocate(4L * n * rows, 16);
                            b.copyOut(o, out);
                            float[] got = o.toArray(ValueLayout.JAVA_FLOAT);
                            if (ref == null) ref = got;
                            Arrays.sort(ns);
                            double us = ns[ns.length / 2] / 1e3;
                            System.out.printf(Locale.ROOT, "| %d x %d | %d | %s | %d | %.1f | %.0f | %s |%n", rows, cols, n, k, rpw, us,
                                    2.0 * rows * cols / (us * 1e-6) / 1e9, Arrays.equals(ref, got) ? "yes" : "NO");
                        }
                    }
                    out.close();
                    x.close();
                }
                w.close();
            }
        }
    }

    /** Device nanoseconds of each of {@code reps} executions (the first, which compiles, not counted). */
    private static long[] run(Backend b, TaskGraph g, int reps) {
        try (ExecutionPlan p = new ExecutionPlan(g.snapshot()).withBackend(b).withProfiler(ProfilerMode.SILENT)) {
            p.execute();
            long[] ns = new long[reps];
            for (int i = 0; i < reps; i++) ns[i] = p.execute().tasks().getFirst().kernelNanos();
            return ns;
        }
    }
}
