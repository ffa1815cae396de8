package org.pariskv.device;

import static org.pariskv.device.DecodeLayout.*;

import org.pariskv.compute.kernel.Constant;
import org.pariskv.compute.kernel.FloatArray;
import org.pariskv.compute.kernel.IntArray;
import org.pariskv.compute.kernel.Kernel;
import org.pariskv.compute.kernel.KernelContext;
import org.pariskv.compute.kernel.KernelMath;
import org.pariskv.compute.kernel.ShortArray;
import org.pariskv.encode.Bf16;

/**
 * The attention kernels of {@code tasks/pariskv.c} in Java: {@code sparseAttention} and
 * {@code sparseAttentionStaged} (split over the token axis, flash-decoding style), with their helpers. Parameters
 * come in the C kernels' order, then the IntArray views of the key rows (the CUDA D = 128 path's 8-byte loads; bind
 * the same buffer as the ShortArray of keys, read as ints in native order), then the C's shape defines as
 * {@link Constant} parameters: {@code headDim} ({@code HEAD_DIM}), {@code group} ({@code GROUP}, at most
 * {@link DecodeLayout#ATT_MAX_GROUP}), {@code hkv} ({@code HKV}), {@code kmax} ({@code KMAX}), {@code attWindow}
 * ({@code ATT_WINDOW}) and {@code scale} ({@code AS_FLOAT(ROT_SCALE_BITS)}, 1/sqrt(D)). {@code AttentionKernelsTest}
 * holds them equal to the C kernels bit for bit on PoCL.
 *
 * <p>A row of the C chosen between two buffers ({@code ROW_OF}: the stream's K/V rows or its device window) is an
 * (array, offset) choice here: {@link #rowStart} and {@link #rowLoad}. {@code win} is a constant in each inlined copy
 * on CUDA (two calls, as the C's {@code #if PKV_CUDA}); OpenCL makes one call, since PoCL's work-group compiler does
 * not take barriers under a branch.
 */
public final class AttentionKernels {
    private AttentionKernels() {}

    /**
     * {@code sparseAttention}: grid (chunks, S) x {@link DecodeLayout#ATT_THREADS}. Work-group (c, s) attends the
     * {@code group} query heads of stream s over attended tokens {@code [c*chunk, (c+1)*chunk)} ({@code chunk <=
     * ATT_CHUNK}) and writes a partial (max, sum, acc[D]) per head. keys/values: bf16 rows [S][capTok][D];
     * winKeys/winValues: the device window [S][ringBase + ring][D] when ring > 0 ({@link DecodeTwins#windowSlot}).
     * keyWords, winKeyWords: keys and winKeys read as ints. Dense streams attend every token.
     */
    @Kernel(restrict = true)
    public static void sparseAttention(KernelContext ctx, FloatArray queries, ShortArray keys, ShortArray values,
                                       ShortArray winKeys, ShortArray winValues, IntArray plan, IntArray selected,
                                       IntArray selCount, FloatArray pmax, FloatArray psum, FloatArray pacc, int capTok,
                                       int maxChunks, int chunk, int ringBase, int ring, IntArray keyWords,
                                       IntArray winKeyWords, @Constant int headDim, @Constant int group,
                                       @Constant int hkv, @Constant int kmax, @Constant boolean attWindow,
                                       @Constant float scale) {
        ctx.awaitInputs();
        float[] qs = ctx.allocateFloatLocalArray(group * headDim);
        float[] prob = ctx.allocateFloatLocalArray(ATT_CHUNK * group);
        int[] tok = ctx.allocateIntLocalArray(ATT_CHUNK);
        float[] red = ctx.allocateFloatLocalArray(group * 2);
        int s = ctx.groupId(1);
        long w = (long) s * (ringBase + ring) * headDim;
        long kv = (long) s * capTok * headDim; // the stream's K and V rows
        boolean win = attWindow && ring > 0 && plan.get(s * PLAN_STRIDE + P_DENSE) == 0;
        if (ctx.hasWarpShuffle()) { // CUDA: two inlined copies, plain row addresses where there is no window
            if (win) {
                attentionChunk(ctx, queries, keys, values, winKeys, winValues, keyWords, winKeyWords, kv, kv, w, ringBase,
                        ring, true, plan, selected, selCount, pmax, psum, pacc, maxChunks, chunk, false, qs, prob, tok, red,
                        headDim, group, hkv, kmax, scale);
            } else {
                attentionChunk(ctx, queries, keys, values, keys, values, keyWords, keyWords, kv, kv, kv, ringBase, 0, false,
                        plan, selected, selCount, pmax, psum, pacc, maxChunks, chunk, false, qs, prob, tok, red, headDim,
                        group, hkv, kmax, scale);
            }
        } else { // one call: PoCL's work-group compiler does not take the body's barriers under a branch
            attentionChunk(ctx, queries, keys, values, winKeys, winValues, keyWords, winKeyWords, kv, kv, w, ringBase,
                    win ? ring : 0, win, plan, selected, selCount, pmax, psum, pacc, maxChunks, chunk, false, qs, prob, tok,
                    red, headDim, group, hkv, kmax, scale);
        }
    }

    /**
     * Exact attention of all-dense steps (every stream attends all its tokens), flash-decoding style: the grid and the
     * partials (max, sum, acc[D] per head and chunk) of {@link #sparseAttention}, so {@code attentionCombine} joins
     * them, but shaped for bandwidth: a row is read by {@code headDim / 8} work-items in 16-byte loads (8 bf16 each;
     * {@code keyWords}/{@code valueWords} are the K/V rows read as ints), each work-item has {@link
     * DecodeLayout#ATT_BATCH} rows' loads in flight before it uses any, every work-item takes part in the softmax, and
     * the values go the same way (16-byte loads, registers, then one sum over the row slots). {@code sparseAttention}
     * is latency-bound on long dense rows (a work-item a dimension, 2-byte loads; the softmax on {@code group}
     * work-items): about 1.2 TB/s on an H200 at 128K. Needs {@code headDim % 8 == 0}, {@code headDim / 8} a power of
     * two dividing the {@link DecodeLayout#ATT_THREADS} work-items of a group, and 16-byte aligned rows.
     */
    @Kernel(restrict = true)
    public static void denseAttention(KernelContext ctx, FloatArray queries, IntArray keyWords, IntArray valueWords, IntArray plan,
                                      FloatArray pmax, FloatArray psum, FloatArray pacc, int capTok, int maxChunks, int chunk,
                                      @Constant int headDim, @Constant int group, @Constant int hkv, @Constant float scale) {
        ctx.awaitInputs();
        float[] prob = ctx.allocateFloatLocalArray(DENSE_MAX_CHUNK * group);
        float[] red = ctx.allocateFloatLocalArray(ATT_THREADS * group);
        float[] slotAcc = ctx.allocateFloatLocalArray(8 * ATT_THREADS * group); // (slots x headDim) = 8 x threads, per head
        int t = ctx.localId(0), c = ctx.groupId(0), s = ctx.groupId(1);
        int rowLanes = headDim / 8, slots = ATT_THREADS / rowLanes, slot = t / rowLanes, lane = t % rowLanes;
        int b = s / hkv, h = s % hkv;
        int first = c * chunk;
        int nTok = Math.max(0, Math.min(chunk, plan.get(s * PLAN_STRIDE + P_LEN) - first)); // 0: past the stream's tokens
        long partBase = ((long) s * group) * maxChunks + c;
        long q = ((long) b * hkv * group + (long) h * group) * headDim + 8L * lane;
        long rowQuad = ((long) s * capTok + first) * (headDim / 8) + lane; // this work-item's 16 bytes of the chunk's first row
        float[] qv = new float[8 * ATT_MAX_GROUP];
        for (int g = 0; g < group; g++) {
            for (int j = 0; j < 8; j++) qv[g * 8 + j] = queries.get(q + (long) g * headDim + j);
        }
        // logits: slot i0 + u * slots + slot's row, ATT_BATCH rows' loads first
        int[] rw = new int[4 * ATT_BATCH];
        int step = slots * ATT_BATCH;
        for (int i0 = 0; i0 < chunk; i0 += step) { // the same trip count for the whole group (barriers in rowSum)
            for (int u = 0; u < ATT_BATCH; u++) {
                int i = i0 + u * slots + slot;
                if (i < nTok) keyWords.load4ReadOnly(rowQuad + (long) i * rowLanes, rw, 4 * u);
            }
            for (int u = 0; u < ATT_BATCH; u++) {
                int i = i0 + u * slots + slot;
                for (int g = 0; g < group; g++) {
                    float dot = 0f;
                    if (i < nTok) {
                        for (int j = 0; j < 4; j++) {
                            int word = rw[4 * u + j];
                            dot += qv[g * 8 + 2 * j] * Float.intBitsToFloat(word << 16) + qv[g * 8 + 2 * j + 1] * Float.intBitsToFloat(word & 0xffff0000);
                        }
                    }
                    dot = rowSum(ctx, red, t, lane, rowLanes, dot);
                    if (lane == 0 && i < nTok) prob[i * group + g] = dot * scale;
                }
            }
        }
        denseSoftmaxValues(ctx, prob, red, slotAcc, valueWords, pmax, psum, pacc, t, nTok, partBase, rowQuad, maxChunks, headDim, group);
    }

    /** The longest chunk of {@link #denseAttention} and {@link #denseAttentionRows} (their logits in local memory). */
    public static final int DENSE_MAX_CHUNK = 512;

    /**
     * The rest of {@link #denseAttention} and {@link #denseAttentionRows} once the chunk's logits are in {@code prob}:
     * the softmax on every work-item (max, exp in place, sum), then the values (each work-item 8 dims of its row
     * slot's rows, {@link DecodeLayout#ATT_BATCH} rows' loads in flight, one sum over the slots), the partials written.
     */
    private static void denseSoftmaxValues(KernelContext ctx, float[] prob, float[] red, float[] slotAcc, IntArray valueWords, FloatArray pmax,
                                           FloatArray psum, FloatArray pacc, int t, int nTok, long partBase, long rowQuad, int maxChunks,
                                           int headDim, int group) {
        int rowLanes = headDim / 8, slots = ATT_THREADS / rowLanes, slot = t / rowLanes, lane = t % rowLanes;
        int step = slots * ATT_BATCH;
        int[] rw = new int[4 * ATT_BATCH];
        ctx.barrier();
        // softmax over the chunk, every work-item: max, then e = exp(logit - max) in place and its sum
        for (int g = 0; g < group; g++) {
            float mx = Float.NEGATIVE_INFINITY;
            for (int i = t; i < nTok; i += ATT_THREADS) mx = Math.max(mx, prob[i * group + g]);
            red[g * ATT_THREADS + t] = mx;
        }
        ctx.barrier();
        for (int off = ATT_THREADS / 2; off > 0; off >>= 1) {
            if (t < off) {
                for (int g = 0; g < group; g++) red[g * ATT_THREADS + t] = Math.max(red[g * ATT_THREADS + t], red[g * ATT_THREADS + t + off]);
            }
            ctx.barrier();
        }
        float[] mxs = new float[ATT_MAX_GROUP];
        for (int g = 0; g < group; g++) mxs[g] = red[g * ATT_THREADS];
        ctx.barrier();
        for (int g = 0; g < group; g++) {
            float sum = 0f;
            for (int i = t; i < nTok; i += ATT_THREADS) {
                float e = KernelMath.exp(prob[i * group + g] - mxs[g]);
                prob[i * group + g] = e;
                sum += e;
            }
            red[g * ATT_THREADS + t] = sum;
        }
        ctx.barrier();
        for (int off = ATT_THREADS / 2; off > 0; off >>= 1) {
            if (t < off) {
                for (int g = 0; g < group; g++) red[g * ATT_THREADS + t] += red[g * ATT_THREADS + t + off];
            }
            ctx.barrier();
        }
        if (t < group) {
            pmax.set(partBase + (long) t * maxChunks, mxs[t]);
            psum.set(partBase + (long) t * maxChunks, red[t * ATT_THREADS]);
        }
        // values: each work-item sums its 8 dims of its slot's rows, for every head
        float[] acc = new float[8 * ATT_MAX_GROUP];
        for (int j = 0; j < 8 * group; j++) acc[j] = 0f;
        for (int i0 = 0; i0 < nTok; i0 += step) {
            for (int u = 0; u < ATT_BATCH; u++) {
                int i = i0 + u * slots + slot;
                if (i < nTok) valueWords.load4ReadOnly(rowQuad + (long) i * rowLanes, rw, 4 * u);
            }
            for (int u = 0; u < ATT_BATCH; u++) {
                int i = i0 + u * slots + slot;
                if (i < nTok) {
                    for (int g = 0; g < group; g++) {
                        float pr = prob[i * group + g];
                        for (int j = 0; j < 4; j++) {
                            int word = rw[4 * u + j];
                            acc[g * 8 + 2 * j] += pr * Float.intBitsToFloat(word << 16);
                            acc[g * 8 + 2 * j + 1] += pr * Float.intBitsToFloat(word & 0xffff0000);
                        }
                    }
                }
            }
        }
        for (int g = 0; g < group; g++) {
            for (int j = 0; j < 8; j++) slotAcc[(g * slots + slot) * headDim + 8 * lane + j] = acc[g * 8 + j];
        }
        ctx.barrier();
        for (int e = t; e < group * headDim; e += ATT_THREADS) {
            int g = e / headDim, dd = e % headDim;
            float sum = 0f;
            for (int sl = 0; sl < slots; sl++) sum += slotAcc[(g * slots + sl) * headDim + dd];
            pacc.set((partBase + (long) g * maxChunks) * headDim + dd, sum);
        }
    }

    /**
     * {@link #denseAttention} with the logits a row a work-item: each reads its key row whole ({@code headDim / 8}
     * 16-byte loads in flight) and dots it with every head's query from local memory, so no shuffles sum a row's
     * parts; the softmax and the values are {@link #denseAttention}'s. The same grid and partials.
     */
    @Kernel(restrict = true)
    public static void denseAttentionRows(KernelContext ctx, FloatArray queries, IntArray keyWords, IntArray valueWords, IntArray plan,
                                          FloatArray pmax, FloatArray psum, FloatArray pacc, int capTok, int maxChunks, int chunk,
                                          @Constant int headDim, @Constant int group, @Constant int hkv, @Constant float scale) {
        ctx.awaitInputs();
        float[] qs = ctx.allocateFloatLocalArray(group * headDim);
        float[] prob = ctx.allocateFloatLocalArray(DENSE_MAX_CHUNK * group);
        float[] red = ctx.allocateFloatLocalArray(ATT_THREADS * group);
        float[] slotAcc = ctx.allocateFloatLocalArray(8 * ATT_THREADS * group);
        int t = ctx.localId(0), c = ctx.groupId(0), s = ctx.groupId(1);
        int rowLanes = headDim / 8, lane = t % rowLanes;
        int b = s / hkv, h = s % hkv;
        int first = c * chunk;
        int nTok = Math.max(0, Math.min(chunk, plan.get(s * PLAN_STRIDE + P_LEN) - first));
        long partBase = ((long) s * group) * maxChunks + c;
        long q = ((long) b * hkv * group + (long) h * group) * headDim;
        long chunkQuad = ((long) s * capTok + first) * rowLanes; // the chunk's first row, in 16-byte units
        for (int i = t; i < group * headDim; i += ATT_THREADS) qs[i] = queries.get(q + i);
        ctx.barrier();
        int[] row = new int[headDim / 2];
        for (int i = t; i < nTok; i += ATT_THREADS) {
            for (int j = 0; j < rowLanes; j++) keyWords.load4ReadOnly(chunkQuad + (long) i * rowLanes + j, row, 4 * j);
            for (int g = 0; g < group; g++) {
                float dot = 0f;
                for (int w = 0; w < headDim / 2; w++) {
                    int word = row[w];
                    dot += qs[g * headDim + 2 * w] * Float.intBitsToFloat(word << 16) + qs[g * headDim + 2 * w + 1] * Float.intBitsToFloat(word & 0xffff0000);
                }
                prob[i * group + g] = dot * scale;
            }
        }
        denseSoftmaxValues(ctx, prob, red, slotAcc, valueWords, pmax, psum, pacc, t, nTok, partBase, chunkQuad + lane, maxChunks, headDim, group);
    }

    /**
     * The sum of {@code v} over the {@code rowLanes} work-items of a row (aligned, a power of two up to 32) at the
     * first of them: a butterfly of shuffles on CUDA, elsewhere the same tree through {@code red}, so both give the
     * same bits. Every work-item of the group calls it.
     */
    private static float rowSum(KernelContext ctx, float[] red, int t, int lane, int rowLanes, float v) {
        if (ctx.hasWarpShuffle()) {
            for (int off = rowLanes / 2; off > 0; off >>= 1) v += ctx.shuffleXor(v, off);
            return v;
        }
        red[t] = v;
        ctx.barrier();
        for (int off = rowLanes / 2; off > 0; off >>= 1) {
            if (lane < off) red[t] = red[t] + red[t + off];
            ctx.barrier();
        }
        float sum = red[t];
        ctx.barrier();
        return sum;
    }

    /**
     * {@code sparseAttentionStaged}: sparseAttention over rows the host gathered (K/V in host memory only). staged:
     * bf16, per stream in stream order its packed rows' keys [n_s][D] then values [n_s][D] ({@link #stagedCount});
     * stagedWords, winKeyWords: staged and winKeys read as ints. Same grid, same partials, same arithmetic.
     */
    @Kernel(restrict = true)
    public static void sparseAttentionStaged(KernelContext ctx, FloatArray queries, ShortArray staged, ShortArray winKeys,
                                             ShortArray winValues, IntArray plan, IntArray selected, IntArray selCount,
                                             FloatArray pmax, FloatArray psum, FloatArray pacc, int maxChunks, int chunk,
                                             int ringBase, int ring, IntArray stagedWords, IntArray winKeyWords,
                                             @Constant int headDim, @Constant int group, @Constant int hkv,
                                             @Constant int kmax, @Constant boolean attWindow, @Constant float scale) {
        ctx.awaitInputs();
        float[] qs = ctx.allocateFloatLocalArray(group * headDim);
        float[] prob = ctx.allocateFloatLocalArray(ATT_CHUNK * group);
        int[] tok = ctx.allocateIntLocalArray(ATT_CHUNK);
        float[] red = ctx.allocateFloatLocalArray(group * 2);
        int s = ctx.groupId(1);
        long base = 0; // rows (K and V) of the streams before s
        for (int u = 0; u < s; u++) base += 2 * (long) stagedCount(plan, u * PLAN_STRIDE, selCount, u, ring);
        int p = s * PLAN_STRIDE;
        long n = stagedCount(plan, p, selCount, s, ring);
        long k = base * headDim, v = k + n * headDim; // the stream's packed keys, then its values
        long w = (long) s * (ringBase + ring) * headDim;
        boolean win = attWindow && ring > 0 && plan.get(p + P_DENSE) == 0;
        if (ctx.hasWarpShuffle()) {
            if (win) {
                attentionChunk(ctx, queries, staged, staged, winKeys, winValues, stagedWords, winKeyWords, k, v, w, ringBase,
                        ring, true, plan, selected, selCount, pmax, psum, pacc, maxChunks, chunk, true, qs, prob, tok, red,
                        headDim, group, hkv, kmax, scale);
            } else {
                attentionChunk(ctx, queries, staged, staged, staged, staged, stagedWords, stagedWords, k, v, k, 0, 0, false,
                        plan, selected, selCount, pmax, psum, pacc, maxChunks, chunk, true, qs, prob, tok, red, headDim,
                        group, hkv, kmax, scale);
            }
        } else {
            attentionChunk(ctx, queries, staged, staged, winKeys, winValues, stagedWords, winKeyWords, k, v, w, ringBase,
                    win ? ring : 0, win, plan, selected, selCount, pmax, psum, pacc, maxChunks, chunk, true, qs, prob, tok,
                    red, headDim, group, hkv, kmax, scale);
        }
    }

    /**
     * {@code attention_chunk}, the body of both kernels: kRows/vRows from {@code kOff}/{@code vOff} are the stream's
     * bf16 K and V rows, kWin/vWin from {@code wOff} its device window, read when {@code win} (pass a constant where
     * the choice is made once per copy). staged false: row = {@link #attendedRow}; true: {@link #stagedRow}. kWords,
     * kWinWords: kRows and kWin read as ints (CUDA, D = 128).
     */
    static void attentionChunk(KernelContext ctx, FloatArray queries, ShortArray kRows, ShortArray vRows, ShortArray kWin,
                               ShortArray vWin, IntArray kWords, IntArray kWinWords, long kOff, long vOff, long wOff,
                               int ringBase, int ring, boolean win, IntArray plan, IntArray selected, IntArray selCount,
                               FloatArray pmax, FloatArray psum, FloatArray pacc, int maxChunks, int chunk, boolean staged,
                               float[] qs, float[] prob, int[] tok, float[] red, int headDim, int group, int hkv, int kmax,
                               float scale) {
        int t = ctx.localId(0), l = ctx.localSize(0), c = ctx.groupId(0), s = ctx.groupId(1);
        int b = s / hkv, h = s % hkv;
        int p = s * PLAN_STRIDE;
        int selN = plan.get(p + P_DENSE) != 0 ? 0 : selCount.get(s);
        int total = DecodeKernels.attendedCount(plan, p, selN);
        int first = c * chunk;
        int nTok = Math.max(0, Math.min(chunk, total - first)); // 0: this chunk is past the stream's tokens
        long partBase = ((long) s * group) * maxChunks + c;
        long q = ((long) b * hkv * group + (long) h * group) * headDim;
        for (int i = t; i < group * headDim; i += l) qs[i] = queries.get(q + i);
        long sel = (long) s * kmax;
        for (int i = t; i < nTok; i += l) {
            tok[i] = staged ? stagedRow(plan, p, selected, sel, selN, first + i, ringBase, ring)
                    : attendedRow(plan, p, selected, sel, selN, first + i, ringBase, ring);
        }
        ctx.barrier();
        // pariskv.c's #if PKV_HAS_WARP_SHUFFLE && HEAD_DIM == 128 && ATT_THREADS == HEAD_DIM: constants where translated
        boolean d128 = ctx.hasWarpShuffle() && headDim == 128 && ATT_THREADS == headDim;
        boolean prefetch = chunk <= ATT_PREFETCH;
        float[] vpre = new float[ATT_PREFETCH];
        float[] dots = new float[ATT_MAX_GROUP];
        if (d128) {
            // CUDA, D = 128: a sparse chunk's rows are fetched all at once. Thread t prefetches dim t of every value
            // row (chunks of at most ATT_PREFETCH tokens), then each warp takes tokens ATT_BATCH at a time, a lane
            // reading 4 dims of a key row in one 8-byte load; the logits' latency then overlaps the values'.
            if (prefetch) {
                for (int i = 0; i < ATT_PREFETCH; i++) {
                    vpre[i] = i < nTok ? Bf16.toFloat(rowLoad(vRows, vWin, rowStart(vOff, wOff, tok[i], headDim, win) + t,
                            win && tok[i] < 0, win)) : 0f;
                }
            }
            int lane = t & 31, warp = t >> 5, warps = l >> 5;
            float[] qv = new float[ATT_MAX_GROUP * 4];
            for (int g = 0; g < group; g++) {
                for (int u = 0; u < 4; u++) qv[g * 4 + u] = qs[g * headDim + lane * 4 + u];
            }
            int[] kr = new int[2 * ATT_BATCH]; // uint2 kr[ATT_BATCH]: .x at 2u, .y at 2u + 1
            for (int i0 = warp; i0 < nTok; i0 += warps * ATT_BATCH) {
                for (int u = 0; u < ATT_BATCH; u++) {
                    int i = i0 + u * warps;
                    if (i < nTok) {
                        int r = tok[i];
                        long pair = rowPair(kOff, wOff, r, headDim, win) + lane; // the row's uint2 of this lane
                        if (!win) kWords.load2(pair, kr, 2 * u);
                        else if (r < 0) kWinWords.load2ReadOnly(pair, kr, 2 * u);
                        else kWords.load2ReadOnly(pair, kr, 2 * u);
                    } else {
                        kr[2 * u] = 0;
                        kr[2 * u + 1] = 0;
                    }
                }
                for (int u = 0; u < ATT_BATCH; u++) {
                    int i = i0 + u * warps;
                    if (i >= nTok) break; // the same for the whole warp
                    int x = kr[2 * u], y = kr[2 * u + 1];
                    float k0 = Bf16.toFloat((short) x), k1 = Bf16.toFloat((short) (x >>> 16));
                    float k2 = Bf16.toFloat((short) y), k3 = Bf16.toFloat((short) (y >>> 16));
                    for (int g = 0; g < group; g++) {
                        float v = qv[g * 4] * k0 + qv[g * 4 + 1] * k1 + qv[g * 4 + 2] * k2 + qv[g * 4 + 3] * k3;
                        for (int off = 16; off > 0; off >>= 1) v += ctx.shuffleXor(v, off);
                        if (lane == 0) prob[i * group + g] = v * scale;
                    }
                }
            }
        } else if (ctx.hasWarpShuffle()) {
            // logits: one warp per token, lanes split the row (coalesced), shuffles reduce the group's dots
            int lane = t & 31, warp = t >> 5, warps = l >> 5;
            for (int i = warp; i < nTok; i += warps) {
                int r = tok[i];
                long row = rowStart(kOff, wOff, r, headDim, win);
                boolean inWin = win && r < 0;
                for (int g = 0; g < group; g++) dots[g] = 0f;
                for (int dd = lane; dd < headDim; dd += 32) {
                    float kv = Bf16.toFloat(rowLoad(kRows, kWin, row + dd, inWin, win));
                    for (int g = 0; g < group; g++) dots[g] += qs[g * headDim + dd] * kv;
                }
                for (int g = 0; g < group; g++) {
                    float v = dots[g];
                    for (int off = 16; off > 0; off >>= 1) v += ctx.shuffleXor(v, off);
                    if (lane == 0) prob[i * group + g] = v * scale;
                }
            }
        } else {
            // logits: one token per work-item, all the group's heads at once (each key row is read once)
            for (int i = t; i < nTok; i += l) {
                int r = tok[i];
                long row = rowStart(kOff, wOff, r, headDim, win);
                boolean inWin = win && r < 0;
                for (int g = 0; g < group; g++) dots[g] = 0f;
                for (int dd = 0; dd < headDim; dd++) {
                    float kv = Bf16.toFloat(rowLoad(kRows, kWin, row + dd, inWin, win));
                    for (int g = 0; g < group; g++) dots[g] += qs[g * headDim + dd] * kv;
                }
                for (int g = 0; g < group; g++) prob[i * group + g] = dots[g] * scale;
            }
        }
        ctx.barrier();
        // per head: max and exp-sum over the chunk
        if (t < group) {
            float mx = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < nTok; i++) mx = Math.max(mx, prob[i * group + t]);
            float sum = 0f;
            for (int i = 0; i < nTok; i++) {
                float e = KernelMath.exp(prob[i * group + t] - mx);
                prob[i * group + t] = e;
                sum += e;
            }
            red[t] = mx;
            red[group + t] = sum;
        }
        ctx.barrier();
        // values: work-item d accumulates dim d for every head
        float[] accv = new float[ATT_MAX_GROUP];
        if (d128 && prefetch) {
            // the rows are in registers: the same sums in the same order
            for (int g = 0; g < group; g++) accv[g] = 0f;
            for (int i = 0; i < ATT_PREFETCH && i < nTok; i++) {
                for (int g = 0; g < group; g++) accv[g] += prob[i * group + g] * vpre[i];
            }
            for (int g = 0; g < group; g++) pacc.set((partBase + (long) g * maxChunks) * headDim + t, accv[g]);
        } else {
            float[] vv = new float[ATT_BATCH];
            for (int dd = t; dd < headDim; dd += l) {
                for (int g = 0; g < group; g++) accv[g] = 0f;
                for (int i0 = 0; i0 < nTok; i0 += ATT_BATCH) { // ATT_BATCH row loads in flight, then summed in order
                    for (int u = 0; u < ATT_BATCH; u++) {
                        vv[u] = i0 + u < nTok ? Bf16.toFloat(rowLoad(vRows, vWin,
                                rowStart(vOff, wOff, tok[i0 + u], headDim, win) + dd, win && tok[i0 + u] < 0, win)) : 0f;
                    }
                    for (int u = 0; u < ATT_BATCH && i0 + u < nTok; u++) {
                        for (int g = 0; g < group; g++) accv[g] += prob[(i0 + u) * group + g] * vv[u];
                    }
                }
                for (int g = 0; g < group; g++) pacc.set((partBase + (long) g * maxChunks) * headDim + dd, accv[g]);
            }
        }
        if (t < group) {
            pmax.set(partBase + (long) t * maxChunks, red[t]);
            psum.set(partBase + (long) t * maxChunks, red[group + t]);
        }
    }

    /**
     * {@code ROW_AT}: the first element of row {@code r} (an attended row, {@link #attendedRow} or
     * {@link #stagedRow}): with {@code win}, {@code r < 0} is window row {@code -(r + 1)} from {@code wOff}; else (and
     * always without {@code win}) row {@code r} of the stream's rows from {@code off}.
     */
    static long rowStart(long off, long wOff, int r, int headDim, boolean win) {
        return win && r < 0 ? wOff + (long) (-r - 1) * headDim : off + (long) r * headDim;
    }

    /**
     * {@link #rowStart} / 4, the row's first int2 in an int view: from the offsets' quarters (every offset and row is a
     * multiple of 4 elements, so it is the same index). nvcc did not fold {@code (rowStart >> 2)}'s shift into the
     * int2's address: two 64-bit shifts a key load more than pariskv.c's pointer arithmetic.
     */
    static long rowPair(long off, long wOff, int r, int headDim, boolean win) {
        return win && r < 0 ? (wOff >> 2) + (long) (-r - 1) * (headDim >> 2) : (off >> 2) + (long) r * (headDim >> 2);
    }

    /**
     * {@code ROW_LOAD}: element {@code at} of the window ({@code inWin}) or of the rows, through the read-only path
     * (CUDA {@code __ldg}) where the row was chosen between two buffers ({@code win}), plainly elsewhere.
     */
    static short rowLoad(ShortArray rows, ShortArray winRows, long at, boolean inWin, boolean win) {
        if (!win) return rows.get(at);
        return inWin ? winRows.getReadOnly(at) : rows.getReadOnly(at);
    }

    /**
     * {@code attended_token}: the token at canonical index {@code i} of stream row {@code p}: sink, then retrieved
     * ({@code selected[sel ..]}, zone indices), then local (or all, dense).
     */
    static int attendedToken(IntArray plan, int p, IntArray selected, long sel, int selN, int i) {
        if (plan.get(p + P_DENSE) != 0) return i;
        int sinkEnd = plan.get(p + P_SINK_END);
        if (i < sinkEnd) return i;
        if (i < sinkEnd + selN) return plan.get(p + P_ZONE_START) + selected.get(sel + (i - sinkEnd));
        return plan.get(p + P_ZONE_END) + (i - sinkEnd - selN);
    }

    /**
     * {@code attended_index}: the canonical index of attended position {@code i}. A sparse step spreads its top-k
     * rows evenly over the positions (position i holds one when floor((i + 1) selN / n) > floor(i selN / n)), the sink
     * and local rows in order between them.
     */
    static int attendedIndex(IntArray plan, int p, int selN, int i) {
        if (plan.get(p + P_DENSE) != 0) return i;
        int n = DecodeKernels.attendedCount(plan, p, selN);
        int before = (int) ((long) i * selN / n); // top-k rows at positions below i
        int sinkEnd = plan.get(p + P_SINK_END);
        if ((int) ((long) (i + 1) * selN / n) > before) return sinkEnd + before;
        int w = i - before; // the w-th sink or local row
        return w < sinkEnd ? w : w + selN;
    }

    /**
     * {@code attended_row}: attended position {@code i}'s row: {@code >= 0} a token of the K/V rows, {@code < 0}
     * {@code -(slot + 1)} in the device window (ring > 0: the sink and local rows of a sparse step).
     */
    static int attendedRow(IntArray plan, int p, IntArray selected, long sel, int selN, int i, int ringBase, int ring) {
        int j = attendedIndex(plan, p, selN, i);
        int tok = attendedToken(plan, p, selected, sel, selN, j);
        if (ring == 0 || plan.get(p + P_DENSE) != 0) return tok;
        int sinkEnd = plan.get(p + P_SINK_END);
        if (j < sinkEnd || j >= sinkEnd + selN) return -(DecodeTwins.windowSlot(tok, ringBase, ring) + 1);
        return tok;
    }

    /**
     * {@code staged_row}: attended position {@code i}'s row over staged rows: {@code >= 0} its row in the stream's
     * packed block, {@code < 0} {@code -(slot + 1)} in the device window (ring > 0: the sink and local rows of a
     * sparse step; the block then holds the top-k rows only).
     */
    static int stagedRow(IntArray plan, int p, IntArray selected, long sel, int selN, int i, int ringBase, int ring) {
        int j = attendedIndex(plan, p, selN, i);
        if (ring == 0 || plan.get(p + P_DENSE) != 0) return j;
        int sinkEnd = plan.get(p + P_SINK_END);
        if (j >= sinkEnd && j < sinkEnd + selN) return j - sinkEnd;
        return -(DecodeTwins.windowSlot(attendedToken(plan, p, selected, sel, selN, j), ringBase, ring) + 1);
    }

    /**
     * {@code staged_count}: the packed rows of stream {@code s} (plan row {@code p}): every row when dense, with a
     * device window (ring > 0) its top-k rows only, else its attended rows.
     */
    static int stagedCount(IntArray plan, int p, IntArray selCount, int s, int ring) {
        if (plan.get(p + P_DENSE) != 0) return plan.get(p + P_LEN);
        return ring > 0 ? selCount.get(s) : DecodeKernels.attendedCount(plan, p, selCount.get(s));
    }
}
