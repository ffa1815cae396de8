package org.pariskv.compute.smoke;

import org.pariskv.compute.Grid;
import org.pariskv.compute.graph.DataTransferMode;
import org.pariskv.compute.graph.FloatParam;
import org.pariskv.compute.graph.ImmutableTaskGraph;
import org.pariskv.compute.graph.IntParam;
import org.pariskv.compute.graph.LocalMem;
import org.pariskv.compute.graph.TaskGraph;

/**
 * Java twins of the kernels in {@code tasks/smoke.c} and a graph that chains them. They prove the
 * machinery (bindings, pkv.h, local memory, barriers, atomics, bf16 bits), not ParisKV math.
 */
public final class SmokeTasks {
    /** Work-group size of the smoke graph. */
    public static final int GROUP = 64;

    private SmokeTasks() {}

    /** y[i] = a * x[i] + y[i] for i < n (fused multiply-add, as the kernel's FMA). */
    public static void saxpy(float[] x, float[] y, FloatParam a, IntParam n) {
        saxpy(java.lang.foreign.MemorySegment.ofArray(x), java.lang.foreign.MemorySegment.ofArray(y), a.get(), n.get());
    }

    /** partial[g] = sum of x over group g's slice of {@code scratch.floats()} elements. */
    public static void blockSum(float[] x, float[] partial, IntParam n, LocalMem scratch) {
        blockSum(java.lang.foreign.MemorySegment.ofArray(x), java.lang.foreign.MemorySegment.ofArray(partial), n.get(), scratch.floats());
    }

    /** {@link #saxpy(float[], float[], FloatParam, IntParam)} over float segments (device buffers' host memory). */
    public static void saxpy(java.lang.foreign.MemorySegment x, java.lang.foreign.MemorySegment y, float a, int n) {
        for (int i = 0; i < n; i++) y.setAtIndex(F32, i, Math.fma(a, x.getAtIndex(F32, i), y.getAtIndex(F32, i)));
    }

    /** {@link #blockSum(float[], float[], IntParam, LocalMem)} over float segments, work-groups of {@code group}. */
    public static void blockSum(java.lang.foreign.MemorySegment x, java.lang.foreign.MemorySegment partial, int n, int group) {
        for (int g = 0; g < (n + group - 1) / group; g++) {
            float s = 0;
            for (int i = g * group; i < Math.min(n, (g + 1) * group); i++) s += x.getAtIndex(F32, i);
            partial.setAtIndex(F32, g, s);
        }
    }

    private static final java.lang.foreign.ValueLayout.OfFloat F32 = java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

    /** counts[c] += #{i < n : codes[i] == c}. */
    public static void histogram256(byte[] codes, int[] counts, IntParam n) {
        for (int i = 0; i < n.get(); i++) counts[codes[i] & 0xFF]++;
    }

    /** out[i] = bf16(x[i] * scale), round to nearest even. */
    public static void toBf16(float[] x, short[] out, FloatParam scale, IntParam n) {
        for (int i = 0; i < n.get(); i++) out[i] = floatToBf16(x[i] * scale.get());
    }

    /** fp32 -> bf16 bits, round to nearest even, NaN -> 0x7fc0 (same as pkv.h). */
    public static short floatToBf16(float f) {
        return org.pariskv.encode.Bf16.fromFloat(f);
    }

    /** The buffers of one smoke run. */
    public record Data(float[] x, float[] y, float[] partial, byte[] codes, int[] counts, short[] bf16,
                       FloatParam a, IntParam n) {
        /** Random inputs of length {@code n}, outputs poisoned with NaN / -1 so unwritten slots show. */
        public static Data random(int n, long seed) {
            java.util.Random r = new java.util.Random(seed);
            float[] x = new float[n], y = new float[n];
            byte[] codes = new byte[n];
            for (int i = 0; i < n; i++) {
                x[i] = (float) r.nextGaussian();
                y[i] = (float) r.nextGaussian();
                codes[i] = (byte) r.nextInt(256);
            }
            float[] partial = new float[(n + GROUP - 1) / GROUP];
            java.util.Arrays.fill(partial, Float.NaN);
            short[] bf16 = new short[n];
            java.util.Arrays.fill(bf16, (short) -1);
            return new Data(x, y, partial, codes, new int[256], bf16, new FloatParam(0.5f + r.nextFloat()),
                    new IntParam(n));
        }
    }

    /**
     * saxpy, then blockSum of the new y, histogram of codes, bf16 of y: inputs copied on the first execution
     * except y (every execution, since saxpy updates it in place), results copied back every execution.
     */
    public static ImmutableTaskGraph graph(Data d) {
        int n = d.n().get();
        return new TaskGraph("smoke")
                .source("smoke.c")
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, d.x(), d.codes())
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, d.y(), d.counts())
                .task("saxpy", SmokeTasks::saxpy, Grid.linear(n, GROUP), d.x(), d.y(), d.a(), d.n())
                .task("blockSum", SmokeTasks::blockSum, Grid.linear(n, GROUP), d.y(), d.partial(), d.n(),
                        LocalMem.floats(GROUP))
                .task("histogram256", SmokeTasks::histogram256, Grid.groups(Math.clamp(n / 4096, 1, 256), GROUP), d.codes(), d.counts(), d.n())
                .task("toBf16", SmokeTasks::toBf16, Grid.linear(n, GROUP), d.y(), d.bf16(), new FloatParam(1f), d.n())
                .transferToHost(DataTransferMode.EVERY_EXECUTION, d.y(), d.partial(), d.counts(), d.bf16())
                .snapshot();
    }
}
