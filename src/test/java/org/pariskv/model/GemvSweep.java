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
import org.pariskv.compute.graph.TaskProfile;
import org.pariskv.model.device.ModelKernels;

/**
 * A developer's sweep (not a test): {@link ModelKernels#gemv} and {@link ModelKernels#gemvRounds} at Llama-3.1-8B's
 * matrix shapes, 1 and 8 input rows, 1/2/4 rows a warp, timed launch by launch on the device: median µs and GB/s of
 * the weights, and whether each output has the bits of gemv with one row a warp (it must: the same sums in the same
 * order). Then the fused launches against the ones they replace, at the same shapes: {@link ModelKernels#gemvQkv}
 * (with RoPE) against gemv of q, k, v and ropeQk, {@link ModelKernels#gemvSwiglu} against gemv of gate, up and
 * swiglu (the separate launches' device times summed, each execution's sum, then the median; the bits column: the
 * fused output equals the separate one). {@code java -cp test-classes:pariskv.jar org.pariskv.model.GemvSweep
 * [device] [all|gemv|fused]} (fused alone is the quick one on PoCL).
 */
public final class GemvSweep {
    private static final int REPS = 25;

    public static void main(String[] args) {
        Backend b = Backends.open(DeviceSpec.parse(args.length > 0 ? args[0] : "auto").resolve(Devices.list()));
        String which = args.length > 1 ? args[1] : "all";
        System.out.println("device: " + b.device().describe());
        System.out.println("| rows x cols | n | kernel | rows/warp | median µs | GB/s | bits as gemv/1 |\n|---|---:|---|---:|---:|---:|---|");
        try (Arena arena = Arena.ofConfined()) {
            if (!which.equals("fused")) gemvs(b, arena);
            if (!which.equals("gemv")) {
                for (int n : new int[] {1, 8}) {
                    qkv(b, arena, n, 4096, 4096, 1024, 128);
                    swiglu(b, arena, n, 4096, 14336);
                }
            }
        }
    }

    private static void gemvs(Backend b, Arena arena) {
        int[][] shapes = {{4096, 4096}, {1024, 4096}, {14336, 4096}, {4096, 14336}, {128256, 4096}};
        for (int[] sh : shapes) {
            int rows = sh[0], cols = sh[1];
            DeviceBuffer w = randomBf16(b, (long) rows * cols, 11);
            for (int n : new int[] {1, 8}) {
                DeviceBuffer x = input(b, n, cols), out = b.allocate(4L * n * rows);
                float[] ref = null;
                for (String k : new String[] {"gemv", "gemvRounds"}) {
                    for (int rpw : new int[] {1, 2, 4}) {
                        int perGroup = ModelKernels.GEMV_WARPS * rpw;
                        Grid g = new Grid(new long[] {(long) ((rows + perGroup - 1) / perGroup) * ModelKernels.GEMV_THREADS, (n + 7) / 8},
                                new long[] {ModelKernels.GEMV_THREADS, 1});
                        long[] ns = run(b, new TaskGraph(k).source(ModelKernels.class).task(k, g, w, x, out, n, rows, cols, rpw), REPS);
                        float[] got = read(b, arena, out);
                        if (ref == null) ref = got;
                        row(rows + " x " + cols, n, k, rpw, ns, 2.0 * rows * cols, Arrays.equals(ref, got));
                    }
                }
                out.close();
                x.close();
            }
            w.close();
        }
    }

    /** gemvQkv with RoPE over q|k|v stacked, against three gemvs over slices of the same weights and ropeQk. */
    private static void qkv(Backend b, Arena arena, int n, int cols, int qRow, int kvRow, int headDim) {
        int rows = qRow + 2 * kvRow;
        DeviceBuffer w = randomBf16(b, (long) rows * cols, 12);
        DeviceBuffer wq = b.slice(w, 0, 2L * qRow * cols), wk = b.slice(w, 2L * qRow * cols, 2L * kvRow * cols),
                wv = b.slice(w, 2L * (qRow + kvRow) * cols, 2L * kvRow * cols);
        DeviceBuffer x = input(b, n, cols);
        float[] inv = new float[headDim / 2];
        for (int j = 0; j < inv.length; j++) inv[j] = (float) (1.0 / Math.pow(500000, 2.0 * j / headDim));
        int[] pos = new int[n];
        for (int t = 0; t < n; t++) pos[t] = 1000 + 37 * t;
        DeviceBuffer invFreq = b.allocate(4L * inv.length), positions = b.allocate(4L * n);
        b.copyIn(invFreq, MemorySegment.ofArray(inv));
        b.copyIn(positions, MemorySegment.ofArray(pos));
        DeviceBuffer[] fused = {b.allocate(4L * n * qRow), b.allocate(4L * n * kvRow), b.allocate(4L * n * kvRow)};
        DeviceBuffer[] separate = {b.allocate(4L * n * qRow), b.allocate(4L * n * kvRow), b.allocate(4L * n * kvRow)};
        int rpw = ModelKernels.gemvPairRowsPerWarp(n, cols), heads = qRow / headDim, kvHeads = kvRow / headDim;
        long[] f = run(b, new TaskGraph("qkv").source(ModelKernels.class).task("gemvQkv", ModelKernels.gemvPairGrid(n, rows, cols), w, x,
                fused[0], fused[1], fused[2], invFreq, positions, n, qRow, kvRow, headDim, cols, rpw, true), REPS);
        TaskGraph g = new TaskGraph("q.k.v.rope").source(ModelKernels.class);
        DeviceBuffer[] ws = {wq, wk, wv};
        int[] outRows = {qRow, kvRow, kvRow};
        for (int i = 0; i < 3; i++) {
            g.task("gemv", ModelKernels.gemvGrid(n, outRows[i], cols), ws[i], x, separate[i], n, outRows[i], cols, ModelKernels.gemvRowsPerWarp(n, cols));
        }
        g.task("ropeQk", Grid.linear((long) n * (qRow + kvRow) / 2, 64), separate[0], separate[1], invFreq, positions, n, heads, kvHeads, headDim);
        long[] s = run(b, g, REPS);
        boolean same = true;
        for (int i = 0; i < 3; i++) same &= Arrays.equals(read(b, arena, fused[i]), read(b, arena, separate[i]));
        String shape = rows + " x " + cols;
        row(shape, n, "gemvQkv + rope", rpw, f, 2.0 * rows * cols, same);
        row(shape, n, "3 gemv + ropeQk", ModelKernels.gemvRowsPerWarp(n, cols), s, 2.0 * rows * cols, same);
        for (DeviceBuffer d : new DeviceBuffer[] {wq, wk, wv, w, x, invFreq, positions, fused[0], fused[1], fused[2], separate[0], separate[1], separate[2]}) d.close();
    }

    /** gemvSwiglu over gate|up interleaved by rows (built on the host), against gemv of each and swiglu. */
    private static void swiglu(Backend b, Arena arena, int n, int cols, int ff) {
        long row = 2L * cols;
        DeviceBuffer gate = randomBf16(b, (long) ff * cols, 13), up = randomBf16(b, (long) ff * cols, 14), both = b.allocate(2 * row * ff);
        try (Arena host = Arena.ofConfined()) {
            MemorySegment g = host.allocate(row * ff, 64), u = host.allocate(row * ff, 64), gu = host.allocate(2 * row * ff, 64);
            b.copyOut(g, gate);
            b.copyOut(u, up);
            for (long r = 0; r < ff; r++) {
                MemorySegment.copy(g, r * row, gu, 2 * r * row, row);
                MemorySegment.copy(u, r * row, gu, (2 * r + 1) * row, row);
            }
            b.copyIn(both, gu);
        }
        DeviceBuffer x = input(b, n, cols), fused = b.allocate(4L * n * ff), h1 = b.allocate(4L * n * ff), h3 = b.allocate(4L * n * ff);
        int rpw = ModelKernels.gemvPairRowsPerWarp(n, cols), sep = ModelKernels.gemvRowsPerWarp(n, cols);
        long[] f = run(b, new TaskGraph("gateUp").source(ModelKernels.class).task("gemvSwiglu", ModelKernels.gemvPairGrid(n, 2 * ff, cols),
                both, x, fused, n, ff, cols, rpw), REPS);
        long[] s = run(b, new TaskGraph("gate.up.swiglu").source(ModelKernels.class)
                .task("gemv", ModelKernels.gemvGrid(n, ff, cols), gate, x, h1, n, ff, cols, sep)
                .task("gemv", ModelKernels.gemvGrid(n, ff, cols), up, x, h3, n, ff, cols, sep)
                .task("swiglu", Grid.linear((long) n * ff, 64), h1, h3, n * ff), REPS);
        boolean same = Arrays.equals(read(b, arena, fused), read(b, arena, h1));
        String shape = 2 * ff + " x " + cols;
        row(shape, n, "gemvSwiglu", rpw, f, 4.0 * ff * cols, same);
        row(shape, n, "2 gemv + swiglu", sep, s, 4.0 * ff * cols, same);
        for (DeviceBuffer d : new DeviceBuffer[] {gate, up, both, x, fused, h1, h3}) d.close();
    }

    private static void row(String shape, int n, String kernel, int rpw, long[] ns, double weightBytes, boolean same) {
        Arrays.sort(ns);
        double us = ns[ns.length / 2] / 1e3;
        System.out.printf(Locale.ROOT, "| %s | %d | %s | %d | %.1f | %.0f | %s |%n", shape, n, kernel, rpw, us, weightBytes / (us * 1e-6) / 1e9,
                same ? "yes" : "NO");
    }

    private static DeviceBuffer randomBf16(Backend b, long n, int seed) {
        DeviceBuffer w = b.allocate(2 * n);
        run(b, new TaskGraph("rnd").source(ModelKernels.class).task("randomBf16", Grid.linear(1 << 20, 256), w, n, seed, 0.05f), 1);
        return w;
    }

    private static DeviceBuffer input(Backend b, int n, int cols) {
        DeviceBuffer x = b.allocate(4L * n * cols);
        float[] xs = new float[n * cols];
        for (int i = 0; i < xs.length; i++) xs[i] = (float) Math.sin(i * 0.37);
        b.copyIn(x, MemorySegment.ofArray(xs));
        return x;
    }

    private static float[] read(Backend b, Arena arena, DeviceBuffer d) {
        MemorySegment o = arena.allocate(d.bytes(), 16);
        b.copyOut(o, d);
        return o.toArray(ValueLayout.JAVA_FLOAT);
    }

    /**
     * Device nanoseconds of each of {@code reps} executions, summed over the graph's tasks (the first execution,
     * which compiles, not counted).
     */
    private static long[] run(Backend b, TaskGraph g, int reps) {
        try (ExecutionPlan p = new ExecutionPlan(g.snapshot()).withBackend(b).withProfiler(ProfilerMode.SILENT)) {
            p.execute();
            long[] ns = new long[reps];
            for (int i = 0; i < reps; i++) for (TaskProfile t : p.execute().tasks()) ns[i] += t.kernelNanos();
            return ns;
        }
    }
}
