package org.pariskv.device;

import org.pariskv.compute.kernel.FloatArray;
import org.pariskv.compute.kernel.IntArray;
import org.pariskv.compute.kernel.Kernel;
import org.pariskv.compute.kernel.KernelContext;
import org.pariskv.compute.kernel.ShortArray;

/**
 * The first kernel of a {@link DeviceDecoder} step whose inputs are already on the device (a model's q/k/v
 * projections): it does on the device what {@link DeviceDecoder#decode(float[], float[], float[], float[], boolean)}
 * does on the host before its upload, so the host never waits between a layer's projections and its attention.
 */
public final class StepInputKernels {
    private StepInputKernels() {}

    /**
     * {@code queries = q} (f32), {@code newKeys/newValues = bf16(k/v)} rounded as {@link org.pariskv.encode.Bf16}
     * does, all in the decoder's stream order ({@code [batch][heads][headDim]} is already it). A non-finite input
     * cannot be refused before the step as the host path does; instead {@code flags[flag]} records the largest
     * {@code (kind << 28) | element + 1} of the non-finite ones (kind 0 query, 1 key, 2 value), which the caller
     * reads with the step's output and reports by layer, sequence and head.
     */
    @Kernel
    public static void importStep(KernelContext ctx, FloatArray q, FloatArray k, FloatArray v, FloatArray queries, ShortArray newKeys,
                                  ShortArray newValues, IntArray flags, int flag, int nq, int nkv) {
        int i = ctx.globalId(0);
        if (i < nq) {
            float x = q.get(i);
            queries.set(i, x);
            if (!finite(x)) ctx.atomicMax(flags, flag, i + 1);
        }
        if (i < nkv) {
            float kx = k.get(i), vx = v.get(i);
            newKeys.set(i, bf16(kx));
            newValues.set(i, bf16(vx));
            if (!finite(kx)) ctx.atomicMax(flags, flag, (1 << 28) | (i + 1));
            if (!finite(vx)) ctx.atomicMax(flags, flag, (2 << 28) | (i + 1));
        }
    }

    private static boolean finite(float x) {
        return (Float.floatToRawIntBits(x) & 0x7f800000) != 0x7f800000;
    }

    /** {@link org.pariskv.encode.Bf16#fromFloat}: round to nearest even, NaN to the canonical quiet NaN. */
    private static short bf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) 0x7fc0;
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }
}
