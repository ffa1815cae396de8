package org.pariskv.model.device;

import org.pariskv.compute.kernel.Constant;
import org.pariskv.compute.kernel.FloatArray;
import org.pariskv.compute.kernel.IntArray;
import org.pariskv.compute.kernel.Kernel;
import org.pariskv.compute.kernel.KernelContext;
import org.pariskv.compute.kernel.LongArray;
import org.pariskv.compute.kernel.ShortArray;

/**
 * The Llama forward pass as Java kernels (translated to OpenCL C / CUDA C at run time, run as they are on the java
 * backend): the device twin of {@code LlamaModel.forward}. Activations are f32 {@code [n][size]} row-major; weights
 * are bf16 bits ({@link ShortArray}) in the Hugging Face layout, one row per output.
 *
 * <p><b>Arithmetic.</b> Kernels build with strict FP, so each is bit-equal between the JVM executor and a device
 * except where it calls {@code exp}/{@code cos}/{@code sin} (the device's own, a few ulp from StrictMath; after the
 * f32 rounding almost always the same bits). Against the CPU model: {@link #rmsnorm} sums squares in f64 as
 * {@code LlamaModel.rmsnorm} does, so its scale matches to the last bit unless two f64 summation orders round
 * differently to f32; {@link #matvec} sums in f32 in a tree of {@link #GROUP} strided partials while the CPU sums in
 * SIMD lanes, so they differ by f32 rounding ({@code ~ cols * 2^-24 * sum|w x|} at worst).
 */
public final class ModelKernels {
    private ModelKernels() {}

    /** Work-items per group of the reducing kernels (a power of two). */
    public static final int GROUP = 128;

    /** {@code x[t][i] = table[tokens[t]][i]} widened from bf16: the embedding lookup of {@code n} tokens. */
    @Kernel
    public static void embedding(KernelContext ctx, ShortArray table, IntArray tokens, FloatArray x, int n, int dim) {
        int i = ctx.globalId(0);
        if (i >= n * dim) return;
        int t = i / dim;
        x.set(i, bf16(table.get((long) tokens.get(t) * dim + i % dim)));
    }

    /** Work-items of a norm's work-group for a model's hidden rows ({@link #rmsnorm}, {@link #addRmsnorm}). */
    public static final int NORM_GROUP = 1024;

    /**
     * {@code out[r] = weight * x[r] / rms(x[r])}, one work-group per row, any power-of-two group size up to
     * {@link #NORM_GROUP}: squares summed in f64 (strided partials, then a tree in local memory, the f64 bits kept
     * as two ints), as the CPU model. May run in place.
     */
    @Kernel
    public static void rmsnorm(KernelContext ctx, FloatArray out, FloatArray x, FloatArray weight, int size, float eps) {
        int[] hi = ctx.allocateIntLocalArray(NORM_GROUP);
        int[] lo = ctx.allocateIntLocalArray(NORM_GROUP);
        int lid = ctx.localId(0), group = ctx.localSize(0), base = ctx.groupId(0) * size;
        double ss = 0;
        for (int i = lid; i < size; i += group) {
            double v = x.get(base + i);
            ss += v * v;
        }
        float inv = rmsScale(ctx, hi, lo, lid, group, ss, size, eps);
        for (int i = lid; i < size; i += group) out.set(base + i, weight.get(i) * (x.get(base + i) * inv));
    }

    /**
     * The residual connection and the next norm in one pass: {@code x[r] += y[r]}, then {@code out[r] = weight *
     * x[r] / rms(x[r])} ({@link #rmsnorm}'s arithmetic), one work-group per row. Each work-item reads back only the
     * elements it added, so no barrier separates the two.
     */
    @Kernel
    public static void addRmsnorm(KernelContext ctx, FloatArray x, FloatArray y, FloatArray out, FloatArray weight, int size, float eps) {
        int[] hi = ctx.allocateIntLocalArray(NORM_GROUP);
        int[] lo = ctx.allocateIntLocalArray(NORM_GROUP);
        int lid = ctx.localId(0), group = ctx.localSize(0), base = ctx.groupId(0) * size;
        double ss = 0;
        for (int i = lid; i < size; i += group) {
            float sum = x.get(base + i) + y.get(base + i);
            x.set(base + i, sum);
            double v = sum;
            ss += v * v;
        }
        float inv = rmsScale(ctx, hi, lo, lid, group, ss, size, eps);
        for (int i = lid; i < size; i += group) out.set(base + i, weight.get(i) * (x.get(base + i) * inv));
    }

    /** {@code 1 / sqrt(mean + eps)} from each work-item's f64 partial sum of squares, reduced by a tree in local memory. */
    private static float rmsScale(KernelContext ctx, int[] hi, int[] lo, int lid, int group, double ss, int size, float eps) {
        store(hi, lo, lid, ss);
        ctx.barrier();
        for (int s = group / 2; s > 0; s >>= 1) {
            if (lid < s) store(hi, lo, lid, load(hi, lo, lid) + load(hi, lo, lid + s));
            ctx.barrier();
        }
        double total = load(hi, lo, 0);
        return (float) (1.0 / Math.sqrt((float) (total / size) + eps));
    }

    /**
     * {@code out[t][r] = W[r] · x[t]} for {@code n} input rows: one work-group per (input, output row), group id
     * {@code t * rows + r}. Each work-item sums a strided slice of the row in f32, then a tree in local memory.
     */
    @Kernel
    public static void matvec(KernelContext ctx, ShortArray w, FloatArray x, FloatArray out, int rows, int cols) {
        float[] scratch = ctx.allocateFloatLocalArray(GROUP);
        int lid = ctx.localId(0), g = ctx.groupId(0);
        int r = g % rows, t = g / rows;
        long wBase = (long) r * cols;
        int xBase = t * cols;
        float sum = 0;
        for (int c = lid; c < cols; c += GROUP) sum += bf16(w.get(wBase + c)) * x.get(xBase + c);
        scratch[lid] = sum;
        ctx.barrier();
        for (int s = GROUP / 2; s > 0; s >>= 1) {
            if (lid < s) scratch[lid] = scratch[lid] + scratch[lid + s];
            ctx.barrier();
        }
        if (lid == 0) out.set(g, scratch[0]);
    }

    /**
     * {@link #matvec} for {@code cols % 4 == 0}, reading four bf16 weights per 8-byte load (the row starts 8-byte
     * aligned): wider loads for the same bytes, as a GPU's memory system wants. Little-endian: weight {@code 4i + j}
     * is bits {@code 16j..16j+15} of long {@code i}.
     */
    @Kernel
    public static void matvec4(KernelContext ctx, LongArray w, FloatArray x, FloatArray out, int rows, int cols) {
        float[] scratch = ctx.allocateFloatLocalArray(GROUP);
        int lid = ctx.localId(0), g = ctx.groupId(0);
        int r = g % rows, t = g / rows, quads = cols / 4;
        long wBase = (long) r * quads;
        int xBase = t * cols;
        float sum = 0;
        for (int i = lid; i < quads; i += GROUP) {
            long four = w.get(wBase + i);
            int c = xBase + 4 * i;
            sum += bf16((short) four) * x.get(c);
            sum += bf16((short) (four >>> 16)) * x.get(c + 1);
            sum += bf16((short) (four >>> 32)) * x.get(c + 2);
            sum += bf16((short) (four >>> 48)) * x.get(c + 3);
        }
        scratch[lid] = sum;
        ctx.barrier();
        for (int s = GROUP / 2; s > 0; s >>= 1) {
            if (lid < s) scratch[lid] = scratch[lid] + scratch[lid + s];
            ctx.barrier();
        }
        if (lid == 0) out.set(g, scratch[0]);
    }

    /** Warps of a {@link #gemv} work-group (32 work-items each). */
    public static final int GEMV_WARPS = 4;
    /** Input rows one {@link #gemv} work-group multiplies with each weight it loads (a grid row per this many). */
    public static final int GEMV_BATCH = 8;
    /** Work-items of a {@link #gemv} work-group. */
    public static final int GEMV_THREADS = 32 * GEMV_WARPS;
    /** 16-byte weight loads each work-item has in flight before it uses them (rows per warp times column steps). */
    public static final int GEMV_LOADS = 4;

    /**
     * Output rows a {@link #gemv} warp computes for {@code n} input rows of {@code cols}: the fastest of 1, 2 and 4
     * in GemvSweep at Llama-3.1-8B's shapes on an H200 (profiles/results/2026-12-03-h200-model-speed-v3): 2 for one
     * row (1 for long rows, 14336 columns), 4 for a batch (each x load then serves 4 weights).
     */
    public static int gemvRowsPerWarp(int n, int cols) {
        return n > 1 ? 4 : cols > 8192 ? 1 : 2;
    }

    /** A norm's work-group size for rows of {@code size}: a power of two, 32 to {@link #NORM_GROUP}. */
    public static int normGroup(int size) {
        return Math.max(32, Math.min(NORM_GROUP, Integer.highestOneBit(Math.max(1, size))));
    }

    /** The grid of {@link #gemv} over {@code rows} outputs and {@code n} input rows of {@code cols}. */
    public static org.pariskv.compute.Grid gemvGrid(int n, int rows, int cols) {
        int perGroup = GEMV_WARPS * gemvRowsPerWarp(n, cols);
        return new org.pariskv.compute.Grid(new long[] {(long) ((rows + perGroup - 1) / perGroup) * GEMV_THREADS, (n + GEMV_BATCH - 1) / GEMV_BATCH},
                new long[] {GEMV_THREADS, 1});
    }

    /**
     * {@code out[t][r] = W[r] · x[t]} for {@code n} input rows, shaped for a GPU's memory system ({@link #gemvGrid}):
     * each warp computes {@code rowsPerWarp} output rows (several for a batch, so each x load serves several
     * weights), each work-item walking its row in 16-byte loads of 8 bf16 weights ({@code w} as ints: weight
     * {@code 2i} is the low half of int {@code i}), each weight used for up to {@link #GEMV_BATCH} input rows (grid
     * dimension 1 walks blocks of them), so a batch reads the weights once. {@code x} is the f32 input seen as ints.
     * {@code cols % 8 == 0}, compiled in with {@code rowsPerWarp}. Sums: {@code Math.fma} (one rounding, as the
     * device's fma) over each work-item's strided partials in a fixed order, then a butterfly over the warp
     * (shuffles on CUDA; elsewhere the same tree through local memory), so every backend gives the same bits.
     */
    @Kernel(restrict = true)
    public static void gemv(KernelContext ctx, IntArray w, IntArray x, FloatArray out, int n, int rows, @Constant int cols,
                            @Constant int rowsPerWarp) {
        float[] red = ctx.allocateFloatLocalArray(GEMV_THREADS);
        int lid = ctx.localId(0), lane = lid & 31;
        int r0 = (ctx.groupId(0) * GEMV_WARPS + (lid >> 5)) * rowsPerWarp;
        int t0 = ctx.groupId(1) * GEMV_BATCH;
        int nb = Math.min(GEMV_BATCH, n - t0);
        int quads = cols / 8;
        float[] acc = new float[rowsPerWarp * GEMV_BATCH];
        int[] wv = new int[4 * rowsPerWarp];
        int[] xv = new int[8];
        for (int q0 = 0; q0 < quads; q0 += 32) { // the same trip count on every lane (PoCL miscompiled a per-lane one)
            int q = q0 + lane;
            if (q >= quads) continue;
            for (int rr = 0; rr < rowsPerWarp; rr++) w.load4ReadOnly((long) Math.min(r0 + rr, rows - 1) * quads + q, wv, 4 * rr);
            for (int t = 0; t < GEMV_BATCH; t++) {
                if (t < nb) {
                    long xQuad = ((long) (t0 + t) * cols + 8L * q) / 4; // 4 floats a quad
                    x.load4ReadOnly(xQuad, xv, 0);
                    x.load4ReadOnly(xQuad + 1, xv, 4);
                    for (int rr = 0; rr < rowsPerWarp; rr++) {
                        float s = acc[rr * GEMV_BATCH + t];
                        for (int j = 0; j < 4; j++) {
                            s = Math.fma(Float.intBitsToFloat(wv[4 * rr + j] << 16), Float.intBitsToFloat(xv[2 * j]), s);
                            s = Math.fma(Float.intBitsToFloat(wv[4 * rr + j] & 0xffff0000), Float.intBitsToFloat(xv[2 * j + 1]), s);
                        }
                        acc[rr * GEMV_BATCH + t] = s;
                    }
                }
            }
        }
        for (int rr = 0; rr < rowsPerWarp; rr++) {
            for (int t = 0; t < GEMV_BATCH; t++) {
                float v = warpSum(ctx, red, lid, lane, acc[rr * GEMV_BATCH + t]);
                if (lane == 0 && r0 + rr < rows && t < nb) out.set((long) (t0 + t) * rows + r0 + rr, v);
            }
        }
    }

    /**
     * Rows a warp of {@link #gemvSwiglu} or {@link #gemvQkv} computes: {@link #gemvRowsPerWarp}'s choice, but at least
     * 2, since the epilogue combines the two rows of a pair (gate and up; the two coordinates RoPE rotates together).
     */
    public static int gemvPairRowsPerWarp(int n, int cols) {
        return Math.max(2, gemvRowsPerWarp(n, cols));
    }

    /** The grid of {@link #gemvSwiglu} or {@link #gemvQkv} over {@code rows} weight rows (both of every pair). */
    public static org.pariskv.compute.Grid gemvPairGrid(int n, int rows, int cols) {
        int perGroup = GEMV_WARPS * gemvPairRowsPerWarp(n, cols);
        return new org.pariskv.compute.Grid(new long[] {(long) ((rows + perGroup - 1) / perGroup) * GEMV_THREADS, (n + GEMV_BATCH - 1) / GEMV_BATCH},
                new long[] {GEMV_THREADS, 1});
    }

    /**
     * The MLP's gate and up projections and SwiGLU in one launch: {@code out[t][r] = silu(gate[r] · x[t]) * (up[r] ·
     * x[t])} over {@code ff} outputs, {@code w} holding the two matrices interleaved by rows (row {@code 2r} gate row
     * {@code r}, row {@code 2r + 1} up row {@code r}; {@code 2 ff} rows) so that a warp's even number of rows are
     * whole (gate, up) pairs. Each row's sum is {@link #gemv}'s (the same loads, fma order and {@link #warpSum}), the
     * epilogue {@link #swiglu}'s arithmetic: the bits of gemv(gate), gemv(up), swiglu. Grid {@link #gemvPairGrid}
     * over {@code 2 ff} rows; {@code rowsPerWarp} even ({@link #gemvPairRowsPerWarp}), {@code cols % 8 == 0}.
     */
    @Kernel(restrict = true)
    public static void gemvSwiglu(KernelContext ctx, IntArray w, IntArray x, FloatArray out, int n, int ff, @Constant int cols,
                                  @Constant int rowsPerWarp) {
        float[] red = ctx.allocateFloatLocalArray(GEMV_THREADS);
        int lid = ctx.localId(0), lane = lid & 31, rows = 2 * ff;
        int r0 = (ctx.groupId(0) * GEMV_WARPS + (lid >> 5)) * rowsPerWarp;
        int t0 = ctx.groupId(1) * GEMV_BATCH;
        int nb = Math.min(GEMV_BATCH, n - t0);
        int quads = cols / 8;
        float[] acc = new float[rowsPerWarp * GEMV_BATCH];
        int[] wv = new int[4 * rowsPerWarp];
        int[] xv = new int[8];
        for (int q0 = 0; q0 < quads; q0 += 32) { // gemv's loop
            int q = q0 + lane;
            if (q >= quads) continue;
            for (int rr = 0; rr < rowsPerWarp; rr++) w.load4ReadOnly((long) Math.min(r0 + rr, rows - 1) * quads + q, wv, 4 * rr);
            for (int t = 0; t < GEMV_BATCH; t++) {
                if (t < nb) {
                    long xQuad = ((long) (t0 + t) * cols + 8L * q) / 4;
                    x.load4ReadOnly(xQuad, xv, 0);
                    x.load4ReadOnly(xQuad + 1, xv, 4);
                    for (int rr = 0; rr < rowsPerWarp; rr++) {
                        float s = acc[rr * GEMV_BATCH + t];
                        for (int j = 0; j < 4; j++) {
                            s = Math.fma(Float.intBitsToFloat(wv[4 * rr + j] << 16), Float.intBitsToFloat(xv[2 * j]), s);
                            s = Math.fma(Float.intBitsToFloat(wv[4 * rr + j] & 0xffff0000), Float.intBitsToFloat(xv[2 * j + 1]), s);
                        }
                        acc[rr * GEMV_BATCH + t] = s;
                    }
                }
            }
        }
        for (int p = 0; p < rowsPerWarp / 2; p++) {
            int r = r0 / 2 + p;
            for (int t = 0; t < GEMV_BATCH; t++) {
                float gate = warpSum(ctx, red, lid, lane, acc[2 * p * GEMV_BATCH + t]);
                float up = warpSum(ctx, red, lid, lane, acc[(2 * p + 1) * GEMV_BATCH + t]);
                if (lane == 0 && r < ff && t < nb) out.set((long) (t0 + t) * ff + r, silu(gate) * up);
            }
        }
    }

    /**
     * The attention inputs in one launch, for any batch: {@code q[t] = Wq x[t]} ({@code [n][qRow]}), {@code k[t] = Wk
     * x[t]}, {@code v[t] = Wv x[t]} ({@code [n][kvRow]}), {@code w} the three matrices stacked by rows (q, k, v;
     * {@code qRow + 2 kvRow} rows), and with {@code rope} q and k rotated as {@link #ropeQk} rotates them. The warps
     * walk the stacked rows in an order that, within each head, interleaves coordinate {@code j} with {@code j +
     * headDim/2} (slot {@code 2j} row {@code j}, slot {@code 2j + 1} row {@code j + headDim/2}), so each warp holds
     * both rows of its RoPE pairs and rotates them in registers: one launch instead of four. Each row's sum is
     * {@link #gemv}'s, the rotation {@link #rotate}'s arithmetic: the bits of three gemvs and ropeQk (v, and q/k
     * without {@code rope}, as gemv writes them; Qwen3 norms the heads first, so it rotates after). Grid
     * {@link #gemvPairGrid} over the stacked rows; {@code rowsPerWarp} even, {@code cols % 8 == 0}; qRow and kvRow
     * multiples of {@code headDim}.
     */
    @Kernel(restrict = true)
    public static void gemvQkv(KernelContext ctx, IntArray w, IntArray x, FloatArray q, FloatArray k, FloatArray v, FloatArray invFreq,
                               IntArray positions, int n, int qRow, int kvRow, @Constant int headDim, @Constant int cols,
                               @Constant int rowsPerWarp, @Constant boolean rope) {
        float[] red = ctx.allocateFloatLocalArray(GEMV_THREADS);
        int lid = ctx.localId(0), lane = lid & 31, rows = qRow + 2 * kvRow, half = headDim / 2;
        int s0 = (ctx.groupId(0) * GEMV_WARPS + (lid >> 5)) * rowsPerWarp; // the warp's first slot (even)
        int t0 = ctx.groupId(1) * GEMV_BATCH;
        int nb = Math.min(GEMV_BATCH, n - t0);
        int quads = cols / 8;
        float[] acc = new float[rowsPerWarp * GEMV_BATCH];
        int[] wv = new int[4 * rowsPerWarp];
        int[] xv = new int[8];
        int[] wRow = new int[rowsPerWarp];
        for (int rr = 0; rr < rowsPerWarp; rr++) wRow[rr] = pairedRow(Math.min(s0 + rr, rows - 1), headDim);
        for (int q0 = 0; q0 < quads; q0 += 32) { // gemv's loop over the permuted rows
            int c = q0 + lane;
            if (c >= quads) continue;
            for (int rr = 0; rr < rowsPerWarp; rr++) w.load4ReadOnly((long) wRow[rr] * quads + c, wv, 4 * rr);
            for (int t = 0; t < GEMV_BATCH; t++) {
                if (t < nb) {
                    long xQuad = ((long) (t0 + t) * cols + 8L * c) / 4;
                    x.load4ReadOnly(xQuad, xv, 0);
                    x.load4ReadOnly(xQuad + 1, xv, 4);
                    for (int rr = 0; rr < rowsPerWarp; rr++) {
                        float s = acc[rr * GEMV_BATCH + t];
                        for (int j = 0; j < 4; j++) {
                            s = Math.fma(Float.intBitsToFloat(wv[4 * rr + j] << 16), Float.intBitsToFloat(xv[2 * j]), s);
                            s = Math.fma(Float.intBitsToFloat(wv[4 * rr + j] & 0xffff0000), Float.intBitsToFloat(xv[2 * j + 1]), s);
                        }
                        acc[rr * GEMV_BATCH + t] = s;
                    }
                }
            }
        }
        for (int p = 0; p < rowsPerWarp / 2; p++) {
            int slot = s0 + 2 * p, j = slot % headDim / 2;
            int a = slot - slot % headDim + j; // the stacked row of coordinate j; its partner is a + half
            for (int t = 0; t < GEMV_BATCH; t++) {
                float x0 = warpSum(ctx, red, lid, lane, acc[2 * p * GEMV_BATCH + t]);
                float x1 = warpSum(ctx, red, lid, lane, acc[(2 * p + 1) * GEMV_BATCH + t]);
                if (lane == 0 && slot < rows && t < nb) {
                    int tt = t0 + t;
                    if (a < qRow + kvRow && rope) { // rotate's arithmetic
                        float angle = positions.get(tt) * invFreq.get(j);
                        float cosA = (float) Math.cos(angle), sinA = (float) Math.sin(angle);
                        float y0 = x0 * cosA - x1 * sinA, y1 = x1 * cosA + x0 * sinA;
                        x0 = y0;
                        x1 = y1;
                    }
                    if (a < qRow) {
                        q.set((long) tt * qRow + a, x0);
                        q.set((long) tt * qRow + a + half, x1);
                    } else if (a < qRow + kvRow) {
                        k.set((long) tt * kvRow + a - qRow, x0);
                        k.set((long) tt * kvRow + a - qRow + half, x1);
                    } else {
                        v.set((long) tt * kvRow + a - qRow - kvRow, x0);
                        v.set((long) tt * kvRow + a - qRow - kvRow + half, x1);
                    }
                }
            }
        }
    }

    /** {@link #gemvQkv}'s order of the stacked rows: within each head, slot {@code 2j} is row {@code j}, {@code 2j + 1} row {@code j + headDim/2}. */
    private static int pairedRow(int slot, int headDim) {
        int i = slot % headDim;
        return slot - i + (i >> 1) + (i & 1) * (headDim / 2);
    }

    /**
     * The sum of {@code v} over the warp at lane 0: a butterfly of shuffles on CUDA, elsewhere the same tree through
     * {@code red} (((v0 + v16) + (v8 + v24)) + ...), so both give the same bits. Every work-item of the group calls it.
     */
    private static float warpSum(KernelContext ctx, float[] red, int lid, int lane, float v) {
        if (ctx.hasWarpShuffle()) {
            for (int off = 16; off > 0; off >>= 1) v += ctx.shuffleXor(v, off);
            return v;
        }
        red[lid] = v;
        ctx.barrier();
        for (int off = 16; off > 0; off >>= 1) {
            if (lane < off) red[lid] = red[lid] + red[lid + off];
            ctx.barrier();
        }
        float sum = red[lid];
        ctx.barrier();
        return sum;
    }

    /**
     * {@link #gemv} with each work-item's loads issued in rounds: {@link #GEMV_LOADS} 16-byte weight loads (over
     * {@code rowsPerWarp} rows and column steps) before any is used, the same sums in the same order.
     * {@code out[t][r] = W[r] · x[t]} for {@code n} input rows, as {@link #matvec} but shaped for a GPU's memory
     * system ({@link #gemvGrid}): each warp computes {@code rowsPerWarp} output rows (each weight loaded once for up
     * to {@link #GEMV_BATCH} input rows; several rows a warp so that a batch's x loads serve several weights), each
     * work-item loading 8 bf16 weights a 16-byte load ({@code w} as ints: weight {@code 2i} is the low half of int
     * {@code i}), {@link #GEMV_LOADS} of them in flight before it uses any. {@code x} is the f32 input seen as ints.
     * {@code cols % 8 == 0}; {@code cols} and {@code rowsPerWarp} are compiled in so the loops unroll. Sums: each
     * work-item's strided partials in f32, in a fixed order, then a butterfly over the warp (shuffles on CUDA;
     * elsewhere the same tree through local memory, so the JVM gives the same bits).
     */
    @Kernel(restrict = true)
    public static void gemvRounds(KernelContext ctx, IntArray w, IntArray x, FloatArray out, int n, int rows, @Constant int cols,
                                  @Constant int rowsPerWarp) {
        float[] red = ctx.allocateFloatLocalArray(GEMV_THREADS);
        int lid = ctx.localId(0), lane = lid & 31;
        int r0 = (ctx.groupId(0) * GEMV_WARPS + (lid >> 5)) * rowsPerWarp;
        int t0 = ctx.groupId(1) * GEMV_BATCH;
        int nb = Math.min(GEMV_BATCH, n - t0);
        int steps = GEMV_LOADS / rowsPerWarp; // column steps of 32 quads per round
        int quads = cols / 8, round = 32 * steps, full = quads / round * round;
        float[] acc = new float[rowsPerWarp * GEMV_BATCH];
        int[] wv = new int[4 * GEMV_LOADS];
        int[] xv = new int[8];
        for (int q0 = 0; q0 < quads; q0 += round) {
            for (int rr = 0; rr < rowsPerWarp; rr++) { // the round's loads first: several in flight
                long wRow = (long) Math.min(r0 + rr, rows - 1) * quads;
                for (int u = 0; u < steps; u++) {
                    int q = q0 + u * 32 + lane;
                    if (q0 < full || q < quads) w.load4ReadOnly(wRow + q, wv, 4 * (rr * steps + u));
                }
            }
            for (int u = 0; u < steps; u++) {
                int q = q0 + u * 32 + lane;
                if (q0 < full || q < quads) {
                    for (int t = 0; t < GEMV_BATCH; t++) {
                        if (t < nb) {
                            long xQuad = ((long) (t0 + t) * cols + 8L * q) / 4; // 4 floats a quad
                            x.load4ReadOnly(xQuad, xv, 0);
                            x.load4ReadOnly(xQuad + 1, xv, 4);
                            for (int rr = 0; rr < rowsPerWarp; rr++) {
                                int o = 4 * (rr * steps + u);
                                float s = acc[rr * GEMV_BATCH + t];
                                for (int j = 0; j < 4; j++) {
                                    s = Math.fma(Float.intBitsToFloat(wv[o + j] << 16), Float.intBitsToFloat(xv[2 * j]), s);
                                    s = Math.fma(Float.intBitsToFloat(wv[o + j] & 0xffff0000), Float.intBitsToFloat(xv[2 * j + 1]), s);
                                }
                                acc[rr * GEMV_BATCH + t] = s;
                            }
                        }
                    }
                }
            }
        }
        for (int rr = 0; rr < rowsPerWarp; rr++) {
            for (int t = 0; t < GEMV_BATCH; t++) {
                float v = warpSum(ctx, red, lid, lane, acc[rr * GEMV_BATCH + t]);
                if (lane == 0 && r0 + rr < rows && t < nb) out.set((long) (t0 + t) * rows + r0 + rr, v);
            }
        }
    }

    /**
     * Fills {@code w} ({@code n} bf16 values) with uniform values in {@code [-scale, scale)} from a counter-based
     * hash of {@code (seed, i)}: random weights generated where they are used, for speed runs at a real model's shape
     * without a checkpoint (a Llama-3.1-8B has 16 GB of them). The same seed gives the same bits on every backend.
     */
    @Kernel
    public static void randomBf16(KernelContext ctx, ShortArray w, long n, int seed, float scale) {
        long stride = (long) ctx.globalSize(0);
        for (long i = ctx.globalId(0); i < n; i += stride) {
            int h = mix((int) i * 0x9E3779B9 + seed) ^ mix((int) (i >>> 32) + seed * 31);
            float u = (h >>> 8) * (1f / 16777216f); // [0, 1)
            w.set(i, (short) (Float.floatToRawIntBits((2f * u - 1f) * scale) >>> 16));
        }
    }

    /** Murmur3's 32-bit finaliser: every input bit moves every output bit. */
    private static int mix(int h) {
        h ^= h >>> 16;
        h *= 0x85ebca6b;
        h ^= h >>> 13;
        h *= 0xc2b2ae35;
        return h ^ (h >>> 16);
    }

    /**
     * Rotary embedding in the Hugging Face {@code rotate_half} convention, in place over {@code rows x heads} heads of
     * {@code headDim}: coordinate {@code j} pairs with {@code j + headDim/2}; angle {@code positions[t] * invFreq[j]}
     * in f32 (the inverse frequencies come from the host, as {@code Rope} computes them).
     */
    @Kernel
    public static void rope(KernelContext ctx, FloatArray x, FloatArray invFreq, IntArray positions, int rows, int heads, int headDim) {
        int i = ctx.globalId(0);
        if (i < rows * heads * (headDim / 2)) rotate(x, invFreq, positions, i, heads, headDim);
    }

    /**
     * {@link #rope} over q ({@code rows x heads} heads) and k ({@code rows x kvHeads}) in one launch: work-items
     * below {@code rows * heads * headDim / 2} rotate q, the rest k, with the same arithmetic.
     */
    @Kernel
    public static void ropeQk(KernelContext ctx, FloatArray q, FloatArray k, FloatArray invFreq, IntArray positions, int rows, int heads,
                              int kvHeads, int headDim) {
        int half = headDim / 2;
        int i = ctx.globalId(0), nq = rows * heads * half;
        if (i >= nq + rows * kvHeads * half) return;
        if (i < nq) rotate(q, invFreq, positions, i, heads, headDim);
        else rotate(k, invFreq, positions, i - nq, kvHeads, headDim);
    }

    private static void rotate(FloatArray x, FloatArray invFreq, IntArray positions, int i, int heads, int headDim) {
        int half = headDim / 2;
        int j = i % half, h = (i / half) % heads, t = i / (half * heads);
        float angle = positions.get(t) * invFreq.get(j);
        // locals not named cos/sin: the generated C would shadow its cos()/sin() with them
        float cosA = (float) Math.cos(angle), sinA = (float) Math.sin(angle);
        int a = (t * heads + h) * headDim + j, b = a + half;
        float x0 = x.get(a), x1 = x.get(b);
        x.set(a, x0 * cosA - x1 * sinA);
        x.set(b, x1 * cosA + x0 * sinA);
    }

    /** {@code gate[i] = silu(gate[i]) * up[i]} (SwiGLU), in place. */
    @Kernel
    public static void swiglu(KernelContext ctx, FloatArray gate, FloatArray up, int n) {
        int i = ctx.globalId(0);
        if (i < n) gate.set(i, silu(gate.get(i)) * up.get(i));
    }

    /** {@code x[i] += y[i]} (the residual connection). */
    @Kernel
    public static void add(KernelContext ctx, FloatArray x, FloatArray y, int n) {
        int i = ctx.globalId(0);
        if (i < n) x.set(i, x.get(i) + y.get(i));
    }

    /** {@code x / (1 + e^-x)} with the exponential in f64, as the CPU model. */
    public static float silu(float x) {
        return (float) (x / (1.0 + Math.exp(-x)));
    }

    /** bf16 bits widened to f32. */
    public static float bf16(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    private static void store(int[] hi, int[] lo, int i, double v) {
        long bits = Double.doubleToRawLongBits(v);
        hi[i] = (int) (bits >>> 32);
        lo[i] = (int) bits;
    }

    private static double load(int[] hi, int[] lo, int i) {
        return Double.longBitsToDouble(((long) hi[i] << 32) | (lo[i] & 0xffffffffL));
    }
}
