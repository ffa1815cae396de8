package org.pariskv.compute.kernel;

/**
 * Float math as the hand-written kernels compute it. {@code (float) Math.exp(x)} translates to a double {@code exp}
 * on devices (slow on GPUs, and not what {@code tasks/pkv.h}'s {@code EXP} does); these are the device's float
 * functions ({@code exp} on OpenCL, {@code expf} on CUDA), so a Java kernel equals its C original bit for bit on the
 * same device. On the JVM they are the float rounding of {@code Math}'s result, as the decode twins compute.
 */
public final class KernelMath {
    private KernelMath() {}

    /** {@code EXP(x)} of pkv.h: float {@code exp}; within the device's ulp bound of the JVM's correctly rounded value. */
    public static float exp(float x) {
        return (float) Math.exp(x);
    }
}
