package org.pariskv.compute.smoke;

import org.pariskv.compute.Grid;
import org.pariskv.compute.graph.DataTransferMode;
import org.pariskv.compute.graph.FloatParam;
import org.pariskv.compute.graph.ImmutableTaskGraph;
import org.pariskv.compute.graph.IntParam;
import org.pariskv.compute.graph.TaskGraph;
import org.pariskv.compute.kernel.ByteArray;
import org.pariskv.compute.kernel.FloatArray;
import org.pariskv.compute.kernel.IntArray;
import org.pariskv.compute.kernel.Kernel;
import org.pariskv.compute.kernel.KernelContext;
import org.pariskv.compute.kernel.ShortArray;

/**
 * Small kernels written in Java that prove the compute machinery end to end (translation to OpenCL C / CUDA C, local
 * memory, barriers, atomics, bf16 bits; no ParisKV math), and a graph that chains them. On the java backend the
 * methods themselves run over the grid.
 */
public final class SmokeTasks {
    /** Work-group size of the smoke graph (blockSum's local array has this many floats). */
    public static final int GROUP = 64;

    private SmokeTasks() {}

    /** y[i] = a * x[i] + y[i] for i < n, one fused multiply-add. */
    @Kernel
    public static void saxpy(KernelContext ctx, FloatArray x, FloatArray y, float a, int n) {
        int i = ctx.globalId(0);
        if (i < n) y.set(i, Math.fma(a, x.get(i), y.get(i)));
    }

    /** partial[g] = sum of x over work-group g's slice: a tree reduction in local memory (groups of {@link #GROUP}). */
    @Kernel
    public static void blockSum(KernelContext ctx, FloatArray x, FloatArray partial, int n) {
        float[] scratch = ctx.allocateFloatLocalArray(GROUP);
        int lid = ctx.localId(0);
        int i = ctx.globalId(0);
        scratch[lid] = i < n ? x.get(i) : 0.0f;
        ctx.barrier();
        for (int stride = ctx.localSize(0) / 2; stride > 0; stride >>= 1) {
            if (lid < stride) scratch[lid] += scratch[lid + stride];
            ctx.barrier();
        }
        if (lid == 0) partial.set(ctx.groupId(0), scratch[0]);
    }

    /** counts[c] += number of i < n with codes[i] == c: a local histogram, then one atomic per bin. */
    @Kernel
    public static void histogram256(KernelContext ctx, ByteArray codes, IntArray counts, int n) {
        int[] bins = ctx.allocateIntLocalArray(256);
        for (int b = ctx.localId(0); b < 256; b += ctx.localSize(0)) bins[b] = 0;
        ctx.barrier();
        for (int i = ctx.globalId(0); i < n; i += ctx.globalSize(0)) ctx.atomicAdd(bins, codes.get(i) & 0xFF, 1);
        ctx.barrier();
        for (int b = ctx.localId(0); b < 256; b += ctx.localSize(0)) {
            if (bins[b] != 0) ctx.atomicAdd(counts, b, bins[b]);
        }
    }

    /** out[i] = bf16(x[i] * scale), round to nearest even. */
    @Kernel
    public static void toBf16(KernelContext ctx, FloatArray x, ShortArray out, float scale, int n) {
        int i = ctx.globalId(0);
        if (i < n) out.set(i, floatToBf16(x.get(i) * scale));
    }

    /** fp32 -> bf16 bits, round to nearest even, NaN -> 0x7fc0 (a device function of toBf16). */
    public static short floatToBf16(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7fffffff) > 0x7f800000) return (short) 0x7fc0;
        u += 0x7fff + ((u >>> 16) & 1);
        return (short) (u >>> 16);
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
                .source(SmokeTasks.class)
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, d.x(), d.codes())
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, d.y(), d.counts())
                .task("saxpy", Grid.linear(n, GROUP), d.x(), d.y(), d.a(), d.n())
                .task("blockSum", Grid.linear(n, GROUP), d.y(), d.partial(), d.n())
                .task("histogram256", Grid.groups(Math.clamp(n / 4096, 1, 256), GROUP), d.codes(), d.counts(), d.n())
                .task("toBf16", Grid.linear(n, GROUP), d.y(), d.bf16(), new FloatParam(1f), d.n())
                .transferToHost(DataTransferMode.EVERY_EXECUTION, d.y(), d.partial(), d.counts(), d.bf16())
                .snapshot();
    }
}
