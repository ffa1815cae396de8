package org.pariskv.compute.kernel;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.foreign.ValueLayout;

/**
 * What a kernel knows about where it runs, and what it may do with the other work-items of its group (the shape of
 * TornadoVM's {@code KernelContext}). A kernel takes it as its first parameter; a task's arguments leave it out.
 *
 * <pre>{@code
 * @Kernel
 * public static void saxpy(KernelContext ctx, FloatArray x, FloatArray y, float a, int n) {
 *     int i = ctx.globalId(0);
 *     if (i < n) y.set(i, Math.fma(a, x.get(i), y.get(i)));
 * }
 * }</pre>
 *
 * <p>On devices every method is a builtin ({@code get_global_id}, {@code barrier}, {@code atomic_add}, ...). On the
 * JVM ({@link KernelExecutor}) each work-item gets its own context; the work-items of a group run as threads that
 * meet at {@link #barrier()} when the kernel has one, and share the group's local arrays.
 *
 * <p>Local arrays: {@code int[] bins = ctx.allocateIntLocalArray(256)} with a constant size, in the kernel method
 * itself (not in a loop or a called method): one array per work-group, uninitialised on devices.
 *
 * <p>Intrinsics: {@link #bytePermute}, {@link #funnelShiftRight} translate to one instruction on CUDA
 * ({@code __byte_perm}, {@code __funnelshift_r}) and to shifts elsewhere. Warp shuffles run on CUDA, behind
 * {@link #hasWarpShuffle()}.
 */
public final class KernelContext {
    private static final VarHandle LOCAL_INTS = MethodHandles.arrayElementVarHandle(int[].class);
    private static final VarHandle GLOBAL_INTS = ValueLayout.JAVA_INT.varHandle();

    final int[] globalId = new int[3], localId = new int[3], groupId = new int[3];
    final int[] globalSize, localSize, groupCount;
    final GroupMemory group;
    private int allocations;

    KernelContext(int[] globalSize, int[] localSize, GroupMemory group) {
        this.globalSize = globalSize;
        this.localSize = localSize;
        this.groupCount = new int[3];
        for (int d = 0; d < 3; d++) groupCount[d] = globalSize[d] / localSize[d];
        this.group = group;
    }

    /** Sets this work-item's ids (the executor, before each invocation). */
    void at(int[] group, int[] local) {
        for (int d = 0; d < 3; d++) {
            groupId[d] = group[d];
            localId[d] = local[d];
            globalId[d] = group[d] * localSize[d] + local[d];
        }
        allocations = 0;
    }

    public int globalId(int dim) {
        return globalId[dim];
    }

    public int localId(int dim) {
        return localId[dim];
    }

    public int groupId(int dim) {
        return groupId[dim];
    }

    public int globalSize(int dim) {
        return globalSize[dim];
    }

    public int localSize(int dim) {
        return localSize[dim];
    }

    public int groupCount(int dim) {
        return groupCount[dim];
    }

    /** Waits until every work-item of the group got here; local memory writes before it are visible after it. */
    public void barrier() {
        group.barrier();
    }

    /** {@link #barrier()} that also orders global memory within the group. */
    public void globalBarrier() {
        group.barrier();
    }

    /** The group's local int array of {@code n} (a constant) elements. */
    public int[] allocateIntLocalArray(int n) {
        return (int[]) group.local(allocations++, int[].class, n);
    }

    /** The group's local float array of {@code n} (a constant) elements. */
    public float[] allocateFloatLocalArray(int n) {
        return (float[]) group.local(allocations++, float[].class, n);
    }

    /** The group's local short array of {@code n} (a constant) elements. */
    public short[] allocateShortLocalArray(int n) {
        return (short[]) group.local(allocations++, short[].class, n);
    }

    /** Atomically adds {@code v} to {@code a[i]}; returns the old value. */
    public int atomicAdd(IntArray a, int i, int v) {
        return (int) GLOBAL_INTS.getAndAdd(a.segment(), 4L * i, v);
    }

    /** Atomically adds {@code v} to the local {@code a[i]}; returns the old value. */
    public int atomicAdd(int[] a, int i, int v) {
        return (int) LOCAL_INTS.getAndAdd(a, i, v);
    }

    /** Atomically sets {@code a[i]} to the larger of it and {@code v}; returns the old value. */
    public int atomicMax(IntArray a, int i, int v) {
        int old;
        do old = (int) GLOBAL_INTS.getVolatile(a.segment(), 4L * i);
        while (old < v && !GLOBAL_INTS.compareAndSet(a.segment(), 4L * i, old, v));
        return old;
    }

    /** Atomically sets the local {@code a[i]} to the larger of it and {@code v}; returns the old value. */
    public int atomicMax(int[] a, int i, int v) {
        int old;
        do old = (int) LOCAL_INTS.getVolatile(a, i);
        while (old < v && !LOCAL_INTS.compareAndSet(a, i, old, v));
        return old;
    }

    /** Atomically sets {@code a[i]} to the smaller of it and {@code v}; returns the old value. */
    public int atomicMin(IntArray a, int i, int v) {
        int old;
        do old = (int) GLOBAL_INTS.getVolatile(a.segment(), 4L * i);
        while (old > v && !GLOBAL_INTS.compareAndSet(a.segment(), 4L * i, old, v));
        return old;
    }

    /** Atomically sets the local {@code a[i]} to the smaller of it and {@code v}; returns the old value. */
    public int atomicMin(int[] a, int i, int v) {
        int old;
        do old = (int) LOCAL_INTS.getVolatile(a, i);
        while (old > v && !LOCAL_INTS.compareAndSet(a, i, old, v));
        return old;
    }

    /**
     * pkv.h's {@code AWAIT_INPUTS()}: under programmatic dependent launch (CUDA sm_90,
     * {@code ExecutionPlan.withDependentLaunch}) waits until the kernel before has finished and its writes are
     * visible, then lets the next kernel be scheduled ({@code griddepcontrol.wait; griddepcontrol.launch_dependents}).
     * Call it before reading what an earlier kernel wrote or writing anything. A no-op on OpenCL, on a plain launch
     * and on the JVM, where tasks run one after the other.
     */
    public void awaitInputs() {}

    /**
     * CUDA's {@code __byte_perm(x, y, s)}: byte k of the result is byte {@code (s >> 4k) & 7} of the 8 bytes
     * {@code y:x} (x the low word). The sign-replicating mode (selector bit 3) is not supported.
     */
    public static int bytePermute(int x, int y, int selector) {
        long bytes = (x & 0xFFFFFFFFL) | ((long) y << 32);
        int r = 0;
        for (int k = 0; k < 4; k++) r |= (int) ((bytes >>> (8 * ((selector >>> (4 * k)) & 7))) & 0xFF) << (8 * k);
        return r;
    }

    /** CUDA's {@code __funnelshift_r(lo, hi, n)}: the low 32 bits of {@code hi:lo >> (n & 31)}. */
    public static int funnelShiftRight(int lo, int hi, int n) {
        long v = (lo & 0xFFFFFFFFL) | ((long) hi << 32);
        return (int) (v >>> (n & 31));
    }

    /**
     * Whether this device runs work-items in warps of 32 with register shuffles ({@link #shuffleXor} and the others):
     * true on CUDA, false on OpenCL and on the JVM. A constant where the kernel is translated, so
     * {@code if (ctx.hasWarpShuffle()) {...} else {...}} keeps one path in each program, as {@code #if
     * PKV_HAS_WARP_SHUFFLE} does in C. Shuffles outside such a branch fail on the JVM and are wrong on OpenCL.
     */
    public boolean hasWarpShuffle() {
        return false;
    }

    /** CUDA {@code __shfl_xor_sync(~0, v, mask)}: {@code v} of lane {@code lane ^ mask} of this warp (all lanes call). */
    public int shuffleXor(int v, int mask) {
        throw noShuffle();
    }

    /** The float form of {@link #shuffleXor(int, int)}. */
    public float shuffleXor(float v, int mask) {
        throw noShuffle();
    }

    /** CUDA {@code __shfl_down_sync(~0, v, delta)}: {@code v} of lane {@code lane + delta} (own value past the warp). */
    public int shuffleDown(int v, int delta) {
        throw noShuffle();
    }

    /** The float form of {@link #shuffleDown(int, int)}. */
    public float shuffleDown(float v, int delta) {
        throw noShuffle();
    }

    /** CUDA {@code __shfl_up_sync(~0, v, delta)}: {@code v} of lane {@code lane - delta} (own value below lane 0). */
    public int shuffleUp(int v, int delta) {
        throw noShuffle();
    }

    /** CUDA {@code __shfl_sync(~0, v, lane)}: {@code v} of lane {@code lane} of this warp. */
    public int shuffle(int v, int lane) {
        throw noShuffle();
    }

    /** The float form of {@link #shuffle(int, int)}. */
    public float shuffle(float v, int lane) {
        throw noShuffle();
    }

    private static UnsupportedOperationException noShuffle() {
        return new UnsupportedOperationException("warp shuffles run on CUDA only: guard them with ctx.hasWarpShuffle()");
    }

    /**
     * {@code bins[bin] += 1} in a local array, atomically: pkv.h's {@code LOCAL_HIST_INC}. On CUDA (sm_70 and later)
     * the lanes of a warp that hit the same bin add once together ({@code __match_any_sync}): histograms with one
     * dominant bin do not serialise on it. An {@code atomic_add} on OpenCL, an atomic add on the JVM.
     */
    public void histogramIncrement(int[] bins, int bin) {
        LOCAL_INTS.getAndAdd(bins, bin, 1);
    }

    /** {@link #histogramIncrement(int[], int)} on a global array (pkv.h's {@code HIST_INC}). */
    public void histogramIncrement(IntArray bins, int bin) {
        GLOBAL_INTS.getAndAdd(bins.segment(), 4L * bin, 1);
    }
}
