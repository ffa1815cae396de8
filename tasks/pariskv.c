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
 *   ATT_WINDOW      0: K/V in device memory, the attention kernels carry no device-window code (default 1)
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
 * Top-k bucket of an estimate, from its desc_key: 0 holds the highest. Non-decreasing in the key (equal estimates
 * share a bucket), so the k best are the buckets down to the k-th's, and only that one needs an exact order.
 * 16 buckets per octave of |e| in [2^-63, 2^65), clamped outside; half the buckets per sign.
 */
#define EST_BINS 4096
FUNC int est_bin(uint key) {
    uint u = key < 0x80000000u ? 0x7fffffffu - key : key; /* the float's bits again */
    int e = (int) ((u >> 23) & 0xffu) - 64;
    int mag = e < 0 ? 0 : e > 127 ? 2047 : (e << 4) | (int) ((u >> 19) & 15u);
    return key < 0x80000000u ? 2047 - mag : 2048 + mag;
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

#if PKV_HAS_WARP_SHUFFLE
/* Inclusive prefix sum of x over the work-group's first 256 threads (CUDA): shuffles inside each warp, then the 8
 * warp totals; 2 barriers instead of Hillis-Steele's 16. Whole work-group calls; threads >= 256 get 0s' sums. */
FUNC int inclusive_scan_256_warps(int x, int t) {
    __shared__ int pkvWarpSums[8];
    int lane = t & 31, w = t >> 5;
    if (t >= 256) x = 0;
    for (int off = 1; off < 32; off <<= 1) {
        int y = SHFL_UP(x, off);
        if (lane >= off) x += y;
    }
    if (lane == 31 && w < 8) pkvWarpSums[w] = x;
    SYNC_THREADS;
    for (int i = 0; i < w && i < 8; i++) x += pkvWarpSums[i];
    SYNC_THREADS; /* the sums may be reused by the next call */
    return x;
}
#endif

/* Exclusive prefix sum of 256 ints in local memory by a work-group of >= 256 threads (Hillis-Steele; warp shuffles
 * on CUDA). On return a[t] holds the inclusive sum. */
FUNC int exclusive_scan_256(LOCAL_PTR int* a, int t) {
    int v = t < 256 ? a[t] : 0;
#if PKV_HAS_WARP_SHUFFLE
    int x = inclusive_scan_256_warps(v, t);
    if (t < 256) a[t] = x;
    SYNC_THREADS;
    return t < 256 ? x - v : 0;
#else
    for (int off = 1; off < 256; off <<= 1) {
        int add = (t < 256 && t >= off) ? a[t - off] : 0;
        SYNC_THREADS;
        if (t < 256) a[t] += add;
        SYNC_THREADS;
    }
    return t < 256 ? a[t] - v : 0;
#endif
}

/*
 * prepareQuery - twin: RetrievalQuery.of + TierTable.build.
 * grid (S*NQ, BLOCKS) x 256 threads. Work-group (qi, bb) rotates its query (cheap, redone per block) and
 * builds the tier table of block bb; block 0 also stores q̂, ||q|| and clears the score histogram; the BLOCKS
 * work-groups of a query share clearing its per-tile score histograms (tileHist[qi][tile][score], SEL_TILE keys a
 * tile, the tiles its zone spans) and rerank's estimate histogram.
 */
#define SEL_TILE 4096 /* keys per candidateSelect work-group: 256 threads x 16 consecutive scores */
KERNEL void prepareQuery(GLOBAL const float* queries, GLOBAL const float* rot, GLOBAL const int* plan,
                         GLOBAL const int* counts, GLOBAL float* qhat, GLOBAL float* qnorm,
                         GLOBAL uchar* tierTable, GLOBAL int* hist, GLOBAL int* tileHist, GLOBAL int* estHist, int tiles) {
    AWAIT_INPUTS();
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
    /* what the tail needs from global memory, loaded now: the latencies overlap the rotation's */
    int myCount = t < 256 ? counts[(long) s * BLOCKS * 256 + bb * 256 + t] : 0;
    int thr[6];
    for (int i = 0; i < 6; i++) thr[i] = plan[s * PLAN_STRIDE + P_T + i];
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
    {
        int tilesNow = (plan[s * PLAN_STRIDE + P_N] + SEL_TILE - 1) / SEL_TILE;
        GLOBAL int* th = tileHist + (long) qi * tiles * HIST_BINS;
        for (int i = bb * LOCAL_SIZE(0) + t; i < tilesNow * HIST_BINS; i += BLOCKS * LOCAL_SIZE(0)) th[i] = 0;
    }
    float norm = rotate_normalised(x, tmp, normv, rot);
    if (bb == 0) {
        for (int i = t; i < HEAD_DIM; i += LOCAL_SIZE(0)) qhat[(long) qi * HEAD_DIM + i] = x[i];
        if (t == 0) qnorm[qi] = norm;
        for (int i = t; i < HIST_BINS; i += LOCAL_SIZE(0)) hist[qi * HIST_BINS + i] = 0;
    }
    for (int i = bb * LOCAL_SIZE(0) + t; i < EST_BINS; i += BLOCKS * LOCAL_SIZE(0)) estHist[(long) qi * EST_BINS + i] = 0;
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
        ordered[rank] = myCount;
    }
    SYNC_THREADS;
    int aboveAtRank = exclusive_scan_256(ordered, t); /* keys in centroids ranked above rank t */
    if (t < 256) abv[t] = aboveAtRank;
    SYNC_THREADS;
    if (c < 256) {
        int above = abv[rank];
        int tiers = 0;
        for (int i = 0; i < 6; i++) tiers += above < thr[i] ? 1 : 0;
        tierTable[(long) qi * BLOCKS * 256 + bb * 256 + c] = (uchar) tiers;
    }
}

/*
 * collisionScores - twin: CollisionCounting.scores (+ the histogram CandidateSelect builds).
 * grid (ceil(n/CS_TILE)*CS_THREADS, S) x CS_THREADS. A work-group scores a tile of CS_TILE = SEL_TILE keys in chunks
 * of CS_CHUNK (CS_KPT per thread, coalesced), loading the next chunk while it looks the current one up, so its loads
 * and lookups overlap (all of a tile at once, then all its lookups, measured 12.4 us against 11.1 pipelined in
 * profiles/gpu/floor.cu on the H100). The NQ tier tables are staged in local memory once per tile; the tile's score
 * counts are flushed once. Scores land in scores[(s*NQ + qi) * cap + key]; the per-score histogram in
 * hist[(s*NQ + qi) * HIST_BINS ..], and per tile in tileHist[((s*NQ + qi) * tiles + key / SEL_TILE) * HIST_BINS ..]
 * (candidateSelect's tile offsets).
 */
#define CS_TILE SEL_TILE
#define CS_THREADS 256
#define CS_KPT 4
#define CS_CHUNK (CS_THREADS * CS_KPT)
/* private histogram copies per work-group (one per warp): fewer colliding atomics */
#define CS_COPIES (CS_THREADS / 32)
KERNEL void collisionScores(GLOBAL const uchar* RESTRICT codes, GLOBAL const uchar* RESTRICT tierTable,
                            GLOBAL const int* RESTRICT plan, GLOBAL uchar* RESTRICT scores, GLOBAL int* RESTRICT hist,
                            GLOBAL int* RESTRICT tileHist, int cap, int tiles) {
    /* the tier tables packed 8 tiers (0..6) per word: a block's 256 tiers are 32 words, one per bank, so the
     * lanes of a warp never conflict on a lookup (a byte table did, and capped the kernel below HBM speed) */
    LOCAL_ARRAY(uint, table, NQ * BLOCKS * 32);
    LOCAL_ARRAY(int, lh, CS_COPIES * NQ * HIST_BINS);
    int t = LOCAL_ID(0);
    int s = GROUP_ID(1);
    int tile = GROUP_ID(0) * CS_TILE;
#if BLOCKS == 16
    /* D = 128: a key's codes are one 16-byte word. The first chunk's loads are issued before anything else (up to
     * the capacity: the zone's length is a load too), the tier tables staged while they are in flight. */
    uint4 cur[CS_KPT], nxt[CS_KPT];
    for (int r = 0; r < CS_KPT; r++) {
        int key = tile + t + r * CS_THREADS;
        cur[r] = key < cap ? ((GLOBAL const uint4*) codes)[(long) s * cap + key] : UINT4_ZERO;
    }
#endif
    AWAIT_INPUTS(); /* the codes are older than the kernel before (pkv.h): only the tier tables wait */
    int n = plan[s * PLAN_STRIDE + P_N];
    if (tile >= n) return; /* whole work-group beyond this stream's zone */
    int end = min(n, tile + CS_TILE);
    GLOBAL const uchar* tt = tierTable + (long) s * NQ * BLOCKS * 256;
    for (int i = t; i < NQ * BLOCKS * 32; i += LOCAL_SIZE(0)) {
        uint2 b8 = ((GLOBAL const uint2*) tt)[i]; /* 8 tiers, one load */
        uint w = 0u;
        for (int j = 0; j < 4; j++) w |= ((b8.x >> (8 * j)) & 15u) << (4 * j);
        for (int j = 0; j < 4; j++) w |= ((b8.y >> (8 * j)) & 15u) << (4 * (j + 4));
        table[i] = w;
    }
    for (int i = t; i < CS_COPIES * NQ * HIST_BINS; i += LOCAL_SIZE(0)) lh[i] = 0;
    SYNC_THREADS;
    LOCAL_PTR int* mine = lh + ((t >> 5) % CS_COPIES) * NQ * HIST_BINS;
#define TIER(qi, bb, c) ((int) ((table[((qi) * BLOCKS + (bb)) * 32 + ((c) >> 3)] >> (4 * ((c) & 7))) & 15u))
#if BLOCKS == 16
    /* The lookups are most of the kernel's instructions, so each is cut to a byte permute, a local load and a
     * rotate: per 4-code word, every code's word offset (c >> 3) * 4 and nibble shift (c & 7) * 4 are prepared
     * at once, the rotate needs no masked count, and two tiers (<= 6 each) are masked together (no carry reaches
     * bit 4). 16.1 -> 13.0 us in profiles/gpu/floor.cu on the H100. */
    for (int base = tile; base < end; base += CS_CHUNK) {
        for (int r = 0; r < CS_KPT; r++) {
            int key = base + CS_CHUNK + t + r * CS_THREADS;
            nxt[r] = key < end ? ((GLOBAL const uint4*) codes)[(long) s * cap + key] : UINT4_ZERO;
        }
        for (int r = 0; r < CS_KPT; r++) {
            int key = base + t + r * CS_THREADS;
            if (key >= end) break;
            uint w4[4] = {cur[r].x, cur[r].y, cur[r].z, cur[r].w};
            for (int qi = 0; qi < NQ; qi++) {
                int sc = 0;
                for (int q = 0; q < 4; q++) {
                    uint off = (w4[q] >> 1) & 0x7c7c7c7cu;   /* (c >> 3) * 4 per byte: the table word's byte offset */
                    uint sh = (w4[q] & 0x07070707u) << 2;  /* (c & 7) * 4 per byte: its nibble; ROTR reads the low 5 bits */
                    LOCAL_PTR const uchar* tb = (LOCAL_PTR const uchar*) (table + (qi * BLOCKS + 4 * q) * 32);
                    uint x0 = *(LOCAL_PTR const uint*) (tb + BYTE_OF(off, 0));
                    uint x1 = *(LOCAL_PTR const uint*) (tb + 128 + BYTE_OF(off, 1));
                    uint x2 = *(LOCAL_PTR const uint*) (tb + 256 + BYTE_OF(off, 2));
                    uint x3 = *(LOCAL_PTR const uint*) (tb + 384 + (off >> 24));
                    uint a = ROTR(x0, sh) + ROTR(x1, sh >> 8);
                    uint b = ROTR(x2, sh >> 16) + ROTR(x3, sh >> 24);
                    sc += (int) ((a & 15u) + (b & 15u));
                }
                scores[((long) s * NQ + qi) * cap + key] = (uchar) sc;
                ATOMIC_ADD_INT(&mine[qi * HIST_BINS + sc], 1);
            }
        }
        for (int r = 0; r < CS_KPT; r++) cur[r] = nxt[r];
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
        if (sum != 0) {
            ATOMIC_ADD_INT(&hist[s * NQ * HIST_BINS + i], sum);
            int qi = s * NQ + i / HIST_BINS, bin = i % HIST_BINS;
            ATOMIC_ADD_INT(&tileHist[((long) qi * tiles + tile / SEL_TILE) * HIST_BINS + bin], sum);
        }
    }
}

/* The cut score and the number of keys at the cut to keep, from a query's score histogram (one thread). */
FUNC void candidate_cut(GLOBAL const int* hh, int count, LOCAL_PTR int* cutv) {
    int cut = MAX_SCORE, above = 0;
    while (cut > 0 && above + hh[cut] < count) above += hh[cut--];
    cutv[0] = cut;
    cutv[1] = count - above;
}

#if HIST_BINS <= 256
/*
 * The same cut by the whole work-group (>= 256 threads): the bins are loaded at once and suffix-summed by a scan,
 * and the one thread whose bin the serial walk stops at writes it (the walk's loads, one after another, cost
 * microseconds). Thread t holds bin MAX_SCORE - t: incl = keys in bins >= it, excl = keys in bins above it.
 */
FUNC void candidate_cut_parallel(GLOBAL const int* hh, int count, LOCAL_PTR int* cutv, LOCAL_PTR int* work) {
    int t = LOCAL_ID(0);
    int b = MAX_SCORE - t;
    if (t < 256) work[t] = b >= 0 ? hh[b] : 0;
    SYNC_THREADS;
    int excl = exclusive_scan_256(work, t);
    int incl = t < 256 ? work[t] : 0;
    bool stop = b == 0 ? excl < count                         /* the walk ends at bin 0 whatever it holds */
                       : b > 0 && incl >= count && (t == 0 || excl < count);
    if (stop) {
        cutv[0] = b;
        cutv[1] = count - excl;
    }
}
#endif

/*
 * candidateSelect - twin: CandidateSelect.select. grid (ceil(cap/SEL_TILE)*256, S*NQ) x 256.
 * Keys above the cut are kept, keys at the cut in token order until the count is met; each tile finds its
 * output offset from the per-tile histograms collisionScores left of the tiles before it (no counting pass).
 * Output ascending zone indices in cand[qi * cap ..].
 */
KERNEL void candidateSelect(GLOBAL const uchar* scores, GLOBAL const int* hist, GLOBAL const int* plan,
                            GLOBAL const int* tileHist, GLOBAL int* cand, GLOBAL int* candCount, int cap, int tiles) {
    AWAIT_INPUTS();
    LOCAL_ARRAY(int, cutv, 2);
#if !PKV_HAS_WARP_SHUFFLE
    LOCAL_ARRAY(int, gt, 256); /* the scans' work arrays (CUDA scans by shuffles) */
    LOCAL_ARRAY(int, eq, 256);
#endif
    LOCAL_ARRAY(int, before, 2);
    int t = LOCAL_ID(0);
    int qi = GROUP_ID(1);
    int s = qi / NQ;
    int tile = GROUP_ID(0);
    /* this thread's 16 scores, loaded first (up to the capacity: the zone's length is a load too): their latency
     * overlaps the plan's, the cut's and the offsets' */
    GLOBAL const uchar* sc = scores + (long) qi * cap;
    int from = tile * SEL_TILE + t * 16;
    int v16[16];
    for (int u = 0; u < 16; u++) v16[u] = from + u < cap ? (int) sc[from + u] : -1;
    int n = plan[s * PLAN_STRIDE + P_N];
    int count = plan[s * PLAN_STRIDE + P_CAND];
    if (tile == 0 && t == 0) candCount[qi] = count;
    if (tile * SEL_TILE >= n) return;
    for (int u = 0; u < 16; u++) v16[u] = from + u < n ? v16[u] : -1;
#if HIST_BINS <= 256
    LOCAL_ARRAY(int, cutWork, 256);
    candidate_cut_parallel(hist + qi * HIST_BINS, count, cutv, cutWork);
#else
    if (t == 0) candidate_cut(hist + qi * HIST_BINS, count, cutv);
#endif
    SYNC_THREADS;
    int cut = cutv[0], ties = cutv[1];
    /* keys above / at the cut in the tiles before this one: their histograms' bins from the cut up */
    int pg = 0, pe = 0;
    int width = MAX_SCORE + 1 - cut;
    GLOBAL const int* th = tileHist + (long) qi * tiles * HIST_BINS;
    for (int i = t; i < tile * width; i += LOCAL_SIZE(0)) {
        int c = i / width, bin = cut + i % width;
        int v = th[c * HIST_BINS + bin];
        if (bin == cut) pe += v;
        else pg += v;
    }
    int g = 0, e = 0;
    for (int u = 0; u < 16; u++) {
        g += v16[u] > cut ? 1 : 0;
        e += v16[u] == cut ? 1 : 0;
    }
#if PKV_HAS_WARP_SHUFFLE
    /* the tiles before (their total is the last inclusive sum) and this tile's offsets: shuffle scans */
    int pgAll = inclusive_scan_256_warps(pg, t), peAll = inclusive_scan_256_warps(pe, t);
    if (t == 255) {
        before[0] = pgAll;
        before[1] = peAll;
    }
    int gIncl = inclusive_scan_256_warps(g, t), eIncl = inclusive_scan_256_warps(e, t); /* their barriers publish before[] */
    int gBefore = before[0] + gIncl - g, eBefore = before[1] + eIncl - e;
#else
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
#endif
    GLOBAL int* out = cand + (long) qi * cap;
    for (int u = 0; u < 16; u++) {
        int v = v16[u], i = from + u;
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
 * lut[d*16 + v] = q̂[d] * level(v) lives in local memory; one candidate per thread. Each estimate is also counted
 * in the query's estHist[qi * EST_BINS + est_bin] (cleared by prepareQuery), which lets topK find its k-th bucket
 * without a pass. A thread issues its candidate's row loads before the table is built (the latencies overlap) and
 * counts straight into global memory, one atomic per distinct bucket of its warp: the buckets are fine enough that a
 * work-group histogram saved no atomics and cost a 16 KiB clear and flush.
 */
KERNEL void rerank(GLOBAL const uchar* nibbles, GLOBAL const ushort* weights, GLOBAL const float* qhat,
                   GLOBAL const float* qnorm, GLOBAL const int* cand, GLOBAL const int* candCount,
                   GLOBAL float* est, GLOBAL int* estHist, int cap) {
    AWAIT_INPUTS();
    LOCAL_ARRAY(float, lut, HEAD_DIM * 16);
    int t = LOCAL_ID(0);
    int L = LOCAL_SIZE(0);
    int qi = GROUP_ID(1);
    int s = qi / NQ;
    int j = GROUP_ID(0) * L + t;
    /* the count and this thread's candidate in one round trip (cand is allocated to cap; a slot past the count
     * holds a stale index and is not used) */
    int key = j < cap ? cand[(long) qi * cap + j] : 0;
    int m = candCount[qi];
    if (GROUP_ID(0) * L >= m) return;
    bool live = j < m;
#if (HEAD_DIM % 32) == 0 && BLOCKS == 16
    uint words[BLOCKS];   /* the row's nibbles in 16-byte loads */
    uint wpair[BLOCKS / 2]; /* its 16 bf16 weights in two 16-byte loads */
    for (int i = 0; i < BLOCKS; i++) words[i] = 0u;
    for (int i = 0; i < BLOCKS / 2; i++) wpair[i] = 0u;
    if (live) {
        GLOBAL const uint4* nib4 = (GLOBAL const uint4*) (nibbles + ((long) s * cap + key) * (HEAD_DIM / 2));
        GLOBAL const uint4* w4 = (GLOBAL const uint4*) (weights + ((long) s * cap + key) * BLOCKS);
        for (int v4 = 0; v4 < BLOCKS / 4; v4++) {
            uint4 x = nib4[v4];
            words[4 * v4] = x.x; words[4 * v4 + 1] = x.y; words[4 * v4 + 2] = x.z; words[4 * v4 + 3] = x.w;
        }
        for (int v4 = 0; v4 < 2; v4++) {
            uint4 x = w4[v4];
            wpair[4 * v4] = x.x; wpair[4 * v4 + 1] = x.y; wpair[4 * v4 + 2] = x.z; wpair[4 * v4 + 3] = x.w;
        }
    }
#define NIB_WORD(bb) words[bb]
#define WEIGHT(bb) bf16_to_float((ushort) ((wpair[(bb) >> 1] >> (16 * ((bb) & 1))) & 0xffffu))
#else
    GLOBAL const uint* nib = 0;
    GLOBAL const ushort* w = 0;
    if (live) {
        nib = (GLOBAL const uint*) (nibbles + ((long) s * cap + key) * (HEAD_DIM / 2));
        w = weights + ((long) s * cap + key) * BLOCKS;
    }
#define NIB_WORD(bb) nib[bb]
#define WEIGHT(bb) bf16_to_float(w[bb])
#endif
    /* a thread fills entries of one level (i & 15 stays t & 15 when L is a multiple of 16, as launched) */
    float level = signed_level(t & 15);
    for (int i = t; i < HEAD_DIM * 16; i += L) lut[i] = qhat[(long) qi * HEAD_DIM + i / 16] * ((L & 15) == 0 ? level : signed_level(i & 15));
    SYNC_THREADS;
    if (!live) return;
    float acc = 0.0f;
    for (int bb = 0; bb < BLOCKS; bb++) {
        uint word = NIB_WORD(bb);
        /* byte offsets of each byte's low and high nibble entry (v * 4), prepared for the 4 bytes at once */
        uint lo = (word << 2) & 0x3c3c3c3cu, hi = (word >> 2) & 0x3c3c3c3cu;
        LOCAL_PTR const uchar* row = (LOCAL_PTR const uchar*) (lut + bb * 8 * 16);
        float sum = 0.0f;
        sum += *(LOCAL_PTR const float*) (row + 0 * 64 + BYTE_OF(lo, 0)) + *(LOCAL_PTR const float*) (row + 1 * 64 + BYTE_OF(hi, 0));
        sum += *(LOCAL_PTR const float*) (row + 2 * 64 + BYTE_OF(lo, 1)) + *(LOCAL_PTR const float*) (row + 3 * 64 + BYTE_OF(hi, 1));
        sum += *(LOCAL_PTR const float*) (row + 4 * 64 + BYTE_OF(lo, 2)) + *(LOCAL_PTR const float*) (row + 5 * 64 + BYTE_OF(hi, 2));
        sum += *(LOCAL_PTR const float*) (row + 6 * 64 + BYTE_OF(lo, 3)) + *(LOCAL_PTR const float*) (row + 7 * 64 + BYTE_OF(hi, 3));
        acc += WEIGHT(bb) * sum;
    }
#undef NIB_WORD
#undef WEIGHT
    float e = acc * qnorm[qi];
    est[(long) qi * cap + j] = e;
    HIST_INC(estHist + (long) qi * EST_BINS, est_bin(desc_key(e)));
}

/* Threads that share each of n items when ranking them: a power of two (at most 32) with n * T <= min(L, room). */
FUNC int split_of(int n, int room) {
    int lim = min(LOCAL_SIZE(0), room);
    int T = 1;
    while (T < 32 && 2 * T * n <= lim) T <<= 1;
    return T;
}

/*
 * Orders n distinct ints a[0..n) for ascending_index. Few (n^2 <= 64 L): by counting, part[p*n + i] = how many of a
 * are below a[i] in share p of T = split_of(n, room), one barrier for n^2 / (T L) reads per thread. Many: a bitonic
 * network sorts a in place (log^2 n barriers; a has room for the next power of two). Whole work-group calls.
 */
FUNC void order_ints(LOCAL_PTR int* a, int n, LOCAL_PTR int* part, int room) {
    int t = LOCAL_ID(0);
    int L = LOCAL_SIZE(0);
    if (n * n <= 64 * L) {
        int T = split_of(n, room);
        for (int w = t; w < n * T; w += L) {
            int i = w / T, p = w % T;
            int v = a[i], c = 0;
            for (int j = p; j < n; j += T) c += a[j] < v ? 1 : 0;
            part[p * n + i] = c;
        }
        SYNC_THREADS;
        return;
    }
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

/* Where a[i] belongs in ascending order, once order_ints has run. */
FUNC int ascending_index(LOCAL_PTR const int* part, int n, int room, int i) {
    if (n * n > 64 * LOCAL_SIZE(0)) return i;
    int T = split_of(n, room), r = 0;
    for (int p = 0; p < T; p++) r += part[p * n + i];
    return r;
}

#define SB_BATCH 8 /* estimates each thread loads before using any (the loads overlap instead of queueing) */
#define TOPK_CAP 2560 /* items topK ranks in local memory (>= TOPK_SLICE): the buckets down to the k-th's, else radix */
#define TOPK_BUCKET 512 /* the most items of one bucket ranked by counting (n reads each); more: radix */

/*
 * The bucket of the k-th best: hp[0..EST_BINS) holds the bucket counts, a thread owning EST_BINS / L consecutive
 * buckets (L a power of two, 32..1024); on return hp[b] = the items in buckets before b, where b's start in best-first
 * order. Returns the items in the buckets down to the k-th's (INT_MAX when the counts hold fewer than k), that bucket
 * in ctl[0], the largest of those buckets in ctl[2]. part: L + L/32 ints of scratch. Three barriers: a sum per
 * thread, per 32 threads, then each its own prefix.
 */
FUNC int est_boundary(LOCAL_PTR int* hp, int k, LOCAL_PTR int* part, LOCAL_PTR int* ctl) {
    int t = LOCAL_ID(0);
    int L = LOCAL_SIZE(0);
    int per = EST_BINS / L, b0 = t * per;
    int mine = 0;
    for (int c = 0; c < per; c++) mine += hp[b0 + c];
    part[t] = mine;
    if (t == 0) {
        ctl[1] = 0x7fffffff;
        ctl[2] = 0;
    }
    SYNC_THREADS;
    if (t < L / 32) { /* lane t starts at word t of its row: no two lanes on one bank */
        int g = 0;
        for (int i = 0; i < 32; i++) g += part[t * 32 + ((i + t) & 31)];
        part[L + t] = g;
    }
    SYNC_THREADS;
    int before = 0;
    for (int g = 0; g < t / 32; g++) before += part[L + g];
    for (int i = t & ~31; i < t; i++) before += part[i];
    int widest = 0;
    for (int c = 0; c < per; c++) {
        int h = hp[b0 + c];
        if (before < k) widest = max(widest, h); /* a bucket down to the k-th's */
        if (before < k && before + h >= k) {
            ctl[0] = b0 + c;
            ctl[1] = before + h;
        }
        hp[b0 + c] = before;
        before += h;
    }
    if (widest > 0) ATOMIC_MAX(&ctl[2], widest);
    SYNC_THREADS;
    return ctl[1];
}

/*
 * One pass over e[0..m): every item of the buckets down to `beta` goes to its bucket's next slot (hp[b], counted up),
 * as (desc_key, position). Afterwards hp[b] is bucket b's end and, the counts being exact, hp[b - 1] its start.
 */
#define TOPK_PREFETCH 16 /* estimates per thread the top-k kernels load before the boundary bucket is known */

FUNC void gather_buckets(GLOBAL const float* RESTRICT e, int m, int beta, LOCAL_PTR int* hp, LOCAL_PTR uint* itemKey,
                         LOCAL_PTR int* itemPos, const float* pre) {
    int t = LOCAL_ID(0);
    int L = LOCAL_SIZE(0);
    for (int u = 0; u < TOPK_PREFETCH; u++) { /* e[t + u*L], loaded by the caller */
        int i = t + u * L;
        uint key = desc_key(pre[u]);
        if (i < m && est_bin(key) <= beta) {
            int slot = ATOMIC_ADD_INT(&hp[est_bin(key)], 1);
            if (slot < TOPK_CAP) {
                itemKey[slot] = key;
                itemPos[slot] = i;
            }
        }
    }
    for (int i0 = t + TOPK_PREFETCH * L; i0 < m; i0 += SB_BATCH * L) { /* SB_BATCH loads in flight per thread, then their buckets */
        uint kk[SB_BATCH];
        for (int u = 0; u < SB_BATCH; u++) kk[u] = i0 + u * L < m ? desc_key(e[i0 + u * L]) : 0xffffffffu;
        for (int u = 0; u < SB_BATCH; u++) {
            int b = est_bin(kk[u]);
            if (i0 + u * L < m && b <= beta) {
                int slot = ATOMIC_ADD_INT(&hp[b], 1);
                if (slot < TOPK_CAP) {
                    itemKey[slot] = kk[u];
                    itemPos[slot] = i0 + u * L;
                }
            }
        }
    }
    SYNC_THREADS;
}

/*
 * Ranks n items (desc_key, position) best first, ascending (key, position), into hp[rank] = position for rank < k.
 * An item meets only its own bucket, [hp[b-1], hp[b]) after gather_buckets, whose start is already its rank among
 * the others; oneBucket: all n form one (the radix path's k). T threads share an item's bucket.
 */
FUNC void rank_items(LOCAL_PTR const uint* itemKey, LOCAL_PTR const int* itemPos, int n, int k, LOCAL_PTR int* hp,
                     int oneBucket, LOCAL_PTR int* part) {
    int t = LOCAL_ID(0);
    int L = LOCAL_SIZE(0);
    int T = split_of(n, TOPK_CAP);
    for (int w = t; w < n * T; w += L) {
        int i = w / T, p = w % T;
        uint ki = itemKey[i];
        int pi = itemPos[i];
        int b = est_bin(ki);
        int lo = oneBucket || b == 0 ? 0 : hp[b - 1], hi = oneBucket ? n : hp[b];
        int c = p == 0 ? lo : 0;
        for (int j = lo + p; j < hi; j += T) {
            uint kj = itemKey[j];
            c += kj < ki || (kj == ki && itemPos[j] < pi) ? 1 : 0;
        }
        part[p * n + i] = c;
    }
    SYNC_THREADS;
    for (int i = t; i < n; i += L) {
        int r = 0;
        for (int p = 0; p < T; p++) r += part[p * n + i];
        if (r < k) hp[r] = itemPos[i];
    }
    SYNC_THREADS;
}

/*
 * The k of m estimates e[0..m) that rank best (highest first, equal estimates by lower position) by radix select
 * (4 passes of 8 bits over descending-order keys): on return sortKey/sortPos[0..k) hold them, in no order. The
 * fallback of select_top when the k-th's bucket is crowded (ties, flat estimates); whole work-group calls, L <= 1024.
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
}

/*
 * The k best of m estimates e[0..m) (highest first, equal estimates by lower position): their positions best first
 * in hp[0..k). On entry hp holds e's bucket counts as est_boundary reads them. The buckets down to the k-th's are
 * gathered in one pass and ranked within their buckets; more than TOPK_CAP items there, or more than TOPK_BUCKET in
 * one of them (ties, flat estimates), and radix select finds the k.
 * Buckets may count a superset of e (topK over topKSlice's lists: rerank counted every candidate): the items of the
 * buckets above the k-th's are then still all in e, and of the k-th's those that rank. pre[u] holds e[t + u*L]
 * for u < TOPK_PREFETCH (any value where that is >= m): the caller's loads overlap the histogram's.
 */
FUNC void select_top(GLOBAL const float* RESTRICT e, int m, int k, LOCAL_PTR int* hp, LOCAL_PTR uint* itemKey,
                     LOCAL_PTR int* itemPos, LOCAL_PTR int* part, LOCAL_PTR uint* sel, LOCAL_PTR int* ctl, const float* pre) {
    int n = est_boundary(hp, k, part, ctl);
    if (n <= TOPK_CAP && ctl[2] <= TOPK_BUCKET) {
        int beta = ctl[0];
        gather_buckets(e, m, beta, hp, itemKey, itemPos, pre);
        rank_items(itemKey, itemPos, min(hp[beta], TOPK_CAP), k, hp, 0, part);
    } else {
        select_best(e, m, k, hp, hp + 256, sel, itemKey, itemPos, ctl + 3);
        rank_items(itemKey, itemPos, k, k, hp, 1, part);
    }
}

#define TOPK_SLICE 2048 /* candidates per work-group in the first top-k stage (>= KMAX, <= TOPK_CAP) */

/*
 * topKSlice - first stage of TopK.ranked for long candidate lists. grid (slices, S*NQ) x L. Work-group (c, qi) keeps
 * the min(k, n) best of candidates [c*TOPK_SLICE, (c+1)*TOPK_SLICE) and writes them in candidate order (= token
 * order) with their estimates to partEst/partTok[qi][c * kFull ..] (kFull = min(configured top-k, TOPK_SLICE)): the best k of the union of the
 * slices' bests is the best k overall, and the concatenation stays in token order for the ties. select_top starts
 * from the slice's own bucket counts (rerank's are the whole list's).
 */
KERNEL void topKSlice(GLOBAL const float* est, GLOBAL const int* cand, GLOBAL const int* candCount,
                      GLOBAL const int* plan, GLOBAL float* partEst, GLOBAL int* partTok, GLOBAL int* partCount,
                      int cap, int slices, int kFull) {
    AWAIT_INPUTS();
    LOCAL_ARRAY(int, hp, EST_BINS);
    LOCAL_ARRAY(uint, itemKey, TOPK_CAP);
    LOCAL_ARRAY(int, itemPos, TOPK_CAP);
    LOCAL_ARRAY(int, part, TOPK_CAP);
    LOCAL_ARRAY(uint, sel, 4);
    LOCAL_ARRAY(int, ctl, 4);
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
    GLOBAL const float* e = est + (long) qi * cap + from;
    float pre[TOPK_PREFETCH];
    for (int u = 0; u < TOPK_PREFETCH; u++) pre[u] = t + u * L < m ? e[t + u * L] : 0.0f;
    for (int i = t; i < EST_BINS; i += L) hp[i] = 0;
    SYNC_THREADS;
    for (int i = t; i < m; i += L) LOCAL_HIST_INC(hp, est_bin(desc_key(i < TOPK_PREFETCH * L ? pre[(i - t) / L] : e[i])));
    SYNC_THREADS;
    select_top(e, m, k, hp, itemKey, itemPos, part, sel, ctl, pre);
    order_ints(hp, k, part, TOPK_CAP); /* back to candidate order */
    long out = (long) qi * slices * kFull + (long) c * kFull;
    for (int i = t; i < k; i += L) {
        int r = ascending_index(part, k, TOPK_CAP, i), p = hp[i];
        partEst[out + r] = e[p];
        partTok[out + r] = cand[(long) qi * cap + from + p];
    }
}

/*
 * topK - twin: TopK.ranked. grid (S*NQ) x L (256 or 1024). The k best of a query's candidates, best first, in
 * ranked[qi * KMAX ..]; with NQ == 1 also the stream's selection (mergeSelection's output: ascending, count). slices == 0: straight from rerank's output (est/cand rows of `stride`, counts = candCount);
 * slices > 0: from topKSlice's partial lists (counts = partCount, summed over the slices). Either way estHist holds
 * rerank's bucket counts of the query's candidates, from which select_top starts.
 */
KERNEL void topK(GLOBAL const float* est, GLOBAL const int* cand, GLOBAL const int* counts, GLOBAL const int* estHist,
                 GLOBAL const int* plan, GLOBAL int* ranked, GLOBAL int* rankedCount, GLOBAL int* selected,
                 GLOBAL int* selCount, int stride, int slices) {
    AWAIT_INPUTS();
    LOCAL_ARRAY(int, hp, EST_BINS);
    LOCAL_ARRAY(uint, itemKey, TOPK_CAP);
    LOCAL_ARRAY(int, itemPos, TOPK_CAP);
    LOCAL_ARRAY(int, part, TOPK_CAP);
    LOCAL_ARRAY(uint, sel, 4);
    LOCAL_ARRAY(int, ctl, 4);
    LOCAL_ARRAY(int, total, 1);
    int t = LOCAL_ID(0);
    int L = LOCAL_SIZE(0);
    int qi = GROUP_ID(0);
    int s = qi / NQ;
    int planK = plan[s * PLAN_STRIDE + P_K];
    /* the first estimates are loaded now (rows hold `stride`: in bounds whatever m is), so they arrive with the buckets */
    GLOBAL const float* e = est + (long) qi * stride;
    float pre[TOPK_PREFETCH];
    for (int u = 0; u < TOPK_PREFETCH; u++) pre[u] = t + u * L < stride ? e[t + u * L] : 0.0f;
    /* each thread loads the buckets est_boundary has it own (no barrier), while thread 0 sums the counts */
    int per = EST_BINS / L;
    for (int b = t * per; b < (t + 1) * per; b++) hp[b] = estHist[(long) qi * EST_BINS + b];
    if (t == 0) {
        int m = 0;
        if (slices == 0) m = counts[qi];
        else for (int c = 0; c < slices; c++) m += counts[qi * slices + c];
        total[0] = m;
    }
    SYNC_THREADS;
    int m = total[0];
    int k = min(planK, m);
    if (t == 0) rankedCount[qi] = k;
    if (NQ == 1 && t == 0) selCount[s] = k;
    if (k == 0) return;
    select_top(e, m, k, hp, itemKey, itemPos, part, sel, ctl, pre);
    GLOBAL const int* c = cand + (long) qi * stride;
    for (int i = t; i < k; i += L) {
        int tok = c[hp[i]];
        ranked[(long) qi * KMAX + i] = tok;
        itemPos[i] = tok;
    }
#if NQ == 1
    /* one list per stream: the selection is that list in token order, so mergeSelection need not run */
    SYNC_THREADS;
    order_ints(itemPos, k, part, TOPK_CAP);
    for (int i = t; i < k; i += L) selected[(long) s * KMAX + ascending_index(part, k, TOPK_CAP, i)] = itemPos[i];
#endif
}

/*
 * mergeSelection - twin: GroupMerge.roundRobin (NQ > 1) or a plain sort (NQ == 1).
 * grid (S) x 256 (at most 256). Items in (rank, head) order; an item is kept when no earlier item has its token and it
 * is among the first `k` kept. Output ascending zone indices in selected[s * KMAX ..], count in selCount[s].
 */
KERNEL void mergeSelection(GLOBAL const int* ranked, GLOBAL const int* rankedCount, GLOBAL const int* plan,
                           GLOBAL int* selected, GLOBAL int* selCount) {
    AWAIT_INPUTS();
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
    order_ints(out, n, items, NQ * KMAX); /* the items are done with: their room holds the counts */
    for (int i = t; i < n; i += L) selected[(long) s * KMAX + ascending_index(items, n, NQ * KMAX, i)] = out[i];
    if (t == 0) selCount[s] = n;
}

/* Token position at canonical index i of a stream: sink, then retrieved, then local (or all, dense); attended_index
 * maps an attended position to its canonical index. */
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

/*
 * The device window (K/V placed in host memory): per stream [ringBase + ring][D] rows on the device, sink token t at
 * row t (t < ringBase), a later token t at ringBase + (t & (ring - 1)). appendTokens writes every new row there too,
 * and a sparse step reads its sink and local rows there: only the top-k rows come from host memory.
 */
FUNC int window_slot(int token, int ringBase, int ring) {
    return token < ringBase ? token : ringBase + (token & (ring - 1));
}

/*
 * The canonical index (sink rows, then the top-k rows, then the local rows: attended_token's order, the staged
 * rows' packing) of attended position i. A sparse step attends its top-k rows spread evenly over the positions
 * (position i holds one when floor((i + 1) selN / n) > floor(i selN / n)), the sink and local rows in order between
 * them: with K/V in host memory the top-k rows are the only ones read from there, and spread out every chunk's
 * work-group waits for a few of them instead of a few work-groups for all. Every placement uses the same order,
 * so their outputs stay equal bit for bit.
 */
FUNC int attended_index(GLOBAL const int* p, int selN, int i) {
    if (p[P_DENSE]) return i;
    int n = attended_count(p, selN);
    int before = (int) ((long) i * selN / n); /* top-k rows at positions below i */
    int sinkEnd = p[P_SINK_END];
    if ((int) ((long) (i + 1) * selN / n) > before) return sinkEnd + before;
    int w = i - before; /* the w-th sink or local row */
    return w < sinkEnd ? w : w + selN;
}

/* Attended position i's row: >= 0 a token of the K/V rows, < 0 -(slot + 1) in the device window (ring > 0: the
 * sink and local rows of a sparse step). */
FUNC int attended_row(GLOBAL const int* p, GLOBAL const int* sel, int selN, int i, int ringBase, int ring) {
    int j = attended_index(p, selN, i);
    int tok = attended_token(p, sel, selN, j);
    if (ring == 0 || p[P_DENSE]) return tok;
    int sinkEnd = p[P_SINK_END];
    if (j < sinkEnd || j >= sinkEnd + selN) return -(window_slot(tok, ringBase, ring) + 1);
    return tok;
}

/* Attended position i's row over staged rows: >= 0 its row in the stream's packed block, < 0 -(slot + 1) in the
 * device window (ring > 0: the sink and local rows of a sparse step; the block then holds the top-k rows only). */
FUNC int staged_row(GLOBAL const int* p, GLOBAL const int* sel, int selN, int i, int ringBase, int ring) {
    int j = attended_index(p, selN, i);
    if (ring == 0 || p[P_DENSE]) return j;
    int sinkEnd = p[P_SINK_END];
    if (j >= sinkEnd && j < sinkEnd + selN) return j - sinkEnd;
    return -(window_slot(attended_token(p, sel, selN, j), ringBase, ring) + 1);
}

/* The bf16 row of attended_row r: B (the stream's K/V rows) or BW (its device window). Read through LOAD_RO: a
 * row chosen between two buffers loses what RESTRICT tells the compiler, and with it read-only loads that batch
 * (measured: our full attention at half speed). */
#define ROW_OF(B, BW, r) ((r) >= 0 ? (B) + (long) (r) * HEAD_DIM : (BW) + (long) (-(r) - 1) * HEAD_DIM)
/* In attention_chunk: win (a constant where it is inlined, or ATT_WINDOW 0) 0 keeps the plain row address, no
 * choice per load (the choice halved our full attention's speed) */
#ifndef ATT_WINDOW
#define ATT_WINDOW 1
#endif
#if ATT_WINDOW
#define ROW_AT(B, BW, r) (win ? ROW_OF(B, BW, r) : (B) + (long) (r) * HEAD_DIM)
/* a row element: through the read-only path where the row was chosen between two buffers, plainly elsewhere (as
 * before the window: RESTRICT already gives those loads the read-only path) */
#define ROW_LOAD(p) (win ? LOAD_RO(p) : *(p))
#else
#define ROW_AT(B, BW, r) ((B) + (long) (r) * HEAD_DIM)
#define ROW_LOAD(p) (*(p))
#endif


#define ATT_CHUNK 256 /* largest chunk (local arrays); the launch passes the chunk it uses */
#define ATT_THREADS 128
#define ATT_BATCH 8 /* rows (or partials) each thread loads before using any */
#define ATT_PREFETCH 32 /* chunks up to this many tokens keep their value rows in registers (CUDA, D = 128) */

/*
 * One chunk of attention (the body of sparseAttention and sparseAttentionStaged): work-group (c, s) attends the
 * GROUP query heads of stream s over attended tokens [c*chunk, (c+1)*chunk) and writes a partial (max, sum,
 * acc[D]) per head. K, V: the stream's bf16 rows; KW, VW: its device window, read when win (a sparse step with
 * ring > 0; call with a constant, so each inlined copy has one row address form). staged == 0: row = attended_row
 * (a token position, or a window row); staged == 1: row = attended index (the host packed the attended rows in
 * order). The arithmetic is the same.
 */
FUNC void attention_chunk(GLOBAL const float* RESTRICT queries, GLOBAL const ushort* RESTRICT K,
                          GLOBAL const ushort* RESTRICT V, GLOBAL const ushort* RESTRICT KW, GLOBAL const ushort* RESTRICT VW,
                          int ringBase, int ring, int win, GLOBAL const int* RESTRICT plan,
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
    GLOBAL const int* sel = selected + (long) s * KMAX;
    for (int i = t; i < nTok; i += LOCAL_SIZE(0)) {
        tok[i] = staged ? staged_row(p, sel, selN, first + i, ringBase, ring) : attended_row(p, sel, selN, first + i, ringBase, ring);
    }
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
        for (int i = 0; i < ATT_PREFETCH; i++) vpre[i] = i < nTok ? bf16_to_float(ROW_LOAD(ROW_AT(V, VW, tok[i]) + t)) : 0.0f;
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
                if (i < nTok) kr[u] = ROW_LOAD((GLOBAL const uint2*) ROW_AT(K, KW, tok[i]) + lane);
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
            GLOBAL const ushort* row = ROW_AT(K, KW, tok[i]);
            float dots[GROUP];
            for (int g = 0; g < GROUP; g++) dots[g] = 0.0f;
            for (int dd = lane; dd < HEAD_DIM; dd += 32) {
                float kv = bf16_to_float(ROW_LOAD(row + dd));
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
        GLOBAL const ushort* row = ROW_AT(K, KW, tok[i]);
        float dots[GROUP];
        for (int g = 0; g < GROUP; g++) dots[g] = 0.0f;
        for (int dd = 0; dd < HEAD_DIM; dd++) {
            float kv = bf16_to_float(ROW_LOAD(row + dd));
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
            for (int u = 0; u < ATT_BATCH; u++) vv[u] = i0 + u < nTok ? bf16_to_float(ROW_LOAD(ROW_AT(V, VW, tok[i0 + u]) + dd)) : 0.0f;
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
 * keys/values: bf16 rows [S][capTok][D]; winKeys/winValues: the device window [S][ringBase + ring][D] when ring > 0
 * (window_slot). Dense streams (P_DENSE) attend every token: full attention.
 */
KERNEL void sparseAttention(GLOBAL const float* queries, GLOBAL const ushort* keys, GLOBAL const ushort* values,
                            GLOBAL const ushort* winKeys, GLOBAL const ushort* winValues,
                            GLOBAL const int* plan, GLOBAL const int* selected, GLOBAL const int* selCount,
                            GLOBAL float* pmax, GLOBAL float* psum, GLOBAL float* pacc, int capTok, int maxChunks,
                            int chunk, int ringBase, int ring) {
    AWAIT_INPUTS();
    LOCAL_ARRAY(float, qs, GROUP * HEAD_DIM);
    LOCAL_ARRAY(float, prob, ATT_CHUNK * GROUP);
    LOCAL_ARRAY(int, tok, ATT_CHUNK);
    LOCAL_ARRAY(float, red, GROUP * 2);
    int s = GROUP_ID(1);
    long w = (long) s * (ringBase + ring) * HEAD_DIM;
    GLOBAL const ushort* K = keys + (long) s * capTok * HEAD_DIM;
    GLOBAL const ushort* V = values + (long) s * capTok * HEAD_DIM;
    int win = ATT_WINDOW && ring > 0 && !plan[s * PLAN_STRIDE + P_DENSE];
#if PKV_CUDA
    /* two inlined copies: plain row addresses where there is no window */
    if (win) {
        attention_chunk(queries, K, V, winKeys + w, winValues + w, ringBase, ring, 1, plan, selected, selCount, pmax, psum, pacc,
                        maxChunks, chunk, 0, qs, prob, tok, red);
    } else {
        attention_chunk(queries, K, V, K, V, ringBase, 0, 0, plan, selected, selCount, pmax, psum, pacc, maxChunks, chunk, 0,
                        qs, prob, tok, red);
    }
#else
    /* one call: PoCL's work-group compiler does not take the body's barriers under a branch, even a uniform one */
    attention_chunk(queries, K, V, winKeys + w, winValues + w, ringBase, win ? ring : 0, win, plan, selected, selCount, pmax, psum,
                    pacc, maxChunks, chunk, 0, qs, prob, tok, red);
#endif
}

/*
 * sparseAttentionStaged - sparseAttention over rows the host gathered (KvPlacement.STAGED: K/V live in host
 * memory only). staged: bf16, per stream in stream order its packed rows' keys [n_s][D] then values [n_s][D]: with a
 * device window (ring > 0) a sparse stream's top-k rows only (n_s = selN, the sink and local rows are read from the
 * window, which appendTokens keeps), else its attended rows in canonical order (n_s = attended_count; every row when
 * P_DENSE). Same grid, same partials, same arithmetic as sparseAttention: the outputs are equal.
 */
FUNC int staged_count(GLOBAL const int* p, GLOBAL const int* selCount, int s, int ring) {
    if (p[P_DENSE]) return p[P_LEN];
    return ring > 0 ? selCount[s] : attended_count(p, selCount[s]);
}

KERNEL void sparseAttentionStaged(GLOBAL const float* queries, GLOBAL const ushort* staged, GLOBAL const ushort* winKeys,
                                  GLOBAL const ushort* winValues, GLOBAL const int* plan, GLOBAL const int* selected,
                                  GLOBAL const int* selCount, GLOBAL float* pmax, GLOBAL float* psum, GLOBAL float* pacc,
                                  int maxChunks, int chunk, int ringBase, int ring) {
    AWAIT_INPUTS();
    LOCAL_ARRAY(float, qs, GROUP * HEAD_DIM);
    LOCAL_ARRAY(float, prob, ATT_CHUNK * GROUP);
    LOCAL_ARRAY(int, tok, ATT_CHUNK);
    LOCAL_ARRAY(float, red, GROUP * 2);
    int s = GROUP_ID(1);
    long base = 0; /* rows (K and V) of the streams before s */
    for (int u = 0; u < s; u++) base += 2 * (long) staged_count(plan + u * PLAN_STRIDE, selCount, u, ring);
    GLOBAL const int* p = plan + s * PLAN_STRIDE;
    long n = staged_count(p, selCount, s, ring);
    GLOBAL const ushort* K = staged + base * HEAD_DIM;
    long w = (long) s * (ringBase + ring) * HEAD_DIM;
    int win = ATT_WINDOW && ring > 0 && !p[P_DENSE];
#if PKV_CUDA
    if (win) {
        attention_chunk(queries, K, K + n * HEAD_DIM, winKeys + w, winValues + w, ringBase, ring, 1, plan, selected, selCount,
                        pmax, psum, pacc, maxChunks, chunk, 1, qs, prob, tok, red);
    } else {
        attention_chunk(queries, K, K + n * HEAD_DIM, K, K, 0, 0, 0, plan, selected, selCount, pmax, psum, pacc, maxChunks,
                        chunk, 1, qs, prob, tok, red);
    }
#else
    attention_chunk(queries, K, K + n * HEAD_DIM, winKeys + w, winValues + w, ringBase, win ? ring : 0, win, plan, selected,
                    selCount, pmax, psum, pacc, maxChunks, chunk, 1, qs, prob, tok, red);
#endif
}

/*
 * attentionCombine - merges the chunk partials of sparseAttention by log-sum-exp.
 * grid (S * GROUP) x 128 (a power of two <= 256). out: [batch][Hq][D].
 */
KERNEL void attentionCombine(GLOBAL const int* RESTRICT plan, GLOBAL const int* RESTRICT selCount,
                             GLOBAL const float* RESTRICT pmax, GLOBAL const float* RESTRICT psum,
                             GLOBAL const float* RESTRICT pacc, GLOBAL float* RESTRICT out, int maxChunks, int chunk) {
    AWAIT_INPUTS();
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
    AWAIT_INPUTS();
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
 * (bf16) becomes token P_LEN - 1 of stream s: one upload per step instead of one per stream. With ring > 0 (K/V in
 * host memory) the row also goes to the stream's device window (window_slot); capTok 0 writes only that (STAGED).
 */
KERNEL void appendTokens(GLOBAL const ushort* newKeys, GLOBAL const ushort* newValues, GLOBAL const int* plan,
                         GLOBAL ushort* keys, GLOBAL ushort* values, GLOBAL ushort* winKeys, GLOBAL ushort* winValues,
                         int capTok, int ringBase, int ring) {
    AWAIT_INPUTS();
    int s = GROUP_ID(0);
    int token = plan[s * PLAN_STRIDE + P_LEN] - 1;
    long w = ((long) s * (ringBase + ring) + window_slot(token, ringBase, ring)) * HEAD_DIM;
    for (int d = LOCAL_ID(0); d < HEAD_DIM; d += LOCAL_SIZE(0)) {
        ushort k = newKeys[s * HEAD_DIM + d], v = newValues[s * HEAD_DIM + d];
        if (capTok > 0) { /* 0: the K/V rows live in host memory only (STAGED), the host appends them */
            keys[((long) s * capTok + token) * HEAD_DIM + d] = k;
            values[((long) s * capTok + token) * HEAD_DIM + d] = v;
        }
        if (ring > 0) { /* the device window's copy (K/V in host memory) */
            winKeys[w + d] = k;
            winValues[w + d] = v;
        }
    }
}
