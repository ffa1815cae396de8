/*
 * pariskv.c - the ParisKV decode pipeline as device tasks, one source for OpenCL C and CUDA C.
 *
 * Every kernel has a Java twin with the same name (org.pariskv.*), computing the same thing in the same
 * arithmetic order where it matters for bit-equality (sequential sums, no FMA contraction), so that the
 * equivalence tests compare device and Java outputs tightly.
 *
 * Compile-time defines (set by the Java side):
 *   HEAD_DIM        D, a multiple of 8               BLOCKS       D / 8
 *   GROUP           query heads per KV head (G)      HKV          KV heads per layer
 *   NQ              retrieval queries per stream: 1 (GQA mean) or G (per head)
 *   KMAX            largest top-k the kernels hold (power of two)
 *   HADAMARD        1: rotation = signs[D] + Walsh-Hadamard; 0: rotation = dense matrix [D][D]
 *   ROT_SCALE_BITS  float bits of 1/sqrt(D) (the Java value, bit for bit)
 *
 * A "stream" is one (sequence, KV head) of a layer: s = b * HKV + h. Per stream the host writes a small
 * plan row (PLAN_STRIDE ints, layout below) each step; everything else stays on the device.
 */

#if PKV_OPENCL
#pragma OPENCL FP_CONTRACT OFF
#define LOCAL_PTR __local            /* pointer parameter into work-group memory */
#define TABLE __constant             /* program-scope constant table */
#else
#define LOCAL_PTR                    /* CUDA: generic pointers reach shared memory */
#define TABLE __constant__ const
#endif

#define MAX_SCORE (6 * BLOCKS)
#define HIST_BINS (MAX_SCORE + 1)

/* plan row layout */
#define P_N 0          /* keys in the retrieval zone */
#define P_T 1          /* 6 tier thresholds T_0..T_5 */
#define P_CAND 7       /* candidates kept after collision counting */
#define P_K 8          /* top-k to keep: min(topk, n) */
#define P_SINK_END 9   /* sink tokens [0, sinkEnd) */
#define P_ZONE_START 10
#define P_ZONE_END 11  /* local window [zoneEnd, length) */
#define P_LEN 12
#define P_DENSE 13     /* 1: attend every token [0, length) */
#define P_ENC_FROM 14  /* encodeKeys: first zone index to encode */
#define P_ENC_COUNT 15 /* encodeKeys: keys to encode */
#define PLAN_STRIDE 16

TABLE float LM_THRESHOLDS[7] = {0.0843f, 0.1698f, 0.2578f, 0.3499f, 0.4487f, 0.5585f, 0.6901f};
TABLE float LM_CENTERS[8] = {0.0420f, 0.1266f, 0.2130f, 0.3025f, 0.3973f, 0.5001f, 0.6169f, 0.7633f};

FUNC int magnitude_index(float a) {
    int t = 0;
    for (int i = 0; i < 7; i++) t += LM_THRESHOLDS[i] < a ? 1 : 0;
    return t;
}

FUNC float signed_level(int v) {
    return ((v & 8) != 0 ? 1.0f : -1.0f) * LM_CENTERS[v & 7];
}

/* Orderable key of a float for an ascending sort that means "descending value"; -0 folds into +0. */
FUNC uint desc_key(float f) {
    uint u = AS_UINT(f == 0.0f ? 0.0f : f);
    uint asc = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return ~asc;
}

/*
 * y = R (x / max(||x||, 1e-8)) for HEAD_DIM floats in local memory `x` (overwritten with y), `rot` the
 * signs (HADAMARD) or the dense matrix. Whole work-group calls; returns ||x|| to every thread.
 * Mirrors RetrievalQuery.of / KeyEncoder: sequential norm, same butterflies, same scale.
 */
FUNC float rotate_normalised(LOCAL_PTR float* x, LOCAL_PTR float* tmp, LOCAL_PTR float* normOut, GLOBAL const float* rot) {
    int t = LOCAL_ID(0);
    int nt = LOCAL_SIZE(0);
    if (t == 0) {
        float ss = 0.0f;
        for (int i = 0; i < HEAD_DIM; i++) ss += x[i] * x[i];
        normOut[0] = SQRT(ss);
    }
    SYNC_THREADS;
    float norm = normOut[0];
    float inv = 1.0f / FMAX(norm, 1e-8f);
#if HADAMARD
    for (int i = t; i < HEAD_DIM; i += nt) x[i] = (x[i] * inv) * rot[i];
    SYNC_THREADS;
    for (int h = 1; h < HEAD_DIM; h <<= 1) {
        for (int p = t; p < HEAD_DIM / 2; p += nt) {
            int i = (p / h) * (h << 1) + (p % h);
            float u = x[i], v = x[i + h];
            x[i] = u + v;
            x[i + h] = u - v;
        }
        SYNC_THREADS;
    }
    float scale = AS_FLOAT(ROT_SCALE_BITS);
    for (int i = t; i < HEAD_DIM; i += nt) x[i] = x[i] * scale;
    SYNC_THREADS;
#else
    for (int i = t; i < HEAD_DIM; i += nt) tmp[i] = x[i] * inv;
    SYNC_THREADS;
    for (int i = t; i < HEAD_DIM; i += nt) {
        float acc = 0.0f;
        for (int j = 0; j < HEAD_DIM; j++) acc += rot[i * HEAD_DIM + j] * tmp[j];
        x[i] = acc;
    }
    SYNC_THREADS;
#endif
    return norm;
}

/* Exclusive prefix sum of 256 ints in local memory by a work-group of >= 256 threads (Hillis-Steele). */
FUNC int exclusive_scan_256(LOCAL_PTR int* a, int t) {
    int v = t < 256 ? a[t] : 0;
    for (int off = 1; off < 256; off <<= 1) {
        int add = (t < 256 && t >= off) ? a[t - off] : 0;
        SYNC_THREADS;
        if (t < 256) a[t] += add;
        SYNC_THREADS;
    }
    return t < 256 ? a[t] - v : 0;
}

/*
 * prepareQuery - twin: RetrievalQuery.of + TierTable.build.
 * grid (S*NQ, BLOCKS) x 256 threads. Work-group (qi, bb) rotates its query (cheap, redone per block) and
 * builds the tier table of block bb; block 0 also stores q̂, ||q|| and clears the score histogram.
 */
KERNEL void prepareQuery(GLOBAL const float* queries, GLOBAL const float* rot, GLOBAL const int* plan,
                         GLOBAL const int* counts, GLOBAL float* qhat, GLOBAL float* qnorm,
                         GLOBAL uchar* tierTable, GLOBAL int* hist) {
    LOCAL_ARRAY(float, x, HEAD_DIM);
    LOCAL_ARRAY(float, tmp, HEAD_DIM);
    LOCAL_ARRAY(float, normv, 1);
    LOCAL_ARRAY(float, score, 256);
    LOCAL_ARRAY(int, ordered, 256);
    LOCAL_ARRAY(int, abv, 256);
    int t = LOCAL_ID(0);
    int qi = GROUP_ID(0);
    int bb = GROUP_ID(1);
    int s = qi / NQ, head = qi % NQ;
    int b = s / HKV, h = s % HKV;
    GLOBAL const float* q = queries + ((long) b * HKV * GROUP + (long) h * GROUP) * HEAD_DIM;
    for (int i = t; i < HEAD_DIM; i += LOCAL_SIZE(0)) {
        if (NQ == 1) {
            float m = 0.0f;
            for (int g = 0; g < GROUP; g++) m += q[g * HEAD_DIM + i];
            x[i] = m * (1.0f / GROUP);
        } else {
            x[i] = q[head * HEAD_DIM + i];
        }
    }
    SYNC_THREADS;
    float norm = rotate_normalised(x, tmp, normv, rot);
    if (bb == 0) {
        for (int i = t; i < HEAD_DIM; i += LOCAL_SIZE(0)) qhat[(long) qi * HEAD_DIM + i] = x[i];
        if (t == 0) qnorm[qi] = norm;
        for (int i = t; i < HIST_BINS; i += LOCAL_SIZE(0)) hist[qi * HIST_BINS + i] = 0;
    }
    /* centroid scores, in coordinate order like TierTable.centroidScores */
    int c = t;
    float sc = 0.0f;
    if (c < 256) {
        for (int j = 0; j < 8; j++) sc += ((c >> j) & 1) != 0 ? x[bb * 8 + j] : -x[bb * 8 + j];
        score[c] = sc;
    }
    SYNC_THREADS;
    int rank = 0;
    if (c < 256) {
        for (int o = 0; o < 256; o++) {
            float so = score[o];
            rank += (so > sc || (so == sc && o < c)) ? 1 : 0;
        }
        ordered[rank] = counts[(long) s * BLOCKS * 256 + bb * 256 + c];
    }
    SYNC_THREADS;
    int aboveAtRank = exclusive_scan_256(ordered, t); /* keys in centroids ranked above rank t */
    if (t < 256) abv[t] = aboveAtRank;
    SYNC_THREADS;
    if (c < 256) {
        int above = abv[rank];
        GLOBAL const int* p = plan + s * PLAN_STRIDE;
        int tiers = 0;
        for (int i = 0; i < 6; i++) tiers += above < p[P_T + i] ? 1 : 0;
        tierTable[(long) qi * BLOCKS * 256 + bb * 256 + c] = (uchar) tiers;
    }
}

/*
 * collisionScores - twin: CollisionCounting.scores (+ the histogram CandidateSelect builds).
 * grid (ceil(n/CS_TILE)*256, S) x 256. A work-group scores a tile of CS_TILE keys (4 per thread, coalesced; small tiles fill the GPU at batch 1),
 * so the NQ tier tables it stages in local memory are read once per tile. Scores land in
 * scores[(s*NQ + qi) * cap + key]; the per-score histogram in hist[(s*NQ + qi) * HIST_BINS ..].
 */
#define CS_TILE 1024
/* private histogram copies per work-group (by warp): fewer colliding atomics, within 48 KiB of local memory */
#define CS_COPIES 8
KERNEL void collisionScores(GLOBAL const uchar* RESTRICT codes, GLOBAL const uchar* RESTRICT tierTable,
                            GLOBAL const int* RESTRICT plan, GLOBAL uchar* RESTRICT scores, GLOBAL int* RESTRICT hist, int cap) {
    /* the tier tables packed 8 tiers (0..6) per word: a block's 256 tiers are 32 words, one per bank, so the
     * lanes of a warp never conflict on a lookup (a byte table did, and capped the kernel below HBM speed) */
    LOCAL_ARRAY(uint, table, NQ * BLOCKS * 32);
    LOCAL_ARRAY(int, lh, CS_COPIES * NQ * HIST_BINS);
    int t = LOCAL_ID(0);
    int s = GROUP_ID(1);
    int n = plan[s * PLAN_STRIDE + P_N];
    int tile = GROUP_ID(0) * CS_TILE;
    if (tile >= n) return; /* whole work-group beyond this stream's zone */
    GLOBAL const uchar* tt = tierTable + (long) s * NQ * BLOCKS * 256;
    for (int i = t; i < NQ * BLOCKS * 32; i += LOCAL_SIZE(0)) {
        uint w = 0u;
        for (int j = 0; j < 8; j++) w |= ((uint) tt[i * 8 + j]) << (4 * j);
        table[i] = w;
    }
    for (int i = t; i < CS_COPIES * NQ * HIST_BINS; i += LOCAL_SIZE(0)) lh[i] = 0;
    SYNC_THREADS;
    LOCAL_PTR int* mine = lh + ((t >> 5) % CS_COPIES) * NQ * HIST_BINS;
    int end = min(n, tile + CS_TILE);
#define TIER(qi, bb, c) ((int) ((table[((qi) * BLOCKS + (bb)) * 32 + ((c) >> 3)] >> (4 * ((c) & 7))) & 15u))
#if BLOCKS == 16
    /* D = 128: a key's codes are one 16-byte word. Every load of the tile is issued before any is used (256
     * threads, CS_TILE/256 loads each in flight): the kernel streams the codes instead of waiting per key. */
    uint4 words[CS_TILE / 256];
    for (int r = 0; r < CS_TILE / 256; r++) {
        int key = tile + t + r * 256;
        words[r] = key < end ? ((GLOBAL const uint4*) codes)[(long) s * cap + key] : UINT4_ZERO;
    }
    for (int r = 0; r < CS_TILE / 256; r++) {
        int key = tile + t + r * 256;
        if (key >= end) break;
        uint w4[4] = {words[r].x, words[r].y, words[r].z, words[r].w};
        for (int qi = 0; qi < NQ; qi++) {
            int sc = 0;
            for (int bb = 0; bb < BLOCKS; bb++) sc += TIER(qi, bb, (w4[bb >> 2] >> (8 * (bb & 3))) & 0xffu);
            scores[((long) s * NQ + qi) * cap + key] = (uchar) sc;
            ATOMIC_ADD_INT(&mine[qi * HIST_BINS + sc], 1);
        }
    }
#else
    for (int key = tile + t; key < end; key += LOCAL_SIZE(0)) {
        GLOBAL const uchar* src = codes + ((long) s * cap + key) * BLOCKS;
        for (int qi = 0; qi < NQ; qi++) {
            int sc = 0;
            for (int bb = 0; bb < BLOCKS; bb++) sc += TIER(qi, bb, (uint) src[bb]);
            scores[((long) s * NQ + qi) * cap + key] = (uchar) sc;
            ATOMIC_ADD_INT(&mine[qi * HIST_BINS + sc], 1);
        }
    }
#endif
#undef TIER
    SYNC_THREADS;
    for (int i = t; i < NQ * HIST_BINS; i += LOCAL_SIZE(0)) {
        int sum = 0;
        for (int c = 0; c < CS_COPIES; c++) sum += lh[c * NQ * HIST_BINS + i];
        if (sum != 0) ATOMIC_ADD_INT(&hist[s * NQ * HIST_BINS + i], sum);
    }
}

/* The cut score and the number of keys at the cut to keep, from a query's score histogram (one thread). */
FUNC void candidate_cut(GLOBAL const int* hh, int count, LOCAL_PTR int* cutv) {
    int cut = MAX_SCORE, above = 0;
    while (cut > 0 && above + hh[cut] < count) above += hh[cut--];
    cutv[0] = cut;
    cutv[1] = count - above;
}

#define SEL_TILE 4096 /* keys per work-group: 256 threads x 16 consecutive scores (one 16-byte load) */

/*
 * candidateCount - first pass of CandidateSelect.select: per (query, tile) the keys above the cut and at it.
 * grid (ceil(cap/SEL_TILE)*256, S*NQ) x 256.
 */
KERNEL void candidateCount(GLOBAL const uchar* scores, GLOBAL const int* hist, GLOBAL const int* plan,
                           GLOBAL int* tileCounts, int cap, int tiles) {
    LOCAL_ARRAY(int, cutv, 2);
    LOCAL_ARRAY(int, red, 512);
    int t = LOCAL_ID(0);
    int qi = GROUP_ID(1);
    int s = qi / NQ;
    int n = plan[s * PLAN_STRIDE + P_N];
    int tile = GROUP_ID(0);
    if (tile * SEL_TILE >= n) return;
    if (t == 0) candidate_cut(hist + qi * HIST_BINS, plan[s * PLAN_STRIDE + P_CAND], cutv);
    SYNC_THREADS;
    int cut = cutv[0];
    GLOBAL const uchar* sc = scores + (long) qi * cap;
    int from = tile * SEL_TILE + t * 16;
    int g = 0, e = 0;
    for (int i = from; i < min(n, from + 16); i++) {
        int v = sc[i];
        g += v > cut ? 1 : 0;
        e += v == cut ? 1 : 0;
    }
    red[t] = g;
    red[256 + t] = e;
    SYNC_THREADS;
    for (int off = 128; off > 0; off >>= 1) {
        if (t < off) {
            red[t] += red[t + off];
            red[256 + t] += red[256 + t + off];
        }
        SYNC_THREADS;
    }
    if (t == 0) {
        tileCounts[((long) qi * tiles + tile) * 2] = red[0];
        tileCounts[((long) qi * tiles + tile) * 2 + 1] = red[256];
    }
}

/*
 * candidateSelect - twin: CandidateSelect.select (second pass). grid (ceil(cap/SEL_TILE)*256, S*NQ) x 256.
 * Keys above the cut are kept, keys at the cut in token order until the count is met; each tile finds its
 * output offset from the counts of the tiles before it. Output ascending zone indices in cand[qi * cap ..].
 */
KERNEL void candidateSelect(GLOBAL const uchar* scores, GLOBAL const int* hist, GLOBAL const int* plan,
                            GLOBAL const int* tileCounts, GLOBAL int* cand, GLOBAL int* candCount, int cap, int tiles) {
    LOCAL_ARRAY(int, cutv, 2);
    LOCAL_ARRAY(int, gt, 256);
    LOCAL_ARRAY(int, eq, 256);
    LOCAL_ARRAY(int, before, 2);
    int t = LOCAL_ID(0);
    int qi = GROUP_ID(1);
    int s = qi / NQ;
    int n = plan[s * PLAN_STRIDE + P_N];
    int count = plan[s * PLAN_STRIDE + P_CAND];
    int tile = GROUP_ID(0);
    if (tile == 0 && t == 0) candCount[qi] = count;
    if (tile * SEL_TILE >= n) return;
    if (t == 0) candidate_cut(hist + qi * HIST_BINS, count, cutv);
    /* keys above / at the cut in the tiles before this one */
    int pg = 0, pe = 0;
    for (int c = t; c < tile; c += LOCAL_SIZE(0)) {
        pg += tileCounts[((long) qi * tiles + c) * 2];
        pe += tileCounts[((long) qi * tiles + c) * 2 + 1];
    }
    gt[t] = pg;
    eq[t] = pe;
    SYNC_THREADS;
    for (int off = 128; off > 0; off >>= 1) {
        if (t < off) {
            gt[t] += gt[t + off];
            eq[t] += eq[t + off];
        }
        SYNC_THREADS;
    }
    if (t == 0) {
        before[0] = gt[0];
        before[1] = eq[0];
    }
    SYNC_THREADS;
    int cut = cutv[0], ties = cutv[1];
    GLOBAL const uchar* sc = scores + (long) qi * cap;
    int from = tile * SEL_TILE + t * 16;
    int to = min(n, from + 16);
    int g = 0, e = 0;
    for (int i = from; i < to; i++) {
        int v = sc[i];
        g += v > cut ? 1 : 0;
        e += v == cut ? 1 : 0;
    }
    SYNC_THREADS;
    gt[t] = g;
    eq[t] = e;
    SYNC_THREADS;
    for (int off = 1; off < 256; off <<= 1) { /* inclusive scans */
        int ag = t >= off ? gt[t - off] : 0;
        int ae = t >= off ? eq[t - off] : 0;
        SYNC_THREADS;
        gt[t] += ag;
        eq[t] += ae;
        SYNC_THREADS;
    }
    int gBefore = before[0] + gt[t] - g, eBefore = before[1] + eq[t] - e;
    GLOBAL int* out = cand + (long) qi * cap;
    for (int i = from; i < to; i++) {
        int v = sc[i];
        if (v > cut) {
            out[gBefore + min(eBefore, ties)] = i;
            gBefore++;
        } else if (v == cut) {
            if (eBefore < ties) out[gBefore + eBefore] = i;
            eBefore++;
        }
    }
}

/*
 * rerank - twin: Rerank.estimate. grid (ceil(cap/256), S*NQ) x 256. The query's lookup table
 * lut[d*16 + v] = q̂[d] * level(v) lives in local memory; one candidate per thread.
 */
KERNEL void rerank(GLOBAL const uchar* nibbles, GLOBAL const ushort* weights, GLOBAL const float* qhat,
                   GLOBAL const float* qnorm, GLOBAL const int* cand, GLOBAL const int* candCount,
                   GLOBAL float* est, int cap) {
    LOCAL_ARRAY(float, lut, HEAD_DIM * 16);
    int t = LOCAL_ID(0);
    int qi = GROUP_ID(1);
    int s = qi / NQ;
    int m = candCount[qi];
    if (GROUP_ID(0) * LOCAL_SIZE(0) >= m) return;
    for (int i = t; i < HEAD_DIM * 16; i += LOCAL_SIZE(0)) lut[i] = qhat[(long) qi * HEAD_DIM + i / 16] * signed_level(i & 15);
    SYNC_THREADS;
    int j = GROUP_ID(0) * LOCAL_SIZE(0) + t;
    if (j >= m) return;
    int key = cand[(long) qi * cap + j];
    GLOBAL const uint* nib = (GLOBAL const uint*) (nibbles + ((long) s * cap + key) * (HEAD_DIM / 2));
    GLOBAL const ushort* w = weights + ((long) s * cap + key) * BLOCKS;
#if (HEAD_DIM % 32) == 0
    uint words[BLOCKS]; /* the row's nibbles in 16-byte loads */
    for (int v4 = 0; v4 < BLOCKS / 4; v4++) {
        uint4 x = ((GLOBAL const uint4*) nib)[v4];
        words[4 * v4] = x.x; words[4 * v4 + 1] = x.y; words[4 * v4 + 2] = x.z; words[4 * v4 + 3] = x.w;
    }
#define NIB_WORD(bb) words[bb]
#else
#define NIB_WORD(bb) nib[bb]
#endif
    float acc = 0.0f;
    for (int bb = 0; bb < BLOCKS; bb++) {
        uint word = NIB_WORD(bb);
        float sum = 0.0f;
        for (int p = 0; p < 4; p++) {
            int v = (int) ((word >> (8 * p)) & 0xff);
            int d = bb * 8 + 2 * p;
            sum += lut[d * 16 + (v & 15)] + lut[(d + 1) * 16 + ((v >> 4) & 15)];
        }
        acc += bf16_to_float(w[bb]) * sum;
    }
    est[(long) qi * cap + j] = acc * qnorm[qi];
}

/* Sorts a[0..n) ascending in place: bitonic over the next power of two, padded with INT_MAX. Whole work-group calls. */
FUNC void sort_ints(LOCAL_PTR int* a, int n) {
    int t = LOCAL_ID(0);
    int L = LOCAL_SIZE(0);
    int size = 1;
    while (size < n) size <<= 1;
    for (int i = n + t; i < size; i += L) a[i] = 0x7fffffff;
    SYNC_THREADS;
    for (int width = 2; width <= size; width <<= 1) {
        for (int stride = width >> 1; stride > 0; stride >>= 1) {
            for (int i = t; i < size; i += L) {
                int j = i ^ stride;
                if (j > i) {
                    bool up = (i & width) == 0;
                    int x = a[i], y = a[j];
                    if ((x > y) == up) { a[i] = y; a[j] = x; }
                }
            }
            SYNC_THREADS;
        }
    }
}

#define SB_BATCH 8 /* estimates each thread loads before using any (the loads overlap instead of queueing) */

/*
 * The k best of m estimates e[0..m) (highest first, equal estimates by lower position) by radix select (4 passes of
 * 8 bits over descending-order keys) and a bitonic sort: on return sortKey/sortPos[0..k) hold them best first.
 * Whole work-group calls; L <= 1024.
 */
FUNC void select_best(GLOBAL const float* RESTRICT e, int m, int k, LOCAL_PTR int* bins, LOCAL_PTR int* scanbuf,
                      LOCAL_PTR uint* sel, LOCAL_PTR uint* sortKey, LOCAL_PTR int* sortPos, LOCAL_PTR int* fill) {
    int t = LOCAL_ID(0);
    int L = LOCAL_SIZE(0);
    if (t == 0) {
        sel[0] = 0u;       /* prefix of the k-th key found so far */
        sel[1] = (uint) k; /* rank still to find inside the prefix */
        fill[0] = 0;
    }
    SYNC_THREADS;
    for (int pass = 0; pass < 4; pass++) {
        int shift = 24 - 8 * pass;
        uint prefix = sel[0];
        uint mask = pass == 0 ? 0u : (0xffffffffu << (32 - 8 * pass));
        for (int i = t; i < 256; i += L) bins[i] = 0;
        SYNC_THREADS;
        for (int i0 = t; i0 < m; i0 += SB_BATCH * L) { /* SB_BATCH loads in flight per thread, then their bins */
            uint kk[SB_BATCH];
            for (int u = 0; u < SB_BATCH; u++) kk[u] = i0 + u * L < m ? desc_key(e[i0 + u * L]) : 0u;
            for (int u = 0; u < SB_BATCH; u++) {
                if (i0 + u * L < m && (kk[u] & mask) == prefix) LOCAL_HIST_INC(bins, (int) ((kk[u] >> shift) & 0xff));
            }
        }
        SYNC_THREADS;
        /* the digit d where the running count first reaches `need`: a scan, then the one thread that sees it */
        uint need = sel[1];
        int count = t < 256 ? bins[t] : 0;
        int before = exclusive_scan_256(bins, t);
        if (t < 256 && (uint) before < need && (uint) (before + count) >= need) {
            sel[2] = prefix | ((uint) t << shift);
            sel[3] = need - (uint) before;
        }
        SYNC_THREADS;
        if (t == 0) {
            sel[0] = sel[2];
            sel[1] = sel[3];
        }
        SYNC_THREADS;
    }
    uint kth = sel[0];
    int tiesWanted = (int) sel[1]; /* items equal to kth to keep, lowest positions first */
    /* keep key < kth (k - tiesWanted of them) and the first tiesWanted keys == kth */
    int per = (m + L - 1) / L;
    int from = t * per, to = min(m, from + per);
    int eqMine = 0;
    for (int i0 = from; i0 < to; i0 += SB_BATCH) {
        uint kk[SB_BATCH];
        for (int u = 0; u < SB_BATCH; u++) kk[u] = i0 + u < to ? desc_key(e[i0 + u]) : 0u;
        for (int u = 0; u < SB_BATCH; u++) eqMine += i0 + u < to && kk[u] == kth ? 1 : 0;
    }
    scanbuf[t] = eqMine;
    SYNC_THREADS;
    for (int off = 1; off < L; off <<= 1) {
        int a = t >= off ? scanbuf[t - off] : 0;
        SYNC_THREADS;
        scanbuf[t] += a;
        SYNC_THREADS;
    }
    int eqBefore = scanbuf[t] - eqMine;
    for (int i0 = from; i0 < to; i0 += SB_BATCH) {
        uint kk[SB_BATCH];
        for (int u = 0; u < SB_BATCH; u++) kk[u] = i0 + u < to ? desc_key(e[i0 + u]) : 0xffffffffu;
        for (int u = 0; u < SB_BATCH && i0 + u < to; u++) {
            uint key = kk[u];
            int i = i0 + u;
            if (key < kth) {
                int slot = ATOMIC_ADD_INT(&fill[0], 1);
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
    SYNC_THREADS;
    /* bitonic sort of k pairs padded to a power of two by (key, pos) ascending */
    int size = 1;
    while (size < k) size <<= 1;
    for (int i = k + t; i < size; i += L) {
        sortKey[i] = 0xffffffffu;
        sortPos[i] = 0x7fffffff;
    }
    SYNC_THREADS;
    for (int width = 2; width <= size; width <<= 1) {
        for (int stride = width >> 1; stride > 0; stride >>= 1) {
            for (int i = t; i < size; i += L) {
                int j = i ^ stride;
                if (j > i) {
                    bool up = (i & width) == 0;
                    uint ki = sortKey[i], kj = sortKey[j];
                    int pi = sortPos[i], pj = sortPos[j];
                    bool greater = ki > kj || (ki == kj && pi > pj);
                    if (greater == up) {
                        sortKey[i] = kj; sortKey[j] = ki;
                        sortPos[i] = pj; sortPos[j] = pi;
                    }
                }
            }
            SYNC_THREADS;
        }
    }
}

#define TOPK_SLICE 2048 /* candidates per work-group in the first top-k stage (>= KMAX) */

/*
 * topKSlice - first stage of TopK.ranked for long candidate lists. grid (slices, S*NQ) x L. Work-group (c, qi) keeps
 * the min(k, n) best of candidates [c*TOPK_SLICE, (c+1)*TOPK_SLICE) and writes them in candidate order (= token
 * order) with their estimates to partEst/partTok[qi][c * kFull ..] (kFull = min(configured top-k, TOPK_SLICE)): the best k of the union of the
 * slices' bests is the best k overall, and the concatenation stays in token order for the ties.
 */
KERNEL void topKSlice(GLOBAL const float* est, GLOBAL const int* cand, GLOBAL const int* candCount,
                      GLOBAL const int* plan, GLOBAL float* partEst, GLOBAL int* partTok, GLOBAL int* partCount,
                      int cap, int slices, int kFull) {
    LOCAL_ARRAY(int, bins, 256);
    LOCAL_ARRAY(int, scanbuf, 1024);
    LOCAL_ARRAY(uint, sel, 4);
    LOCAL_ARRAY(uint, sortKey, KMAX);
    LOCAL_ARRAY(int, sortPos, KMAX);
    LOCAL_ARRAY(int, fill, 2);
    int t = LOCAL_ID(0);
    int L = LOCAL_SIZE(0);
    int c = GROUP_ID(0);
    int qi = GROUP_ID(1);
    int s = qi / NQ;
    int from = c * TOPK_SLICE;
    int m = max(0, min(TOPK_SLICE, candCount[qi] - from));
    /* rows are kFull = min(configured top-k, TOPK_SLICE) wide for every query, whatever its own plan's k */
    int k = min(min(plan[s * PLAN_STRIDE + P_K], kFull), m);
    if (t == 0) partCount[qi * slices + c] = k;
    if (k == 0) return;
    select_best(est + (long) qi * cap + from, m, k, bins, scanbuf, sel, sortKey, sortPos, fill);
    sort_ints(sortPos, k); /* back to candidate order */
    long out = (long) qi * slices * kFull + (long) c * kFull;
    for (int i = t; i < k; i += L) {
        partEst[out + i] = est[(long) qi * cap + from + sortPos[i]];
        partTok[out + i] = cand[(long) qi * cap + from + sortPos[i]];
    }
}

/*
 * topK - twin: TopK.ranked. grid (S*NQ) x L (256 or 1024). The k best of a query's candidates, best first, in
 * ranked[qi * KMAX ..]; with NQ == 1 also the stream's selection (mergeSelection's output: ascending, count). slices == 0: straight from rerank's output (est/cand rows of `stride`, counts = candCount);
 * slices > 0: from topKSlice's partial lists (counts = partCount, summed over the slices).
 */
KERNEL void topK(GLOBAL const float* est, GLOBAL const int* cand, GLOBAL const int* counts,
                 GLOBAL const int* plan, GLOBAL int* ranked, GLOBAL int* rankedCount, GLOBAL int* selected,
                 GLOBAL int* selCount, int stride, int slices) {
    LOCAL_ARRAY(int, bins, 256);
    LOCAL_ARRAY(int, scanbuf, 1024);
    LOCAL_ARRAY(uint, sel, 4);
    LOCAL_ARRAY(uint, sortKey, KMAX);
    LOCAL_ARRAY(int, sortPos, KMAX);
    LOCAL_ARRAY(int, fill, 2);
    LOCAL_ARRAY(int, total, 1);
    int t = LOCAL_ID(0);
    int L = LOCAL_SIZE(0);
    int qi = GROUP_ID(0);
    int s = qi / NQ;
    if (t == 0) {
        int m = 0;
        if (slices == 0) m = counts[qi];
        else for (int c = 0; c < slices; c++) m += counts[qi * slices + c];
        total[0] = m;
    }
    SYNC_THREADS;
    int m = total[0];
    int k = min(plan[s * PLAN_STRIDE + P_K], m);
    if (t == 0) rankedCount[qi] = k;
    if (NQ == 1 && t == 0) selCount[s] = k;
    if (k == 0) return;
    select_best(est + (long) qi * stride, m, k, bins, scanbuf, sel, sortKey, sortPos, fill);
    GLOBAL const int* c = cand + (long) qi * stride;
    for (int i = t; i < k; i += L) ranked[(long) qi * KMAX + i] = c[sortPos[i]];
#if NQ == 1
    /* one list per stream: the selection is that list in token order, so mergeSelection need not run */
    for (int i = t; i < k; i += L) sortPos[i] = c[sortPos[i]];
    SYNC_THREADS;
    sort_ints(sortPos, k);
    for (int i = t; i < k; i += L) selected[(long) s * KMAX + i] = sortPos[i];
#endif
}

/*
 * mergeSelection - twin: GroupMerge.roundRobin (NQ > 1) or a plain sort (NQ == 1).
 * grid (S) x 256 (at most 256). Items in (rank, head) order; an item is kept when no earlier item has its token and it
 * is among the first `k` kept. Output ascending zone indices in selected[s * KMAX ..], count in selCount[s].
 */
KERNEL void mergeSelection(GLOBAL const int* ranked, GLOBAL const int* rankedCount, GLOBAL const int* plan,
                           GLOBAL int* selected, GLOBAL int* selCount) {
    LOCAL_ARRAY(int, out, KMAX);
    LOCAL_ARRAY(int, taken, 1);
    LOCAL_ARRAY(int, flag, 256);
    LOCAL_ARRAY(int, items, NQ * KMAX);
    int t = LOCAL_ID(0);
    int L = LOCAL_SIZE(0);
    int s = GROUP_ID(0);
    int k = plan[s * PLAN_STRIDE + P_K];
    int depth = 0;
    for (int h = 0; h < NQ; h++) depth = max(depth, rankedCount[s * NQ + h]);
    int total = depth * NQ;
    /* the lists in (rank, head) order, -1 where a head's list is shorter */
    for (int i = t; i < total; i += L) {
        int r = i / NQ, h = i % NQ;
        items[i] = r < rankedCount[s * NQ + h] ? ranked[((long) s * NQ + h) * KMAX + r] : -1;
    }
    if (t == 0) taken[0] = 0;
    SYNC_THREADS;
    /* chunks of L items in order; each chunk decides first occurrences, then appends in order */
    for (int base = 0; base < total; base += L) {
        if (taken[0] >= k) break;
        int i = base + t;
        int tok = i < total ? items[i] : -1;
        bool first = tok >= 0;
        for (int j = 0; j < i && first; j++) first = items[j] != tok;
        /* ordered append: exclusive scan of the first-occurrence flags (L <= 256) */
        flag[t] = first ? 1 : 0;
        SYNC_THREADS;
        for (int off = 1; off < L; off <<= 1) {
            int a = t >= off ? flag[t - off] : 0;
            SYNC_THREADS;
            flag[t] += a;
            SYNC_THREADS;
        }
        int pos = taken[0] + flag[t] - (first ? 1 : 0);
        if (first && pos < k) out[pos] = tok;
        SYNC_THREADS;
        if (t == L - 1) taken[0] = min(k, taken[0] + flag[t]);
        SYNC_THREADS;
    }
    int n = taken[0];
    sort_ints(out, n);
    for (int i = t; i < n; i += L) selected[(long) s * KMAX + i] = out[i];
    if (t == 0) selCount[s] = n;
}

/* Token position of the i-th attended token of a stream: sink, then retrieved, then local (or all, dense). */
FUNC int attended_token(GLOBAL const int* p, GLOBAL const int* sel, int selN, int i) {
    if (p[P_DENSE]) return i;
    int sinkEnd = p[P_SINK_END];
    if (i < sinkEnd) return i;
    if (i < sinkEnd + selN) return p[P_ZONE_START] + sel[i - sinkEnd];
    return p[P_ZONE_END] + (i - sinkEnd - selN);
}

FUNC int attended_count(GLOBAL const int* p, int selN) {
    if (p[P_DENSE]) return p[P_LEN];
    return p[P_SINK_END] + selN + (p[P_LEN] - p[P_ZONE_END]);
}

#define ATT_CHUNK 256 /* largest chunk (local arrays); the launch passes the chunk it uses */
#define ATT_THREADS 128
#define ATT_BATCH 8 /* rows (or partials) each thread loads before using any */
#define ATT_PREFETCH 32 /* chunks up to this many tokens keep their value rows in registers (CUDA, D = 128) */

/*
 * One chunk of attention (the body of sparseAttention and sparseAttentionStaged): work-group (c, s) attends the
 * GROUP query heads of stream s over attended tokens [c*chunk, (c+1)*chunk) and writes a partial (max, sum,
 * acc[D]) per head. K, V: the stream's bf16 rows. staged == 0: row = token position (attended_token);
 * staged == 1: row = attended index (the host packed the attended rows in order). The arithmetic is the same.
 */
FUNC void attention_chunk(GLOBAL const float* RESTRICT queries, GLOBAL const ushort* RESTRICT K,
                          GLOBAL const ushort* RESTRICT V, GLOBAL const int* RESTRICT plan,
                          GLOBAL const int* RESTRICT selected, GLOBAL const int* RESTRICT selCount,
                          GLOBAL float* RESTRICT pmax, GLOBAL float* RESTRICT psum, GLOBAL float* RESTRICT pacc, int maxChunks, int chunk, int staged,
                          LOCAL_PTR float* qs, LOCAL_PTR float* prob, LOCAL_PTR int* tok, LOCAL_PTR float* red) {
    int t = LOCAL_ID(0);
    int c = GROUP_ID(0);
    int s = GROUP_ID(1);
    int b = s / HKV, h = s % HKV;
    GLOBAL const int* p = plan + s * PLAN_STRIDE;
    int selN = p[P_DENSE] ? 0 : selCount[s];
    int total = attended_count(p, selN);
    int first = c * chunk;
    int nTok = max(0, min(chunk, total - first)); /* 0: this chunk is past the stream's tokens */
    long partBase = ((long) s * GROUP) * maxChunks + c;
    const float scale = AS_FLOAT(ROT_SCALE_BITS); /* 1/sqrt(D), the same constant */
    GLOBAL const float* qsrc = queries + ((long) b * HKV * GROUP + (long) h * GROUP) * HEAD_DIM;
    for (int i = t; i < GROUP * HEAD_DIM; i += LOCAL_SIZE(0)) qs[i] = qsrc[i];
    for (int i = t; i < nTok; i += LOCAL_SIZE(0)) tok[i] = staged ? first + i : attended_token(p, selected + (long) s * KMAX, selN, first + i);
    SYNC_THREADS;
#if PKV_HAS_WARP_SHUFFLE && HEAD_DIM == 128 && ATT_THREADS == HEAD_DIM
    /*
     * CUDA, D = 128: a sparse chunk's rows are fetched all at once. Thread t prefetches dim t of every value row
     * (chunks of at most ATT_PREFETCH tokens), then each warp takes tokens ATT_BATCH at a time, a lane reading 4
     * dims of a key row in one 8-byte load; the logits' latency then overlaps the values'.
     */
    bool prefetch = chunk <= ATT_PREFETCH;
    float vpre[ATT_PREFETCH];
    if (prefetch) {
        for (int i = 0; i < ATT_PREFETCH; i++) vpre[i] = i < nTok ? bf16_to_float(V[(long) tok[i] * HEAD_DIM + t]) : 0.0f;
    }
    {
        int lane = t & 31, warp = t >> 5, warps = LOCAL_SIZE(0) >> 5;
        float qv[GROUP * 4];
        for (int g = 0; g < GROUP; g++) {
            for (int u = 0; u < 4; u++) qv[g * 4 + u] = qs[g * HEAD_DIM + lane * 4 + u];
        }
        for (int i0 = warp; i0 < nTok; i0 += warps * ATT_BATCH) {
            uint2 kr[ATT_BATCH];
            for (int u = 0; u < ATT_BATCH; u++) {
                int i = i0 + u * warps;
                if (i < nTok) kr[u] = ((GLOBAL const uint2*) (K + (long) tok[i] * HEAD_DIM))[lane];
                else { kr[u].x = 0u; kr[u].y = 0u; }
            }
            for (int u = 0; u < ATT_BATCH; u++) {
                int i = i0 + u * warps;
                if (i >= nTok) break; /* the same for the whole warp */
                float k0 = bf16_to_float((ushort) (kr[u].x & 0xffffu)), k1 = bf16_to_float((ushort) (kr[u].x >> 16));
                float k2 = bf16_to_float((ushort) (kr[u].y & 0xffffu)), k3 = bf16_to_float((ushort) (kr[u].y >> 16));
                for (int g = 0; g < GROUP; g++) {
                    float v = qv[g * 4] * k0 + qv[g * 4 + 1] * k1 + qv[g * 4 + 2] * k2 + qv[g * 4 + 3] * k3;
                    for (int off = 16; off > 0; off >>= 1) v += SHFL_XOR(v, off);
                    if (lane == 0) prob[i * GROUP + g] = v * scale;
                }
            }
        }
    }
#elif PKV_HAS_WARP_SHUFFLE
    /* logits: one warp per token, lanes split the row (coalesced), shuffles reduce the GROUP dots */
    {
        int lane = t & 31, warp = t >> 5, warps = LOCAL_SIZE(0) >> 5;
        for (int i = warp; i < nTok; i += warps) {
            GLOBAL const ushort* row = K + (long) tok[i] * HEAD_DIM;
            float dots[GROUP];
            for (int g = 0; g < GROUP; g++) dots[g] = 0.0f;
            for (int dd = lane; dd < HEAD_DIM; dd += 32) {
                float kv = bf16_to_float(row[dd]);
                for (int g = 0; g < GROUP; g++) dots[g] += qs[g * HEAD_DIM + dd] * kv;
            }
            for (int g = 0; g < GROUP; g++) {
                float v = dots[g];
                for (int off = 16; off > 0; off >>= 1) v += SHFL_XOR(v, off);
                if (lane == 0) prob[i * GROUP + g] = v * scale;
            }
        }
    }
#else
    /* logits: one token per thread, all GROUP heads at once (each key row is read once) */
    for (int i = t; i < nTok; i += LOCAL_SIZE(0)) {
        GLOBAL const ushort* row = K + (long) tok[i] * HEAD_DIM;
        float dots[GROUP];
        for (int g = 0; g < GROUP; g++) dots[g] = 0.0f;
        for (int dd = 0; dd < HEAD_DIM; dd++) {
            float kv = bf16_to_float(row[dd]);
            for (int g = 0; g < GROUP; g++) dots[g] += qs[g * HEAD_DIM + dd] * kv;
        }
        for (int g = 0; g < GROUP; g++) prob[i * GROUP + g] = dots[g] * scale;
    }
#endif
    SYNC_THREADS;
    /* per head: max and exp-sum over the chunk */
    if (t < GROUP) {
        float mx = -INFINITY_F;
        for (int i = 0; i < nTok; i++) mx = FMAX(mx, prob[i * GROUP + t]);
        float sum = 0.0f;
        for (int i = 0; i < nTok; i++) {
            float e = EXP(prob[i * GROUP + t] - mx);
            prob[i * GROUP + t] = e;
            sum += e;
        }
        red[t] = mx;
        red[GROUP + t] = sum;
    }
    SYNC_THREADS;
    /* values: thread d accumulates dim d for every head */
#if PKV_HAS_WARP_SHUFFLE && HEAD_DIM == 128 && ATT_THREADS == HEAD_DIM
    if (prefetch) { /* the rows are in registers: the same sums in the same order */
        float accv[GROUP];
        for (int g = 0; g < GROUP; g++) accv[g] = 0.0f;
        for (int i = 0; i < ATT_PREFETCH && i < nTok; i++) {
            for (int g = 0; g < GROUP; g++) accv[g] += prob[i * GROUP + g] * vpre[i];
        }
        for (int g = 0; g < GROUP; g++) pacc[(partBase + (long) g * maxChunks) * HEAD_DIM + t] = accv[g];
    } else
#endif
    for (int dd = t; dd < HEAD_DIM; dd += LOCAL_SIZE(0)) {
        float accv[GROUP];
        for (int g = 0; g < GROUP; g++) accv[g] = 0.0f;
        for (int i0 = 0; i0 < nTok; i0 += ATT_BATCH) { /* ATT_BATCH row loads in flight, then summed in order */
            float vv[ATT_BATCH];
            for (int u = 0; u < ATT_BATCH; u++) vv[u] = i0 + u < nTok ? bf16_to_float(V[(long) tok[i0 + u] * HEAD_DIM + dd]) : 0.0f;
            for (int u = 0; u < ATT_BATCH && i0 + u < nTok; u++) {
                for (int g = 0; g < GROUP; g++) accv[g] += prob[(i0 + u) * GROUP + g] * vv[u];
            }
        }
        for (int g = 0; g < GROUP; g++) pacc[(partBase + (long) g * maxChunks) * HEAD_DIM + dd] = accv[g];
    }
    if (t < GROUP) {
        pmax[partBase + (long) t * maxChunks] = red[t];
        psum[partBase + (long) t * maxChunks] = red[GROUP + t];
    }
}

/*
 * sparseAttention - twin: SparseAttention.attend (split over the token axis, flash-decoding style).
 * grid (chunks, S) x ATT_THREADS. Work-group (c, s) attends the GROUP query heads of stream s over
 * attended tokens [c*ATT_CHUNK, (c+1)*ATT_CHUNK) and writes a partial (max, sum, acc[D]) per head.
 * keys/values: bf16 rows [S][capTok][D]. Dense streams (P_DENSE) attend every token: full attention.
 */
KERNEL void sparseAttention(GLOBAL const float* queries, GLOBAL const ushort* keys, GLOBAL const ushort* values,
                            GLOBAL const int* plan, GLOBAL const int* selected, GLOBAL const int* selCount,
                            GLOBAL float* pmax, GLOBAL float* psum, GLOBAL float* pacc, int capTok, int maxChunks,
                            int chunk) {
    LOCAL_ARRAY(float, qs, GROUP * HEAD_DIM);
    LOCAL_ARRAY(float, prob, ATT_CHUNK * GROUP);
    LOCAL_ARRAY(int, tok, ATT_CHUNK);
    LOCAL_ARRAY(float, red, GROUP * 2);
    int s = GROUP_ID(1);
    attention_chunk(queries, keys + (long) s * capTok * HEAD_DIM, values + (long) s * capTok * HEAD_DIM, plan, selected,
                    selCount, pmax, psum, pacc, maxChunks, chunk, 0, qs, prob, tok, red);
}

/*
 * sparseAttentionStaged - sparseAttention over rows the host gathered (KvPlacement.STAGED: K/V live in host
 * memory only). staged: bf16, per stream in stream order its attended rows' keys [n_s][D] then values [n_s][D],
 * n_s = attended_count (sink, selected, local window, in attended order; every row when P_DENSE). Same grid,
 * same partials, same arithmetic as sparseAttention: the outputs are equal.
 */
KERNEL void sparseAttentionStaged(GLOBAL const float* queries, GLOBAL const ushort* staged, GLOBAL const int* plan,
                                  GLOBAL const int* selected, GLOBAL const int* selCount, GLOBAL float* pmax,
                                  GLOBAL float* psum, GLOBAL float* pacc, int maxChunks, int chunk) {
    LOCAL_ARRAY(float, qs, GROUP * HEAD_DIM);
    LOCAL_ARRAY(float, prob, ATT_CHUNK * GROUP);
    LOCAL_ARRAY(int, tok, ATT_CHUNK);
    LOCAL_ARRAY(float, red, GROUP * 2);
    int s = GROUP_ID(1);
    long base = 0; /* rows (K and V) of the streams before s */
    for (int u = 0; u < s; u++) {
        GLOBAL const int* pu = plan + u * PLAN_STRIDE;
        base += 2 * (long) attended_count(pu, pu[P_DENSE] ? 0 : selCount[u]);
    }
    GLOBAL const int* p = plan + s * PLAN_STRIDE;
    long n = attended_count(p, p[P_DENSE] ? 0 : selCount[s]);
    GLOBAL const ushort* K = staged + base * HEAD_DIM;
    attention_chunk(queries, K, K + n * HEAD_DIM, plan, selected, selCount, pmax, psum, pacc, maxChunks, chunk, 1,
                    qs, prob, tok, red);
}

/*
 * attentionCombine - merges the chunk partials of sparseAttention by log-sum-exp.
 * grid (S * GROUP) x 128 (a power of two <= 256). out: [batch][Hq][D].
 */
KERNEL void attentionCombine(GLOBAL const int* RESTRICT plan, GLOBAL const int* RESTRICT selCount,
                             GLOBAL const float* RESTRICT pmax, GLOBAL const float* RESTRICT psum,
                             GLOBAL const float* RESTRICT pacc, GLOBAL float* RESTRICT out, int maxChunks, int chunk) {
    LOCAL_ARRAY(float, w, 1024);
    LOCAL_ARRAY(float, red, 256);
    int t = LOCAL_ID(0);
    int L = LOCAL_SIZE(0);
    int sg = GROUP_ID(0);
    int s = sg / GROUP;
    GLOBAL const int* p = plan + s * PLAN_STRIDE;
    int selN = p[P_DENSE] ? 0 : selCount[s];
    int chunks = (attended_count(p, selN) + chunk - 1) / chunk;
    long base = (long) sg * maxChunks;
    float m = -INFINITY_F;
    for (int c = t; c < chunks; c += L) m = FMAX(m, pmax[base + c]);
    red[t] = m;
    SYNC_THREADS;
    for (int off = L >> 1; off > 0; off >>= 1) {
        if (t < off) red[t] = FMAX(red[t], red[t + off]);
        SYNC_THREADS;
    }
    m = red[0];
    SYNC_THREADS;
    float den = 0.0f;
    for (int c = t; c < chunks; c += L) den += EXP(pmax[base + c] - m) * psum[base + c];
    red[t] = den;
    SYNC_THREADS;
    for (int off = L >> 1; off > 0; off >>= 1) {
        if (t < off) red[t] += red[t + off];
        SYNC_THREADS;
    }
    float denom = red[0];
    float acc[(HEAD_DIM + 127) / 128];
    for (int r = 0; r < (HEAD_DIM + 127) / 128; r++) acc[r] = 0.0f;
    for (int c0 = 0; c0 < chunks; c0 += 1024) {
        int cn = min(1024, chunks - c0);
        SYNC_THREADS;
        for (int c = t; c < cn; c += L) w[c] = EXP(pmax[base + c0 + c] - m);
        SYNC_THREADS;
        for (int r = 0; r * L + t < HEAD_DIM; r++) {
            int d = r * L + t;
            float a = acc[r];
            for (int cb = 0; cb < cn; cb += ATT_BATCH) { /* ATT_BATCH partial loads in flight, summed in order */
                float pv[ATT_BATCH];
                for (int u = 0; u < ATT_BATCH; u++) pv[u] = cb + u < cn ? pacc[(base + c0 + cb + u) * HEAD_DIM + d] : 0.0f;
                for (int u = 0; u < ATT_BATCH && cb + u < cn; u++) a += w[cb + u] * pv[u];
            }
            acc[r] = a;
        }
    }
    for (int r = 0; r * L + t < HEAD_DIM; r++) out[(long) sg * HEAD_DIM + r * L + t] = denom > 0.0f ? acc[r] / denom : 0.0f;
}

/*
 * encodeKeys - twin: KeyEncoder.encode (with the stream's key centre) + RetrievalIndex counts. grid (maxKeys, S) x HEAD_DIM threads
 * (at most 256). Encodes zone indices [P_ENC_FROM, P_ENC_FROM + P_ENC_COUNT) of each stream from the stored
 * bf16 keys (zone index i is token zoneStart + i) and adds each code to the centroid counts.
 */
KERNEL void encodeKeys(GLOBAL const ushort* keys, GLOBAL const float* rot, GLOBAL const float* center,
                       GLOBAL const int* plan, GLOBAL uchar* codes, GLOBAL uchar* nibbles, GLOBAL ushort* weights,
                       GLOBAL int* counts, int cap, int capTok) {
    LOCAL_ARRAY(float, x, HEAD_DIM);
    LOCAL_ARRAY(float, tmp, HEAD_DIM);
    LOCAL_ARRAY(float, normv, 1);
    int t = LOCAL_ID(0);
    int s = GROUP_ID(1);
    GLOBAL const int* p = plan + s * PLAN_STRIDE;
    int j = GROUP_ID(0);
    if (j >= p[P_ENC_COUNT]) return;
    int zi = p[P_ENC_FROM] + j;
    int token = p[P_ZONE_START] + zi;
    GLOBAL const ushort* row = keys + ((long) s * capTok + token) * HEAD_DIM;
    /* centred keys (KeyEncoder with a centre); the centre is all zeros when centring is off */
    for (int i = t; i < HEAD_DIM; i += LOCAL_SIZE(0)) x[i] = bf16_to_float(row[i]) - center[(long) s * HEAD_DIM + i];
    SYNC_THREADS;
    float norm = rotate_normalised(x, tmp, normv, rot);
    for (int bb = t; bb < BLOCKS; bb += LOCAL_SIZE(0)) {
        int base = bb * 8;
        int code = 0;
        float r2 = 0.0f;
        for (int k = 0; k < 8; k++) {
            float v = x[base + k];
            if (v >= 0.0f) code |= 1 << k;
            r2 += v * v;
        }
        long key = (long) s * cap + zi;
        codes[key * BLOCKS + bb] = (uchar) code;
        float r = SQRT(r2);
        float invR = 1.0f / FMAX(r, 1e-8f);
        float alpha = 0.0f;
        for (int k = 0; k < 8; k += 2) {
            float u0 = x[base + k] * invR, u1 = x[base + k + 1] * invR;
            int lo = (u0 >= 0.0f ? 8 : 0) | magnitude_index(FABS(u0));
            int hi = (u1 >= 0.0f ? 8 : 0) | magnitude_index(FABS(u1));
            alpha += LM_CENTERS[lo & 7] * FABS(u0);
            alpha += LM_CENTERS[hi & 7] * FABS(u1);
            nibbles[key * (HEAD_DIM / 2) + bb * 4 + (k >> 1)] = (uchar) (lo | (hi << 4));
        }
        alpha = FMAX(alpha, 1e-6f);
        weights[key * BLOCKS + bb] = float_to_bf16(r / alpha * norm);
        ATOMIC_ADD_INT(&counts[(long) s * BLOCKS * 256 + bb * 256 + code], 1);
    }
}

/*
 * appendTokens - twin: RowStore.append of one decode step. grid (S) x HEAD_DIM. Row s of newKeys/newValues
 * (bf16) becomes token P_LEN - 1 of stream s: one upload per step instead of one per stream.
 */
KERNEL void appendTokens(GLOBAL const ushort* newKeys, GLOBAL const ushort* newValues, GLOBAL const int* plan,
                         GLOBAL ushort* keys, GLOBAL ushort* values, int capTok) {
    int s = GROUP_ID(0);
    int token = plan[s * PLAN_STRIDE + P_LEN] - 1;
    for (int d = LOCAL_ID(0); d < HEAD_DIM; d += LOCAL_SIZE(0)) {
        keys[((long) s * capTok + token) * HEAD_DIM + d] = newKeys[s * HEAD_DIM + d];
        values[((long) s * capTok + token) * HEAD_DIM + d] = newValues[s * HEAD_DIM + d];
    }
}
