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
        float av = a.get();
        for (int i = 0; i < n.get(); i++) y[i] = Math.fma(av, x[i], y[i]);
    }

    /** partial[g] = sum of x over group g's slice of {@code scratch.floats()} elements. */
    public static void blockSum(float[] x, float[] partial, IntParam n, LocalMem scratch) {
        int group = scratch.floats();
        int groups = (n.get() + group - 1) / group;
        for (int g = 0; g < groups; g++) {
            float s = 0;
            for (int i = g * group; i < Math.min(n.get(), (g + 1) * group); i++) s += x[i];
            partial[g] = s;
        }
    }

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
