/**
 * Kernels written in Java: {@link org.pariskv.compute.kernel.Kernel @Kernel} methods over
 * {@link org.pariskv.compute.kernel.KernelContext} and the off-heap arrays ({@link org.pariskv.compute.kernel.FloatArray},
 * {@link org.pariskv.compute.kernel.IntArray}, {@link org.pariskv.compute.kernel.ByteArray},
 * {@link org.pariskv.compute.kernel.ShortArray}, {@link org.pariskv.compute.kernel.LongArray}). The translator in
 * {@code org.pariskv.compute.jit} turns them into OpenCL C and CUDA C; {@link org.pariskv.compute.kernel.KernelExecutor}
 * runs them on the JVM. See docs/kernels.md for the subset.
 */
package org.pariskv.compute.kernel;
