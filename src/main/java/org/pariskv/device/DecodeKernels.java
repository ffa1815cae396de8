package org.pariskv.device;

import org.pariskv.compute.kernel.IntArray;
import org.pariskv.compute.kernel.Kernel;
import org.pariskv.compute.kernel.KernelContext;
import org.pariskv.compute.kernel.ShortArray;

/**
 * Kernels of the decode step written in Java: the port of {@code tasks/pariskv.c} starts here. The decoder still
 * runs the hand-written C; {@code DecodeKernelsTest} holds each Java kernel equal to its C original on PoCL. The plan
 * row layout and the window helper come from {@link DecodeTwins}, so they are defined once, in Java.
 */
public final class DecodeKernels {
    private DecodeKernels() {}

    /**
     * {@code appendTokens}: row {@code s} of {@code newKeys/newValues} (bf16 bits) becomes token {@code P_LEN - 1} of
     * stream {@code s}; with {@code ring > 0} (K/V in host memory) it also goes to the stream's device window, and
     * {@code capTok == 0} writes only that (staged K/V). Grid: {@code S} groups of {@code headDim} work-items
     * ({@code headDim} is the C kernel's {@code HEAD_DIM} define).
     */
    @Kernel
    public static void appendTokens(KernelContext ctx, ShortArray newKeys, ShortArray newValues, IntArray plan,
                                    ShortArray keys, ShortArray values, ShortArray winKeys, ShortArray winValues,
                                    int capTok, int ringBase, int ring, int headDim) {
        int s = ctx.groupId(0);
        int token = plan.get(s * DecodeTwins.PLAN_STRIDE + DecodeTwins.P_LEN) - 1;
        long w = ((long) s * (ringBase + ring) + DecodeTwins.windowSlot(token, ringBase, ring)) * headDim;
        for (int d = ctx.localId(0); d < headDim; d += ctx.localSize(0)) {
            short k = newKeys.get(s * headDim + d), v = newValues.get(s * headDim + d);
            if (capTok > 0) { // 0: the K/V rows live in host memory only (staged), the host appends them
                long row = ((long) s * capTok + token) * headDim + d;
                keys.set(row, k);
                values.set(row, v);
            }
            if (ring > 0) { // the device window's copy (K/V in host memory)
                winKeys.set(w + d, k);
                winValues.set(w + d, v);
            }
        }
    }
}
