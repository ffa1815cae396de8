package org.pariskv.compute.jit;

import org.pariskv.compute.kernel.Constant;
import org.pariskv.compute.kernel.FloatArray;
import org.pariskv.compute.kernel.IntArray;
import org.pariskv.compute.kernel.Kernel;
import org.pariskv.compute.kernel.KernelContext;

/** Kernels of {@link SpecialisationTest}: @Constant parameters, the warp-level API, read-only and vector loads. */
public final class SpecialisedKernels {
    private SpecialisedKernels() {}

    private static final int MAX_GROUP = 8;

    /**
     * out[i * group + g] = sum over d < dim of x[i * dim + d] * w[g * dim + d], w staged in a local array sized by the
     * constants; {@code scale} a @Constant float, {@code twice} a @Constant boolean.
     */
    @Kernel
    public static void groupDots(KernelContext ctx, FloatArray x, FloatArray w, FloatArray out, int n, @Constant int group,
                                 @Constant int dim, @Constant float scale, @Constant boolean twice) {
        float[] ws = ctx.allocateFloatLocalArray(group * dim + 1);
        int t = ctx.localId(0);
        for (int i = t; i < group * dim; i += ctx.localSize(0)) ws[i] = w.get(i);
        ctx.barrier();
        int i = ctx.globalId(0);
        if (i >= n) return;
        float[] acc = new float[MAX_GROUP];
        for (int d = 0; d < dim; d++) {
            float xv = x.get((long) i * dim + d);
            for (int g = 0; g < group; g++) acc[g] += xv * ws[g * dim + d];
        }
        for (int g = 0; g < group; g++) store(out, i * group + g, (twice ? 2f : 1f) * scale * dot(acc, g));
    }

    /** Writes through a device function: the caller's out is then not const either. */
    static void store(FloatArray out, int i, float v) {
        out.set(i, v);
    }

    static float dot(float[] acc, int g) {
        return acc[g];
    }

    /** hist[b] = how many of keys fall in bin b (keys in [0, bins)), counted in local memory; flags[0] = hasWarpShuffle. */
    @Kernel
    public static void histogram(KernelContext ctx, IntArray keys, IntArray hist, IntArray flags, int n, @Constant int bins) {
        int[] h = ctx.allocateIntLocalArray(bins);
        int t = ctx.localId(0), l = ctx.localSize(0);
        for (int b = t; b < bins; b += l) h[b] = 0;
        ctx.barrier();
        for (int i = ctx.globalId(0); i < n; i += ctx.globalSize(0)) ctx.histogramIncrement(h, keys.get(i));
        ctx.barrier();
        for (int b = t; b < bins; b += l) ctx.atomicAdd(hist, b, h[b]);
        if (ctx.globalId(0) < n) ctx.histogramIncrement(hist, bins + keys.get(ctx.globalId(0))); // global form: the first 1024 keys
        if (ctx.globalId(0) == 0) flags.set(0, ctx.hasWarpShuffle() ? 1 : 0);
    }

    /** out[i] = the sum of the 4 ints of in's i-th 16 bytes plus the 2 ints of its i-th 8 bytes, through every load form. */
    @Kernel(restrict = true)
    public static void vectorLoads(KernelContext ctx, IntArray in, IntArray out, int n) {
        int i = ctx.globalId(0);
        if (i >= n) return;
        int[] v = new int[12];
        in.load4(i, v, 0);
        in.load4ReadOnly(i, v, 4);
        in.load2(i, v, 8);
        in.load2ReadOnly(i, v, 10);
        int s = 0;
        for (int u = 0; u < 12; u++) s += v[u] * (u + 1);
        out.set(i, s + in.getReadOnly(i));
    }

    /**
     * Per warp of 32: sums[i] = the sum of x over i's warp (xor butterfly), prefix[i] = the inclusive prefix over the
     * warp (shuffle up), down[i] = x of lane + 1 (own past the warp), bcast[i] = x of lane 0. On devices without warp
     * shuffles (and the JVM) through local memory, so both paths give the same answers.
     */
    @Kernel
    public static void warpOps(KernelContext ctx, IntArray x, IntArray sums, IntArray prefix, IntArray down, IntArray bcast,
                               FloatArray fx, FloatArray fsums) {
        int[] xs = ctx.allocateIntLocalArray(256);
        float[] fs = ctx.allocateFloatLocalArray(256);
        int t = ctx.localId(0), i = ctx.globalId(0), lane = t & 31;
        int v = x.get(i);
        float f = fx.get(i);
        if (ctx.hasWarpShuffle()) {
            int s = v;
            float fsum = f;
            for (int off = 16; off > 0; off >>= 1) {
                s += ctx.shuffleXor(s, off);
                fsum += ctx.shuffleXor(fsum, off);
            }
            int p = v;
            for (int off = 1; off < 32; off <<= 1) {
                int y = ctx.shuffleUp(p, off);
                if (lane >= off) p += y;
            }
            sums.set(i, s);
            fsums.set(i, fsum);
            prefix.set(i, p);
            down.set(i, ctx.shuffleDown(v, 1));
            bcast.set(i, ctx.shuffle(v, 0));
        } else {
            xs[t] = v;
            fs[t] = f;
            ctx.barrier();
            int w0 = t & ~31, s = 0, p = 0;
            for (int u = 0; u < 32; u++) {
                s += xs[w0 + u];
                if (u <= lane) p += xs[w0 + u];
            }
            // the xor butterfly's order: pairs at distance 16, then 8, ... (so float sums are bit-equal)
            float[] b = new float[32];
            for (int u = 0; u < 32; u++) b[u] = fs[w0 + u];
            for (int off = 16; off > 0; off >>= 1) {
                float[] nb = new float[32];
                for (int u = 0; u < 32; u++) nb[u] = b[u] + b[u ^ off];
                for (int u = 0; u < 32; u++) b[u] = nb[u];
            }
            sums.set(i, s);
            fsums.set(i, b[lane]);
            prefix.set(i, p);
            down.set(i, lane < 31 ? xs[t + 1] : v);
            bcast.set(i, xs[w0]);
        }
    }
}
