package org.pariskv.device;

import static org.pariskv.device.DecodeLayout.*;

import org.pariskv.compute.kernel.Constant;
import org.pariskv.compute.kernel.FloatArray;
import org.pariskv.compute.kernel.IntArray;
import org.pariskv.compute.kernel.Kernel;
import org.pariskv.compute.kernel.KernelContext;

/**
 * The top-k kernels of {@code tasks/pariskv.c} ({@code topKSlice}, {@code topK} and their helpers) written in Java,
 * step for step: the same batched loads into private arrays ({@link DecodeLayout#SB_BATCH}, the
 * {@link DecodeLayout#TOPK_PREFETCH} estimates loaded before the boundary bucket is known), the same barriers, and
 * {@code LOCAL_HIST_INC} as {@link KernelContext#histogramIncrement}. {@code TopKKernelsTest} holds each equal to its C
 * original on PoCL and on the JVM. pariskv.c's shape defines ({@code NQ}, {@code KMAX}) are trailing
 * {@link Constant} parameters; its pointer offsets ({@code est + qi * cap}, {@code hp + 256}, {@code ctl + 3}) are
 * (array, offset) pairs. A {@code uint} of the C is an {@code int} here; where the C compares two of them, the port
 * compares them with the sign bit flipped. The ranking helpers ({@code split_of}, {@code order_ints},
 * {@code ascending_index}), {@code exclusive_scan_256} and the bucket of an estimate are those of
 * {@link DecodeKernels} and {@link DecodeTwins#estBin}.
 */
public final class TopKKernels {
    private TopKKernels() {}

    /**
     * {@code topKSlice}: the first stage of TopK.ranked for long candidate lists. Work-group (c, qi) keeps the
     * {@code min(P_K, kFull, m)} best of candidates {@code [c * TOPK_SLICE, (c + 1) * TOPK_SLICE)} of query
     * {@code qi} and writes them in candidate order with their estimates to {@code partEst/partTok[qi * slices * kFull
     * + c * kFull ..]}, their number to {@code partCount[qi * slices + c]}. Grid: (slices, S * nq) groups of L = 256 or
     * 1024 work-items (a power of two, 32..1024).
     */
    @Kernel
    public static void topKSlice(KernelContext ctx, FloatArray est, IntArray cand, IntArray candCount, IntArray plan,
                                 FloatArray partEst, IntArray partTok, IntArray partCount, int cap, int slices, int kFull,
                                 @Constant int nq) {
        ctx.awaitInputs();
        int[] hp = ctx.allocateIntLocalArray(EST_BINS);
        int[] itemKey = ctx.allocateIntLocalArray(TOPK_CAP);
        int[] itemPos = ctx.allocateIntLocalArray(TOPK_CAP);
        int[] part = ctx.allocateIntLocalArray(TOPK_CAP);
        int[] sel = ctx.allocateIntLocalArray(4);
        int[] ctl = ctx.allocateIntLocalArray(4);
        int t = ctx.localId(0), l = ctx.localSize(0), c = ctx.groupId(0), qi = ctx.groupId(1);
        int s = qi / nq;
        int from = c * TOPK_SLICE;
        int m = Math.max(0, Math.min(TOPK_SLICE, candCount.get(qi) - from));
        // rows are kFull = min(configured top-k, TOPK_SLICE) wide for every query, whatever its own plan's k
        int k = Math.min(Math.min(plan.get(s * PLAN_STRIDE + P_K), kFull), m);
        if (t == 0) partCount.set(qi * slices + c, k);
        if (k == 0) return;
        long e = (long) qi * cap + from;
        float[] pre = new float[TOPK_PREFETCH];
        for (int u = 0; u < TOPK_PREFETCH; u++) pre[u] = t + u * l < m ? est.get(e + t + u * l) : 0f;
        for (int i = t; i < EST_BINS; i += l) hp[i] = 0;
        ctx.barrier();
        for (int i = t; i < m; i += l) ctx.histogramIncrement(hp, DecodeTwins.estBin(i < TOPK_PREFETCH * l ? pre[(i - t) / l] : est.get(e + i)));
        ctx.barrier();
        selectTop(ctx, est, e, m, k, hp, itemKey, itemPos, part, sel, ctl, pre);
        DecodeKernels.orderInts(ctx, hp, k, part, TOPK_CAP); // back to candidate order
        long out = (long) qi * slices * kFull + (long) c * kFull;
        for (int i = t; i < k; i += l) {
            int r = DecodeKernels.ascendingIndex(ctx, part, k, TOPK_CAP, i), p = hp[i];
            partEst.set(out + r, est.get(e + p));
            partTok.set(out + r, cand.get((long) qi * cap + from + p));
        }
    }

    /**
     * {@code topK}: TopK.ranked. The k best of query {@code qi}'s candidates, best first, in
     * {@code ranked[qi * kmax ..]}, their number in {@code rankedCount[qi]}; with {@code nq == 1} also the stream's
     * selection (that list in token order, {@code selected[s * kmax ..]}, {@code selCount[s]}). {@code slices == 0}:
     * straight from rerank's output (est/cand rows of {@code stride}, counts = candCount); {@code slices > 0}: from
     * topKSlice's lists (counts = partCount, summed over the slices). Either way {@code estHist} holds rerank's bucket
     * counts of the query's candidates. Grid: S * nq groups of L = 256 or 1024 work-items (a power of two, 32..1024).
     */
    @Kernel
    public static void topK(KernelContext ctx, FloatArray est, IntArray cand, IntArray counts, IntArray estHist, IntArray plan,
                            IntArray ranked, IntArray rankedCount, IntArray selected, IntArray selCount, int stride, int slices,
                            @Constant int nq, @Constant int kmax) {
        ctx.awaitInputs();
        int[] hp = ctx.allocateIntLocalArray(EST_BINS);
        int[] itemKey = ctx.allocateIntLocalArray(TOPK_CAP);
        int[] itemPos = ctx.allocateIntLocalArray(TOPK_CAP);
        int[] part = ctx.allocateIntLocalArray(TOPK_CAP);
        int[] sel = ctx.allocateIntLocalArray(4);
        int[] ctl = ctx.allocateIntLocalArray(4);
        int[] total = ctx.allocateIntLocalArray(1);
        int t = ctx.localId(0), l = ctx.localSize(0), qi = ctx.groupId(0);
        int s = qi / nq;
        int planK = plan.get(s * PLAN_STRIDE + P_K);
        // the first estimates are loaded now (rows hold `stride`: in bounds whatever m is), so they arrive with the buckets
        long e = (long) qi * stride;
        float[] pre = new float[TOPK_PREFETCH];
        for (int u = 0; u < TOPK_PREFETCH; u++) pre[u] = t + u * l < stride ? est.get(e + t + u * l) : 0f;
        // each work-item loads the buckets estBoundary has it own (no barrier), while work-item 0 sums the counts
        int per = EST_BINS / l;
        for (int b = t * per; b < (t + 1) * per; b++) hp[b] = estHist.get((long) qi * EST_BINS + b);
        if (t == 0) {
            int m = 0;
            if (slices == 0) m = counts.get(qi);
            else for (int c = 0; c < slices; c++) m += counts.get(qi * slices + c);
            total[0] = m;
        }
        ctx.barrier();
        int m = total[0];
        int k = Math.min(planK, m);
        if (t == 0) rankedCount.set(qi, k);
        if (nq == 1 && t == 0) selCount.set(s, k);
        if (k == 0) return;
        selectTop(ctx, est, e, m, k, hp, itemKey, itemPos, part, sel, ctl, pre);
        long c = (long) qi * stride;
        for (int i = t; i < k; i += l) {
            int tok = cand.get(c + hp[i]);
            ranked.set((long) qi * kmax + i, tok);
            itemPos[i] = tok;
        }
        if (nq == 1) { // one list per stream: the selection is that list in token order, so mergeSelection need not run
            ctx.barrier();
            DecodeKernels.orderInts(ctx, itemPos, k, part, TOPK_CAP);
            for (int i = t; i < k; i += l) selected.set((long) s * kmax + DecodeKernels.ascendingIndex(ctx, part, k, TOPK_CAP, i), itemPos[i]);
        }
    }

    /**
     * {@code select_top}: the k best of the m estimates {@code est[e ..]} (highest first, equal estimates by lower
     * position), their positions best first in {@code hp[0..k)}. On entry hp holds the bucket counts; the buckets down
     * to the k-th's are gathered and ranked within their buckets, or, when they hold more than {@code TOPK_CAP} items
     * or one of them more than {@code TOPK_BUCKET} (ties, flat estimates), radix select finds the k. {@code pre[u]}
     * holds {@code est[e + t + u L]} for {@code u < TOPK_PREFETCH}. The whole group calls it.
     */
    static void selectTop(KernelContext ctx, FloatArray est, long e, int m, int k, int[] hp, int[] itemKey, int[] itemPos,
                          int[] part, int[] sel, int[] ctl, float[] pre) {
        int n = estBoundary(ctx, hp, k, part, ctl);
        // one value, then one branch: an `if (a && b) {...} else {...}` has its else arm reached from two places, and the
        // translator writes that arm (the whole radix select, inlined) once for each
        boolean bucketed = n <= TOPK_CAP && ctl[2] <= TOPK_BUCKET;
        if (bucketed) {
            int beta = ctl[0];
            gatherBuckets(ctx, est, e, m, beta, hp, itemKey, itemPos, pre);
            rankItems(ctx, itemKey, itemPos, Math.min(hp[beta], TOPK_CAP), k, hp, false, part);
        } else {
            selectBest(ctx, est, e, m, k, hp, hp, 256, sel, itemKey, itemPos, ctl, 3);
            rankItems(ctx, itemKey, itemPos, k, k, hp, true, part);
        }
    }

    /**
     * {@code est_boundary}: the bucket of the k-th best. {@code hp[0..EST_BINS)} holds the bucket counts, a work-item
     * owning {@code EST_BINS / L} consecutive buckets; on return {@code hp[b]} = the items in buckets before b. Returns
     * the items in the buckets down to the k-th's ({@code Integer.MAX_VALUE} when the counts hold fewer than k), that
     * bucket in {@code ctl[0]}, the largest of those buckets in {@code ctl[2]}. {@code part}: L + L / 32 ints of
     * scratch. Three barriers.
     */
    static int estBoundary(KernelContext ctx, int[] hp, int k, int[] part, int[] ctl) {
        int t = ctx.localId(0), l = ctx.localSize(0);
        int per = EST_BINS / l, b0 = t * per;
        int mine = 0;
        for (int c = 0; c < per; c++) mine += hp[b0 + c];
        part[t] = mine;
        if (t == 0) {
            ctl[1] = Integer.MAX_VALUE;
            ctl[2] = 0;
        }
        ctx.barrier();
        if (t < l / 32) { // lane t starts at word t of its row: no two lanes on one bank
            int g = 0;
            for (int i = 0; i < 32; i++) g += part[t * 32 + ((i + t) & 31)];
            part[l + t] = g;
        }
        ctx.barrier();
        int before = 0;
        for (int g = 0; g < t / 32; g++) before += part[l + g];
        for (int i = t & ~31; i < t; i++) before += part[i];
        int widest = 0;
        for (int c = 0; c < per; c++) {
            int h = hp[b0 + c];
            if (before < k) widest = Math.max(widest, h); // a bucket down to the k-th's
            if (before < k && before + h >= k) {
                ctl[0] = b0 + c;
                ctl[1] = before + h;
            }
            hp[b0 + c] = before;
            before += h;
        }
        if (widest > 0) ctx.atomicMax(ctl, 2, widest);
        ctx.barrier();
        return ctl[1];
    }

    /**
     * {@code gather_buckets}: one pass over the m estimates {@code est[e ..]}: every item of the buckets down to
     * {@code beta} goes to its bucket's next slot ({@code hp[b]}, counted up) as (desc key, position). Afterwards
     * {@code hp[b]} is bucket b's end. {@code pre}: the caller's first {@code TOPK_PREFETCH} loads.
     */
    static void gatherBuckets(KernelContext ctx, FloatArray est, long e, int m, int beta, int[] hp, int[] itemKey,
                              int[] itemPos, float[] pre) {
        int t = ctx.localId(0), l = ctx.localSize(0);
        for (int u = 0; u < TOPK_PREFETCH; u++) { // est[e + t + u L], loaded by the caller
            int i = t + u * l;
            int key = descKey(pre[u]);
            if (i < m && estBinOfKey(key) <= beta) {
                int slot = ctx.atomicAdd(hp, estBinOfKey(key), 1);
                if (slot < TOPK_CAP) {
                    itemKey[slot] = key;
                    itemPos[slot] = i;
                }
            }
        }
        int[] kk = new int[SB_BATCH];
        for (int i0 = t + TOPK_PREFETCH * l; i0 < m; i0 += SB_BATCH * l) { // SB_BATCH loads in flight, then their buckets
            for (int u = 0; u < SB_BATCH; u++) kk[u] = i0 + u * l < m ? descKey(est.get(e + i0 + u * l)) : 0xffffffff;
            for (int u = 0; u < SB_BATCH; u++) {
                int b = estBinOfKey(kk[u]);
                if (i0 + u * l < m && b <= beta) {
                    int slot = ctx.atomicAdd(hp, b, 1);
                    if (slot < TOPK_CAP) {
                        itemKey[slot] = kk[u];
                        itemPos[slot] = i0 + u * l;
                    }
                }
            }
        }
        ctx.barrier();
    }

    /**
     * {@code rank_items}: ranks n items (desc key, position) best first, ascending (key unsigned, position), into
     * {@code hp[rank] = position} for rank < k. An item meets only its own bucket, {@code [hp[b-1], hp[b])} after
     * gatherBuckets, whose start is already its rank among the others; {@code oneBucket}: all n form one (the radix
     * path's k). T = split_of(n, TOPK_CAP) work-items share an item's bucket.
     */
    static void rankItems(KernelContext ctx, int[] itemKey, int[] itemPos, int n, int k, int[] hp, boolean oneBucket,
                          int[] part) {
        int t = ctx.localId(0), l = ctx.localSize(0);
        int split = DecodeKernels.splitOf(ctx, n, TOPK_CAP);
        for (int w = t; w < n * split; w += l) {
            int i = w / split, p = w % split;
            int ki = itemKey[i];
            int pi = itemPos[i];
            int b = estBinOfKey(ki);
            int lo = oneBucket || b == 0 ? 0 : hp[b - 1], hi = oneBucket ? n : hp[b];
            int c = p == 0 ? lo : 0;
            int kiu = ki ^ 0x80000000; // unsigned order
            for (int j = lo + p; j < hi; j += split) {
                int kj = itemKey[j];
                c += (kj ^ 0x80000000) < kiu || (kj == ki && itemPos[j] < pi) ? 1 : 0;
            }
            part[p * n + i] = c;
        }
        ctx.barrier();
        for (int i = t; i < n; i += l) {
            int r = 0;
            for (int p = 0; p < split; p++) r += part[p * n + i];
            if (r < k) hp[r] = itemPos[i];
        }
        ctx.barrier();
    }

    /**
     * {@code select_best}: the k of the m estimates {@code est[e ..]} that rank best (highest first, equal estimates by
     * lower position) by radix select, 4 passes of 8 bits over descending-order keys: on return
     * {@code sortKey/sortPos[0..k)} hold them, in no order. {@code bins[0..256)} and {@code scanbuf[scanAt .. scanAt +
     * L)} are scratch, {@code sel[0..4)} the select's state, {@code fill[fillAt]} the fill counter. The whole group
     * calls it, L <= 1024.
     */
    static void selectBest(KernelContext ctx, FloatArray est, long e, int m, int k, int[] bins, int[] scanbuf, int scanAt,
                           int[] sel, int[] sortKey, int[] sortPos, int[] fill, int fillAt) {
        int t = ctx.localId(0), l = ctx.localSize(0);
        if (t == 0) {
            sel[0] = 0; // prefix of the k-th key found so far
            sel[1] = k; // rank still to find inside the prefix
            fill[fillAt] = 0;
        }
        ctx.barrier();
        int[] kk = new int[SB_BATCH];
        for (int pass = 0; pass < 4; pass++) {
            int shift = 24 - 8 * pass;
            int prefix = sel[0];
            int mask = pass == 0 ? 0 : (0xffffffff << (32 - 8 * pass));
            for (int i = t; i < 256; i += l) bins[i] = 0;
            ctx.barrier();
            for (int i0 = t; i0 < m; i0 += SB_BATCH * l) { // SB_BATCH loads in flight per work-item, then their bins
                for (int u = 0; u < SB_BATCH; u++) kk[u] = i0 + u * l < m ? descKey(est.get(e + i0 + u * l)) : 0;
                for (int u = 0; u < SB_BATCH; u++) {
                    if (i0 + u * l < m && (kk[u] & mask) == prefix) ctx.histogramIncrement(bins, (kk[u] >>> shift) & 0xff);
                }
            }
            ctx.barrier();
            // the digit d where the running count first reaches `need`: a scan, then the one work-item that sees it
            int need = sel[1]; // 1..k: the C's uint compares of it with counts are signed ones here
            int count = t < 256 ? bins[t] : 0;
            int before = DecodeKernels.exclusiveScan256(ctx, bins, t);
            if (t < 256 && before < need && before + count >= need) {
                sel[2] = prefix | (t << shift);
                sel[3] = need - before;
            }
            ctx.barrier();
            if (t == 0) {
                sel[0] = sel[2];
                sel[1] = sel[3];
            }
            ctx.barrier();
        }
        int kth = sel[0];
        int tiesWanted = sel[1]; // items equal to kth to keep, lowest positions first
        int kthu = kth ^ 0x80000000;
        // keep key < kth (k - tiesWanted of them) and the first tiesWanted keys == kth
        int per = (m + l - 1) / l;
        int from = t * per, to = Math.min(m, from + per);
        int eqMine = 0;
        for (int i0 = from; i0 < to; i0 += SB_BATCH) {
            for (int u = 0; u < SB_BATCH; u++) kk[u] = i0 + u < to ? descKey(est.get(e + i0 + u)) : 0;
            for (int u = 0; u < SB_BATCH; u++) eqMine += i0 + u < to && kk[u] == kth ? 1 : 0;
        }
        scanbuf[scanAt + t] = eqMine;
        ctx.barrier();
        for (int off = 1; off < l; off <<= 1) {
            int a = t >= off ? scanbuf[scanAt + t - off] : 0;
            ctx.barrier();
            scanbuf[scanAt + t] += a;
            ctx.barrier();
        }
        int eqBefore = scanbuf[scanAt + t] - eqMine;
        for (int i0 = from; i0 < to; i0 += SB_BATCH) {
            for (int u = 0; u < SB_BATCH; u++) kk[u] = i0 + u < to ? descKey(est.get(e + i0 + u)) : 0xffffffff;
            for (int u = 0; u < SB_BATCH && i0 + u < to; u++) {
                int key = kk[u];
                int i = i0 + u;
                if ((key ^ 0x80000000) < kthu) {
                    int slot = ctx.atomicAdd(fill, fillAt, 1);
                    sortKey[slot] = key;
                    sortPos[slot] = i;
                } else if (key == kth) {
                    if (eqBefore < tiesWanted) {
                        int slot = (k - tiesWanted) + eqBefore;
                        sortKey[slot] = key;
                        sortPos[slot] = i;
                    }
                    eqBefore++;
                }
            }
        }
        ctx.barrier();
    }

    /**
     * {@code desc_key}: the orderable key of a float for an ascending (unsigned) sort that means descending value;
     * -0 folds into +0.
     */
    static int descKey(float f) {
        int u = Float.floatToRawIntBits(f == 0f ? 0f : f);
        int asc = u < 0 ? ~u : (u | 0x80000000);
        return ~asc;
    }

    /**
     * {@code est_bin} of a {@link #descKey}: the bucket of the estimate it came from, {@link DecodeTwins#estBin} of
     * that float (the key's flip undone), so that the buckets are defined once.
     */
    static int estBinOfKey(int key) {
        return DecodeTwins.estBin(Float.intBitsToFloat(key >= 0 ? 0x7fffffff - key : key));
    }
}
