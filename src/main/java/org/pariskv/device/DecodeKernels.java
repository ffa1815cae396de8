package org.pariskv.device;

import static org.pariskv.device.DecodeLayout.*;

import org.pariskv.compute.kernel.ByteArray;
import org.pariskv.compute.kernel.Constant;
import org.pariskv.compute.kernel.FloatArray;
import org.pariskv.compute.kernel.IntArray;
import org.pariskv.compute.kernel.Kernel;
import org.pariskv.compute.kernel.KernelContext;
import org.pariskv.compute.kernel.KernelMath;
import org.pariskv.compute.kernel.ShortArray;
import org.pariskv.encode.Bf16;
import org.pariskv.encode.LloydMax;

/**
 * Kernels of the decode step written in Java: the port of {@code tasks/pariskv.c} starts here. The decoder still
 * runs the hand-written C; {@code DecodeKernelsTest} holds each Java kernel equal to its C original on PoCL. The plan
 * row layout and tile sizes come from {@link DecodeLayout} and the window helper from {@link DecodeTwins}, so they
 * are defined once, in Java. pariskv.c's shape defines ({@code HEAD_DIM}, {@code GROUP}) are parameters here.
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
                                    int capTok, int ringBase, int ring, @Constant int headDim) {
        ctx.awaitInputs();
        int s = ctx.groupId(0);
        int token = plan.get(s * PLAN_STRIDE + P_LEN) - 1;
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

    /**
     * {@code attentionCombine}: per (stream, head) {@code sg} the log-sum-exp merge of its chunk partials
     * ({@code pmax}, {@code psum}, {@code pacc}, written by sparseAttention) into {@code out[sg * headDim ..]}. Grid:
     * {@code S * group} groups of {@link DecodeLayout#COMBINE_THREADS} work-items (at most
     * {@link DecodeLayout#COMBINE_MAX_THREADS}), at least {@code COMBINE_THREADS} (each work-item holds
     * {@code ceil(headDim / COMBINE_THREADS)} outputs, as pariskv.c's {@code acc[(HEAD_DIM + 127) / 128]}).
     */
    @Kernel(restrict = true)
    public static void attentionCombine(KernelContext ctx, IntArray plan, IntArray selCount, FloatArray pmax,
                                        FloatArray psum, FloatArray pacc, FloatArray out, int maxChunks, int chunk,
                                        @Constant int headDim, @Constant int group) {
        ctx.awaitInputs();
        float[] w = ctx.allocateFloatLocalArray(COMBINE_WEIGHTS);
        float[] red = ctx.allocateFloatLocalArray(COMBINE_MAX_THREADS);
        int t = ctx.localId(0), l = ctx.localSize(0), sg = ctx.groupId(0);
        int s = sg / group, p = s * PLAN_STRIDE;
        int selN = plan.get(p + P_DENSE) != 0 ? 0 : selCount.get(s);
        int chunks = (attendedCount(plan, p, selN) + chunk - 1) / chunk;
        long base = (long) sg * maxChunks;
        float m = Float.NEGATIVE_INFINITY;
        for (int c = t; c < chunks; c += l) m = Math.max(m, pmax.get(base + c));
        red[t] = m;
        ctx.barrier();
        for (int off = l >> 1; off > 0; off >>= 1) {
            if (t < off) red[t] = Math.max(red[t], red[t + off]);
            ctx.barrier();
        }
        m = red[0];
        ctx.barrier();
        float den = 0f;
        for (int c = t; c < chunks; c += l) den += KernelMath.exp(pmax.get(base + c) - m) * psum.get(base + c);
        red[t] = den;
        ctx.barrier();
        for (int off = l >> 1; off > 0; off >>= 1) {
            if (t < off) red[t] += red[t + off];
            ctx.barrier();
        }
        float denom = red[0];
        float[] acc = new float[(headDim + COMBINE_THREADS - 1) / COMBINE_THREADS]; // registers: its size is a compiled-in constant
        float[] pv = new float[ATT_BATCH];
        for (int c0 = 0; c0 < chunks; c0 += COMBINE_WEIGHTS) {
            int cn = Math.min(COMBINE_WEIGHTS, chunks - c0);
            ctx.barrier();
            for (int c = t; c < cn; c += l) w[c] = KernelMath.exp(pmax.get(base + c0 + c) - m);
            ctx.barrier();
            for (int r = 0; r * l + t < headDim; r++) {
                int d = r * l + t;
                float a = acc[r];
                for (int cb = 0; cb < cn; cb += ATT_BATCH) { // ATT_BATCH partial loads in flight, summed in order
                    for (int u = 0; u < ATT_BATCH; u++) pv[u] = cb + u < cn ? pacc.get((base + c0 + cb + u) * headDim + d) : 0f;
                    for (int u = 0; u < ATT_BATCH && cb + u < cn; u++) a += w[cb + u] * pv[u];
                }
                acc[r] = a;
            }
        }
        for (int r = 0; r * l + t < headDim; r++) out.set((long) sg * headDim + r * l + t, denom > 0f ? acc[r] / denom : 0f);
    }

    /** {@code attended_count}: the tokens stream row {@code p} of {@code plan} attends (every one when dense). */
    static int attendedCount(IntArray plan, int p, int selN) {
        if (plan.get(p + P_DENSE) != 0) return plan.get(p + P_LEN);
        return plan.get(p + P_SINK_END) + selN + (plan.get(p + P_LEN) - plan.get(p + P_ZONE_END));
    }

    /**
     * {@code encodeKeys}: KeyEncoder.encode (with the stream's key centre) of zone indices
     * {@code [P_ENC_FROM, P_ENC_FROM + P_ENC_COUNT)} of each stream from its stored bf16 keys (zone index i is token
     * {@code P_ZONE_START + i}), adding each block code to the centroid counts. Grid: (maxKeys, S) groups of
     * {@code min(headDim, 256)} work-items; {@code headDim <= MAX_HEAD_DIM}. {@code hadamard} and {@code rotScale}
     * are pariskv.c's {@code HADAMARD} and {@code ROT_SCALE_BITS}.
     */
    @Kernel
    public static void encodeKeys(KernelContext ctx, ShortArray keys, FloatArray rot, FloatArray center, IntArray plan,
                                  ByteArray codes, ByteArray nibbles, ShortArray weights, IntArray counts, int cap,
                                  int capTok, @Constant int headDim, @Constant boolean hadamard, @Constant float rotScale) {
        ctx.awaitInputs();
        float[] x = ctx.allocateFloatLocalArray(MAX_HEAD_DIM);
        float[] tmp = ctx.allocateFloatLocalArray(MAX_HEAD_DIM);
        float[] normv = ctx.allocateFloatLocalArray(1);
        int t = ctx.localId(0), s = ctx.groupId(1), j = ctx.groupId(0), p = s * PLAN_STRIDE;
        if (j >= plan.get(p + P_ENC_COUNT)) return;
        int zi = plan.get(p + P_ENC_FROM) + j;
        int token = plan.get(p + P_ZONE_START) + zi;
        long row = ((long) s * capTok + token) * headDim;
        // centred keys (KeyEncoder with a centre); the centre is all zeros when centring is off
        for (int i = t; i < headDim; i += ctx.localSize(0)) x[i] = Bf16.toFloat(keys.get(row + i)) - center.get((long) s * headDim + i);
        ctx.barrier();
        float norm = rotateNormalised(ctx, x, tmp, normv, rot, headDim, hadamard, rotScale);
        int blocks = headDim / 8;
        for (int bb = t; bb < blocks; bb += ctx.localSize(0)) {
            int base = bb * 8, code = 0;
            float r2 = 0f;
            for (int k = 0; k < 8; k++) {
                float v = x[base + k];
                if (v >= 0f) code |= 1 << k;
                r2 += v * v;
            }
            long key = (long) s * cap + zi;
            codes.set(key * blocks + bb, (byte) code);
            float r = (float) Math.sqrt(r2);
            float invR = 1f / Math.max(r, 1e-8f);
            float alpha = 0f;
            for (int k = 0; k < 8; k += 2) {
                float u0 = x[base + k] * invR, u1 = x[base + k + 1] * invR;
                int lo = (u0 >= 0f ? 8 : 0) | LloydMax.magnitudeIndex(Math.abs(u0));
                int hi = (u1 >= 0f ? 8 : 0) | LloydMax.magnitudeIndex(Math.abs(u1));
                alpha += LloydMax.CENTERS[lo & 7] * Math.abs(u0);
                alpha += LloydMax.CENTERS[hi & 7] * Math.abs(u1);
                nibbles.set(key * (headDim / 2) + bb * 4 + (k >> 1), (byte) (lo | (hi << 4)));
            }
            alpha = Math.max(alpha, 1e-6f);
            weights.set(key * blocks + bb, Bf16.fromFloat(r / alpha * norm));
            ctx.atomicAdd(counts, s * blocks * 256 + bb * 256 + code, 1);
        }
    }

    /**
     * {@code prepareQuery}: RetrievalQuery.of + TierTable.build. Work-group (qi, bb) rotates query {@code qi} (the
     * GQA mean of its group's heads when {@code nq == 1}; redone per block, it is cheap) and builds the tier table of
     * block {@code bb}; block 0 also stores q̂, ||q|| and clears the score histogram; the blocks of a query share
     * clearing its per-tile score histograms and rerank's estimate histogram. Grid: (S * nq, headDim / 8) groups of
     * 256 work-items; {@code headDim <= MAX_HEAD_DIM}. pariskv.c's {@code GROUP}, {@code HKV}, {@code NQ},
     * {@code HADAMARD}, {@code ROT_SCALE_BITS} are parameters.
     */
    @Kernel
    public static void prepareQuery(KernelContext ctx, FloatArray queries, FloatArray rot, IntArray plan, IntArray counts,
                                    FloatArray qhat, FloatArray qnorm, ByteArray tierTable, IntArray hist, IntArray tileHist,
                                    IntArray estHist, int tiles, @Constant int headDim, @Constant int group, @Constant int hkv,
                                    @Constant int nq, @Constant boolean hadamard, @Constant float rotScale) {
        ctx.awaitInputs();
        float[] x = ctx.allocateFloatLocalArray(MAX_HEAD_DIM);
        float[] tmp = ctx.allocateFloatLocalArray(MAX_HEAD_DIM);
        float[] normv = ctx.allocateFloatLocalArray(1);
        float[] score = ctx.allocateFloatLocalArray(256);
        int[] ordered = ctx.allocateIntLocalArray(256);
        int[] abv = ctx.allocateIntLocalArray(256);
        int t = ctx.localId(0), l = ctx.localSize(0), qi = ctx.groupId(0), bb = ctx.groupId(1);
        int s = qi / nq, head = qi % nq, b = s / hkv, h = s % hkv;
        int blocks = headDim / 8, histBins = 6 * blocks + 1;
        long q = ((long) b * hkv * group + (long) h * group) * headDim;
        // what the tail needs from global memory, loaded now: the latencies overlap the rotation's
        int myCount = t < 256 ? counts.get((long) s * blocks * 256 + bb * 256 + t) : 0;
        int[] thr = new int[6];
        for (int i = 0; i < 6; i++) thr[i] = plan.get(s * PLAN_STRIDE + P_T + i);
        for (int i = t; i < headDim; i += l) {
            if (nq == 1) {
                float m = 0f;
                for (int g = 0; g < group; g++) m += queries.get(q + g * headDim + i);
                x[i] = m * (1.0f / group);
            } else {
                x[i] = queries.get(q + head * headDim + i);
            }
        }
        ctx.barrier();
        int tilesNow = (plan.get(s * PLAN_STRIDE + P_N) + SEL_TILE - 1) / SEL_TILE;
        long th = (long) qi * tiles * histBins;
        for (int i = bb * l + t; i < tilesNow * histBins; i += blocks * l) tileHist.set(th + i, 0);
        float norm = rotateNormalised(ctx, x, tmp, normv, rot, headDim, hadamard, rotScale);
        if (bb == 0) {
            for (int i = t; i < headDim; i += l) qhat.set((long) qi * headDim + i, x[i]);
            if (t == 0) qnorm.set(qi, norm);
            for (int i = t; i < histBins; i += l) hist.set(qi * histBins + i, 0);
        }
        for (int i = bb * l + t; i < EST_BINS; i += blocks * l) estHist.set((long) qi * EST_BINS + i, 0);
        // centroid scores, in coordinate order like TierTable.centroidScores
        int c = t;
        float sc = 0f;
        if (c < 256) {
            for (int j = 0; j < 8; j++) sc += ((c >> j) & 1) != 0 ? x[bb * 8 + j] : -x[bb * 8 + j];
            score[c] = sc;
        }
        ctx.barrier();
        int rank = 0;
        if (c < 256) {
            for (int o = 0; o < 256; o++) {
                float so = score[o];
                rank += (so > sc || (so == sc && o < c)) ? 1 : 0;
            }
            ordered[rank] = myCount;
        }
        ctx.barrier();
        int aboveAtRank = exclusiveScan256(ctx, ordered, t); // keys in centroids ranked above rank t
        if (t < 256) abv[t] = aboveAtRank;
        ctx.barrier();
        if (c < 256) {
            int above = abv[rank];
            int tiers = 0;
            for (int i = 0; i < 6; i++) tiers += above < thr[i] ? 1 : 0;
            tierTable.set((long) qi * blocks * 256 + bb * 256 + c, (byte) tiers);
        }
    }

    /**
     * pariskv.c's {@code inclusive_scan_256_warps} (CUDA only: {@link KernelContext#hasWarpShuffle}): the inclusive
     * prefix sum of {@code x} over the group's first 256 work-items, shuffles inside each warp, then the 8 warp
     * totals through {@code warpSums} (a local int[8]); 2 barriers. Work-items past 256 get the sums of 0s.
     */
    static int inclusiveScan256Warps(KernelContext ctx, int x, int t, int[] warpSums) {
        int lane = t & 31, w = t >> 5;
        if (t >= 256) x = 0;
        for (int off = 1; off < 32; off <<= 1) {
            int y = ctx.shuffleUp(x, off);
            if (lane >= off) x += y;
        }
        if (lane == 31 && w < 8) warpSums[w] = x;
        ctx.barrier();
        for (int i = 0; i < w && i < 8; i++) x += warpSums[i];
        ctx.barrier(); // the totals may be reused by the next call
        return x;
    }

    /**
     * {@code exclusive_scan_256} for local {@code a[256]}, a group of at least 256 work-items: returns the sum of
     * {@code a[0..t)} to work-item {@code t < 256} (0 past it); on return {@code a[t]} holds the inclusive sum.
     * OpenCL and the JVM: Hillis-Steele through local memory. CUDA ({@link KernelContext#hasWarpShuffle}): pariskv.c's
     * {@code inclusive_scan_256_warps}, shuffles inside each warp, then the 8 warp totals, 3 barriers instead of 16;
     * the totals are read from {@code a} itself (each warp's last inclusive sum, stored before the first barrier)
     * instead of an 8-int {@code __shared__} array, which a Java helper cannot allocate. The sums are the same.
     */
    static int exclusiveScan256(KernelContext ctx, int[] a, int t) {
        int v = t < 256 ? a[t] : 0;
        if (ctx.hasWarpShuffle()) {
            int lane = t & 31, w = t >> 5;
            int x = v; // 0 past 256
            for (int off = 1; off < 32; off <<= 1) {
                int y = ctx.shuffleUp(x, off);
                if (lane >= off) x += y;
            }
            if (t < 256) a[t] = x; // warp w's total at a[32 w + 31]; each work-item writes only the word it read
            ctx.barrier();
            for (int i = 0; i < w && i < 8; i++) x += a[i * 32 + 31];
            ctx.barrier(); // every total read before a is overwritten
            if (t < 256) a[t] = x;
            ctx.barrier();
            return t < 256 ? x - v : 0;
        } else {
            for (int off = 1; off < 256; off <<= 1) {
                int add = (t < 256 && t >= off) ? a[t - off] : 0;
                ctx.barrier();
                if (t < 256) a[t] += add;
                ctx.barrier();
            }
            return t < 256 ? a[t] - v : 0;
        }
    }

    /**
     * {@code candidateSelect}: CandidateSelect.select. Keys above the cut score are kept, keys at the cut in token
     * order until {@code P_CAND} is met; each tile of {@link DecodeLayout#SEL_TILE} keys finds its output offset from
     * the per-tile histograms collisionScores left for the tiles before it. Writes ascending zone indices to
     * {@code cand[qi * cap ..]}. Grid: (ceil(cap / SEL_TILE) * 256, S * nq) over groups of 256, 16 keys a work-item.
     * Both dialects scan through local memory (pariskv.c's CUDA path uses warp shuffles).
     */
    @Kernel
    public static void candidateSelect(KernelContext ctx, ByteArray scores, IntArray hist, IntArray plan, IntArray tileHist,
                                       IntArray cand, IntArray candCount, int cap, int tiles, @Constant int headDim, @Constant int nq) {
        ctx.awaitInputs();
        int[] cutv = ctx.allocateIntLocalArray(2);
        int[] gt = ctx.allocateIntLocalArray(256);
        int[] eq = ctx.allocateIntLocalArray(256);
        int[] before = ctx.allocateIntLocalArray(2);
        int[] cutWork = ctx.allocateIntLocalArray(256);
        int[] warpSums = ctx.allocateIntLocalArray(8);
        int t = ctx.localId(0), l = ctx.localSize(0), qi = ctx.groupId(1), s = qi / nq, tile = ctx.groupId(0);
        int maxScore = 6 * (headDim / 8), histBins = maxScore + 1;
        // this work-item's 16 scores, loaded first: their latency overlaps the plan's, the cut's and the offsets'
        long sc = (long) qi * cap;
        int from = tile * SEL_TILE + t * 16;
        int[] v16 = new int[16];
        for (int u = 0; u < 16; u++) v16[u] = from + u < cap ? scores.get(sc + from + u) & 0xff : -1;
        int n = plan.get(s * PLAN_STRIDE + P_N);
        int count = plan.get(s * PLAN_STRIDE + P_CAND);
        if (tile == 0 && t == 0) candCount.set(qi, count);
        if (tile * SEL_TILE >= n) return;
        for (int u = 0; u < 16; u++) v16[u] = from + u < n ? v16[u] : -1;
        // pariskv.c picks one of the two at compile time (#if HIST_BINS <= 256). Here every group runs the parallel
        // one, and its barriers stay out of a branch: PoCL 3.1 lost the cut when the barriers sat in one arm of the
        // (uniform) if. Past 256 bins the serial walk's result is kept instead.
        candidateCutParallel(ctx, hist, qi * histBins, maxScore, count, cutv, cutWork, histBins <= 256);
        if (histBins > 256 && t == 0) candidateCut(hist, qi * histBins, maxScore, count, cutv);
        ctx.barrier();
        int cut = cutv[0], ties = cutv[1];
        // keys above / at the cut in the tiles before this one: their histograms' bins from the cut up
        int pg = 0, pe = 0;
        int width = maxScore + 1 - cut;
        long th = (long) qi * tiles * histBins;
        for (int i = t; i < tile * width; i += l) {
            int c = i / width, bin = cut + i % width;
            int v = tileHist.get(th + (c * histBins + bin)); // one 64-bit add, as the C indexes th[c * HIST_BINS + bin]
            if (bin == cut) pe += v;
            else pg += v;
        }
        int g = 0, e = 0;
        for (int u = 0; u < 16; u++) {
            g += v16[u] > cut ? 1 : 0;
            e += v16[u] == cut ? 1 : 0;
        }
        int gBefore, eBefore;
        if (ctx.hasWarpShuffle()) {
            // the tiles before (their total is the last inclusive sum) and this tile's offsets: shuffle scans
            int pgAll = inclusiveScan256Warps(ctx, pg, t, warpSums), peAll = inclusiveScan256Warps(ctx, pe, t, warpSums);
            if (t == 255) {
                before[0] = pgAll;
                before[1] = peAll;
            }
            int gIncl = inclusiveScan256Warps(ctx, g, t, warpSums), eIncl = inclusiveScan256Warps(ctx, e, t, warpSums); // their barriers publish before[]
            gBefore = before[0] + gIncl - g;
            eBefore = before[1] + eIncl - e;
        } else {
            gt[t] = pg;
            eq[t] = pe;
            ctx.barrier();
            for (int off = 128; off > 0; off >>= 1) {
                if (t < off) {
                    gt[t] += gt[t + off];
                    eq[t] += eq[t + off];
                }
                ctx.barrier();
            }
            if (t == 0) {
                before[0] = gt[0];
                before[1] = eq[0];
            }
            ctx.barrier();
            gt[t] = g;
            eq[t] = e;
            ctx.barrier();
            for (int off = 1; off < 256; off <<= 1) { // inclusive scans
                int ag = t >= off ? gt[t - off] : 0;
                int ae = t >= off ? eq[t - off] : 0;
                ctx.barrier();
                gt[t] += ag;
                eq[t] += ae;
                ctx.barrier();
            }
            gBefore = before[0] + gt[t] - g;
            eBefore = before[1] + eq[t] - e;
        }
        long out = (long) qi * cap;
        for (int u = 0; u < 16; u++) {
            int v = v16[u], i = from + u;
            if (v > cut) {
                cand.set(out + gBefore + Math.min(eBefore, ties), i);
                gBefore++;
            } else if (v == cut) {
                if (eBefore < ties) cand.set(out + gBefore + eBefore, i);
                eBefore++;
            }
        }
    }

    /**
     * {@code collisionScores}: CollisionCounting.scores and the score histograms. A work-group scores a tile of
     * {@link DecodeLayout#CS_TILE} keys of stream {@code s = groupId(1)} in chunks of {@code CS_CHUNK}, loading the next
     * chunk while it looks the current one up. The {@code nq} tier tables are staged in local memory packed 8 tiers a
     * word (a block's 256 tiers are 32 words, one per bank: the lanes of a warp never conflict on a lookup). Scores
     * land in {@code scores[(s * nq + qi) * cap + key]}, the histogram in {@code hist[(s * nq + qi) * histBins ..]} and
     * per tile in {@code tileHist[((s * nq + qi) * tiles + tile) * histBins ..]} (candidateSelect's offsets). Grid:
     * (ceil(n / CS_TILE) * CS_THREADS, S) over groups of {@code CS_THREADS}. {@code codeWords}/{@code codeBytes} and
     * {@code tierWords} are int and byte views of the codes and tier-table buffers.
     */
    @Kernel(restrict = true)
    public static void collisionScores(KernelContext ctx, IntArray codeWords, ByteArray codeBytes, IntArray tierWords, IntArray plan,
                                       ByteArray scores, IntArray hist, IntArray tileHist, int cap, int tiles,
                                       @Constant int blocks, @Constant int nq) {
        int[] table = ctx.allocateIntLocalArray(nq * blocks * 32);
        int[] lh = ctx.allocateIntLocalArray(CS_COPIES * nq * (6 * blocks + 1));
        int histBins = 6 * blocks + 1;
        int t = ctx.localId(0), s = ctx.groupId(1), tile = ctx.groupId(0) * CS_TILE;
        // D = 128: a key's codes are one 16-byte word. The first chunk's loads go out before anything else (up to the
        // capacity: the zone's length is a load too), the tier tables are staged while they are in flight.
        int[] cur = new int[4 * CS_KPT], nxt = new int[4 * CS_KPT];
        if (blocks == 16) {
            for (int r = 0; r < CS_KPT; r++) {
                int key = tile + t + r * CS_THREADS;
                if (key < cap) codeWords.load4((long) s * cap + key, cur, 4 * r);
            }
        }
        ctx.awaitInputs(); // the codes are older than the kernel before: only the tier tables wait
        int n = plan.get(s * PLAN_STRIDE + P_N);
        if (tile >= n) return; // the whole group is past this stream's zone
        int end = Math.min(n, tile + CS_TILE);
        long tt = (long) s * nq * blocks * 32; // 8-byte pairs of the stream's tier tables
        int[] b8 = new int[2];
        for (int i = t; i < nq * blocks * 32; i += ctx.localSize(0)) {
            tierWords.load2(tt + i, b8, 0); // 8 tiers, one load
            int w = 0;
            for (int j = 0; j < 4; j++) w |= ((b8[0] >>> (8 * j)) & 15) << (4 * j);
            for (int j = 0; j < 4; j++) w |= ((b8[1] >>> (8 * j)) & 15) << (4 * (j + 4));
            table[i] = w;
        }
        for (int i = t; i < CS_COPIES * nq * histBins; i += ctx.localSize(0)) lh[i] = 0;
        ctx.barrier();
        int mine = ((t >> 5) % CS_COPIES) * nq * histBins;
        if (blocks == 16) {
            // Each lookup is a byte permute, a local load and a rotate: per 4-code word, every code's table word
            // and nibble shift (c & 7) * 4 are prepared at once, and two tiers (<= 6 each) are masked together. The
            // words are byte offsets, as in pariskv.c: the translator's CUDA byte permute tells nvcc the >>> 2 and
            // the index's * 4 cancel, so each load's address is the permute itself.
            for (int base = tile; base < end; base += CS_CHUNK) {
                for (int r = 0; r < CS_KPT; r++) {
                    int key = base + CS_CHUNK + t + r * CS_THREADS;
                    if (key < end) codeWords.load4((long) s * cap + key, nxt, 4 * r);
                    else for (int u = 0; u < 4; u++) nxt[4 * r + u] = 0;
                }
                for (int r = 0; r < CS_KPT; r++) {
                    int key = base + t + r * CS_THREADS;
                    if (key >= end) break;
                    for (int qi = 0; qi < nq; qi++) {
                        int sc = 0;
                        for (int q = 0; q < 4; q++) {
                            int w4 = cur[4 * r + q];
                            int off = (w4 >>> 1) & 0x7c7c7c7c; // (c >> 3) * 4 per byte: the table word's byte offset
                            int sh = (w4 & 0x07070707) << 2;   // (c & 7) * 4 per byte: its nibble (the rotate reads 5 bits)
                            int tb = (qi * blocks + 4 * q) * 32;
                            int x0 = table[tb + (KernelContext.bytePermute(off, 0, 0x4440) >>> 2)];
                            int x1 = table[tb + 32 + (KernelContext.bytePermute(off, 0, 0x4441) >>> 2)];
                            int x2 = table[tb + 64 + (KernelContext.bytePermute(off, 0, 0x4442) >>> 2)];
                            int x3 = table[tb + 96 + (KernelContext.bytePermute(off, 0, 0x4443) >>> 2)];
                            int a = KernelContext.funnelShiftRight(x0, x0, sh) + KernelContext.funnelShiftRight(x1, x1, sh >>> 8);
                            int b = KernelContext.funnelShiftRight(x2, x2, sh >>> 16) + KernelContext.funnelShiftRight(x3, x3, sh >>> 24);
                            sc += (a & 15) + (b & 15);
                        }
                        scores.set(((long) s * nq + qi) * cap + key, (byte) sc);
                        ctx.atomicAdd(lh, mine + qi * histBins + sc, 1);
                    }
                }
                for (int u = 0; u < 4 * CS_KPT; u++) cur[u] = nxt[u];
            }
        } else {
            for (int key = tile + t; key < end; key += ctx.localSize(0)) {
                long src = ((long) s * cap + key) * blocks;
                for (int qi = 0; qi < nq; qi++) {
                    int sc = 0;
                    for (int bb = 0; bb < blocks; bb++) {
                        int c = codeBytes.get(src + bb) & 0xff;
                        sc += (table[(qi * blocks + bb) * 32 + (c >>> 3)] >>> (4 * (c & 7))) & 15;
                    }
                    scores.set(((long) s * nq + qi) * cap + key, (byte) sc);
                    ctx.atomicAdd(lh, mine + qi * histBins + sc, 1);
                }
            }
        }
        ctx.barrier();
        for (int i = t; i < nq * histBins; i += ctx.localSize(0)) {
            int sum = 0;
            for (int c = 0; c < CS_COPIES; c++) sum += lh[c * nq * histBins + i];
            if (sum != 0) {
                ctx.atomicAdd(hist, s * nq * histBins + i, sum);
                int qi = s * nq + i / histBins, bin = i % histBins;
                ctx.atomicAdd(tileHist, (int) (((long) qi * tiles + tile / SEL_TILE) * histBins + bin), sum);
            }
        }
    }

    /** {@code candidate_cut}: the cut score and how many keys at it to keep, from a query's histogram (one work-item). */
    static void candidateCut(IntArray hist, int hh, int maxScore, int count, int[] cutv) {
        int cut = maxScore, above = 0;
        while (cut > 0 && above + hist.get(hh + cut) < count) above += hist.get(hh + cut--);
        cutv[0] = cut;
        cutv[1] = count - above;
    }

    /**
     * {@code candidate_cut_parallel}: the same cut by the whole group (at least 256 work-items, at most 256 bins): the
     * bins suffix-summed by a scan, and the one work-item whose bin the serial walk stops at writes it (if
     * {@code writes}).
     */
    static void candidateCutParallel(KernelContext ctx, IntArray hist, int hh, int maxScore, int count, int[] cutv, int[] work,
                                     boolean writes) {
        int t = ctx.localId(0);
        int b = maxScore - t;
        if (t < 256) work[t] = b >= 0 ? hist.get(hh + b) : 0;
        ctx.barrier();
        int excl = exclusiveScan256(ctx, work, t);
        int incl = t < 256 ? work[t] : 0;
        boolean stop = b == 0 ? excl < count // the walk ends at bin 0 whatever it holds
                : b > 0 && incl >= count && (t == 0 || excl < count);
        if (stop && writes) {
            cutv[0] = b;
            cutv[1] = count - excl;
        }
    }

    /**
     * {@code rerank}: the int4 estimate {@code <q, k>} of candidate {@code j} of query {@code qi} (Rerank) from its
     * nibbles and block weights through a per-query LUT of {@code qhat[d] * level} in local memory, into
     * {@code est[qi * cap + j]}, counted in the estimate histogram ({@link DecodeTwins#estBin}). {@code nibbleWords}
     * is the nibbles buffer read as ints (4 bytes, 8 nibbles a word, little-endian), one word per block;
     * {@code weightWords} the weights buffer read as ints (D = 128 loads them 16 bytes at a time). Grid:
     * (roundUp(maxCand, 256), S * nq) over groups of 256 (a multiple of 16).
     */
    @Kernel
    public static void rerank(KernelContext ctx, IntArray nibbleWords, ShortArray weights, IntArray weightWords, FloatArray qhat,
                              FloatArray qnorm, IntArray cand, IntArray candCount, FloatArray est, IntArray estHist, int cap,
                              @Constant int headDim, @Constant int nq) {
        ctx.awaitInputs();
        float[] lut = ctx.allocateFloatLocalArray(headDim * 16);
        int t = ctx.localId(0), l = ctx.localSize(0), qi = ctx.groupId(1);
        int s = qi / nq, j = ctx.groupId(0) * l + t, blocks = headDim / 8;
        // the count and this work-item's candidate in one round trip (a slot past the count holds a stale index)
        int key = j < cap ? cand.get((long) qi * cap + j) : 0;
        int m = candCount.get(qi);
        if (ctx.groupId(0) * l >= m) return;
        boolean live = j < m;
        long row = (long) s * cap + key;
        // D = 128: the row's nibbles in four 16-byte loads and its 16 bf16 weights in two, issued before the LUT
        int[] words = new int[16], wpair = new int[8];
        if (blocks == 16 && live) {
            for (int v4 = 0; v4 < 4; v4++) nibbleWords.load4(row * 4 + v4, words, 4 * v4);
            for (int v4 = 0; v4 < 2; v4++) weightWords.load4(row * 2 + v4, wpair, 4 * v4);
        }
        // a work-item fills entries of one level (i & 15 stays t & 15 when l is a multiple of 16, as launched)
        float level = LloydMax.SIGNED_LEVELS[t & 15];
        for (int i = t; i < headDim * 16; i += l) {
            lut[i] = qhat.get((long) qi * headDim + i / 16) * ((l & 15) == 0 ? level : LloydMax.SIGNED_LEVELS[i & 15]);
        }
        ctx.barrier();
        if (!live) return;
        float acc = 0f;
        for (int bb = 0; bb < blocks; bb++) {
            int word = blocks == 16 ? words[bb] : nibbleWords.get(row * blocks + bb);
            short wbits = blocks == 16 ? (short) (wpair[bb >> 1] >>> (16 * (bb & 1))) : weights.get(row * blocks + bb);
            // byte k: dimension 2k in its low nibble, 2k + 1 in its high one; both nibbles of the 4 bytes prepared at
            // once as byte offsets (4 x the nibble, as pariskv.c), each entry then one byte permute (BYTE_OF) and a
            // local load: the translator's CUDA byte permute tells nvcc the >>> 2 and the index's * 4 cancel
            int lo = (word << 2) & 0x3c3c3c3c, hi = (word >>> 2) & 0x3c3c3c3c;
            int base = bb * 128; // 8 dimensions x 16 levels
            float sum = 0f;
            sum += lut[base + (KernelContext.bytePermute(lo, 0, 0x4440) >>> 2)] + lut[base + 16 + (KernelContext.bytePermute(hi, 0, 0x4440) >>> 2)];
            sum += lut[base + 32 + (KernelContext.bytePermute(lo, 0, 0x4441) >>> 2)] + lut[base + 48 + (KernelContext.bytePermute(hi, 0, 0x4441) >>> 2)];
            sum += lut[base + 64 + (KernelContext.bytePermute(lo, 0, 0x4442) >>> 2)] + lut[base + 80 + (KernelContext.bytePermute(hi, 0, 0x4442) >>> 2)];
            sum += lut[base + 96 + (KernelContext.bytePermute(lo, 0, 0x4443) >>> 2)] + lut[base + 112 + (KernelContext.bytePermute(hi, 0, 0x4443) >>> 2)];
            acc += Bf16.toFloat(wbits) * sum;
        }
        float e = acc * qnorm.get(qi);
        est.set((long) qi * cap + j, e);
        ctx.histogramIncrement(estHist, qi * EST_BINS + DecodeTwins.estBin(e)); // one atomic per distinct bucket of a warp
    }

    /**
     * {@code mergeSelection}: GroupMerge.roundRobin ({@code nq > 1}) or a plain sort ({@code nq == 1}) of the
     * streams' ranked lists. Items in (rank, head) order; one is kept when no earlier item has its token and it is
     * among the first {@code P_K} kept. Writes ascending zone indices to {@code selected[s * kmax ..]}, their count to
     * {@code selCount[s]}. Grid: S groups of at most 256; {@code kmax <= MERGE_MAX_KMAX},
     * {@code nq * kmax <= MERGE_MAX_ITEMS}.
     */
    @Kernel
    public static void mergeSelection(KernelContext ctx, IntArray ranked, IntArray rankedCount, IntArray plan,
                                      IntArray selected, IntArray selCount, @Constant int kmax, @Constant int nq) {
        ctx.awaitInputs();
        int[] out = ctx.allocateIntLocalArray(MERGE_MAX_KMAX);
        int[] taken = ctx.allocateIntLocalArray(1);
        int[] flag = ctx.allocateIntLocalArray(256);
        int[] items = ctx.allocateIntLocalArray(MERGE_MAX_ITEMS);
        int t = ctx.localId(0), l = ctx.localSize(0), s = ctx.groupId(0);
        int k = plan.get(s * PLAN_STRIDE + P_K);
        int depth = 0;
        for (int h = 0; h < nq; h++) depth = Math.max(depth, rankedCount.get(s * nq + h));
        int total = depth * nq;
        // the lists in (rank, head) order, -1 where a head's list is shorter
        for (int i = t; i < total; i += l) {
            int r = i / nq, h = i % nq;
            items[i] = r < rankedCount.get(s * nq + h) ? ranked.get(((long) s * nq + h) * kmax + r) : -1;
        }
        if (t == 0) taken[0] = 0;
        ctx.barrier();
        // chunks of l items in order; each chunk decides first occurrences, then appends in order
        for (int base = 0; base < total; base += l) {
            if (taken[0] >= k) break;
            int i = base + t;
            int tok = i < total ? items[i] : -1;
            boolean first = tok >= 0;
            for (int j = 0; j < i && first; j++) first = items[j] != tok;
            // ordered append: inclusive scan of the first-occurrence flags
            flag[t] = first ? 1 : 0;
            ctx.barrier();
            for (int off = 1; off < l; off <<= 1) {
                int a = t >= off ? flag[t - off] : 0;
                ctx.barrier();
                flag[t] += a;
                ctx.barrier();
            }
            int pos = taken[0] + flag[t] - (first ? 1 : 0);
            if (first && pos < k) out[pos] = tok;
            ctx.barrier();
            if (t == l - 1) taken[0] = Math.min(k, taken[0] + flag[t]);
            ctx.barrier();
        }
        int n = taken[0];
        orderInts(ctx, out, n, items, nq * kmax); // the items are done with: their room holds the counts
        for (int i = t; i < n; i += l) selected.set((long) s * kmax + ascendingIndex(ctx, items, n, nq * kmax, i), out[i]);
        if (t == 0) selCount.set(s, n);
    }

    /** {@code split_of}: work-items sharing each of {@code n} items when ranking them (a power of two, at most 32). */
    static int splitOf(KernelContext ctx, int n, int room) {
        int lim = Math.min(ctx.localSize(0), room);
        int split = 1;
        while (split < 32 && 2 * split * n <= lim) split <<= 1;
        return split;
    }

    /**
     * {@code order_ints}: orders the {@code n} distinct ints of {@code a} for {@link #ascendingIndex}. Few
     * ({@code n^2 <= 64 L}): by counting into {@code part}; many: a bitonic network sorts {@code a} in place ({@code a}
     * has room for the next power of two). The whole group calls it.
     */
    static void orderInts(KernelContext ctx, int[] a, int n, int[] part, int room) {
        int t = ctx.localId(0), l = ctx.localSize(0);
        if (n * n <= 64 * l) {
            int split = splitOf(ctx, n, room);
            for (int w = t; w < n * split; w += l) {
                int i = w / split, p = w % split;
                int v = a[i], c = 0;
                for (int j = p; j < n; j += split) c += a[j] < v ? 1 : 0;
                part[p * n + i] = c;
            }
            ctx.barrier();
            return;
        }
        int size = 1;
        while (size < n) size <<= 1;
        for (int i = n + t; i < size; i += l) a[i] = Integer.MAX_VALUE;
        ctx.barrier();
        for (int width = 2; width <= size; width <<= 1) {
            for (int stride = width >> 1; stride > 0; stride >>= 1) {
                for (int i = t; i < size; i += l) {
                    int j = i ^ stride;
                    if (j > i) {
                        boolean up = (i & width) == 0;
                        int x = a[i], y = a[j];
                        if ((x > y) == up) {
                            a[i] = y;
                            a[j] = x;
                        }
                    }
                }
                ctx.barrier();
            }
        }
    }

    /** {@code ascending_index}: where {@code a[i]} belongs in ascending order, once {@link #orderInts} has run. */
    static int ascendingIndex(KernelContext ctx, int[] part, int n, int room, int i) {
        if (n * n > 64 * ctx.localSize(0)) return i;
        int split = splitOf(ctx, n, room), r = 0;
        for (int p = 0; p < split; p++) r += part[p * n + i];
        return r;
    }

    /**
     * {@code rotate_normalised}: {@code x = R (x / max(||x||, 1e-8))} for the {@code headDim} floats of local
     * {@code x}, {@code rot} the D signs of a Hadamard rotation (then scaled by {@code scale}) or a dense D x D
     * matrix. The whole group calls it; returns {@code ||x||} (sequential sum) to every work-item.
     */
    static float rotateNormalised(KernelContext ctx, float[] x, float[] tmp, float[] normOut, FloatArray rot,
                                  int headDim, boolean hadamard, float scale) {
        int t = ctx.localId(0), nt = ctx.localSize(0);
        if (t == 0) {
            float ss = 0f;
            for (int i = 0; i < headDim; i++) ss += x[i] * x[i];
            normOut[0] = (float) Math.sqrt(ss);
        }
        ctx.barrier();
        float norm = normOut[0];
        float inv = 1f / Math.max(norm, 1e-8f);
        if (hadamard) { // uniform over the group: every work-item meets the same barriers
            for (int i = t; i < headDim; i += nt) x[i] = (x[i] * inv) * rot.get(i);
            ctx.barrier();
            for (int h = 1; h < headDim; h <<= 1) {
                for (int q = t; q < headDim / 2; q += nt) {
                    int i = (q / h) * (h << 1) + (q % h);
                    float u = x[i], v = x[i + h];
                    x[i] = u + v;
                    x[i + h] = u - v;
                }
                ctx.barrier();
            }
            for (int i = t; i < headDim; i += nt) x[i] = x[i] * scale;
            ctx.barrier();
        } else {
            for (int i = t; i < headDim; i += nt) tmp[i] = x[i] * inv;
            ctx.barrier();
            for (int i = t; i < headDim; i += nt) {
                float acc = 0f;
                for (int k = 0; k < headDim; k++) acc += rot.get(i * headDim + k) * tmp[k];
                x[i] = acc;
            }
            ctx.barrier();
        }
        return norm;
    }
}
