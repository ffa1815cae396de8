package org.pariskv.device;

/**
 * The decode kernels' fixed contracts, defined once in Java: the plan row layout and the tile sizes that
 * {@code tasks/pariskv.c} #defines. They are compile-time constants, so javac inlines them into the Java kernels'
 * bytecode and the translator emits literals: as fast as the C's #defines. Shapes that vary per model
 * ({@code HEAD_DIM}, {@code GROUP}, {@code HKV}, ...) are kernel parameters instead (see docs/kernels.md).
 * pariskv.c still repeats these values until it is retired; the tests hold both sides to the same outputs.
 */
public final class DecodeLayout {
    private DecodeLayout() {}

    /** Plan row layout (top of {@code pariskv.c}): {@code PLAN_STRIDE} ints per stream. */
    public static final int PLAN_STRIDE = 16, P_N = 0, P_T = 1, P_CAND = 7, P_K = 8, P_SINK_END = 9, P_ZONE_START = 10,
            P_ZONE_END = 11, P_LEN = 12, P_DENSE = 13, P_ENC_FROM = 14, P_ENC_COUNT = 15;
    /** {@code SEL_TILE}, {@code TOPK_SLICE}, {@code EST_BINS} of {@code pariskv.c}. */
    public static final int SEL_TILE = 4096, TOPK_SLICE = 2048, EST_BINS = 4096;
    /**
     * {@code collisionScores}: keys a work-group scores ({@code CS_TILE = SEL_TILE}, so candidateSelect's tiles are its
     * tiles), work-items a group, keys a work-item holds per chunk, private histogram copies a group (one per warp).
     */
    public static final int CS_TILE = SEL_TILE, CS_THREADS = 256, CS_KPT = 4, CS_CHUNK = CS_THREADS * CS_KPT, CS_COPIES = CS_THREADS / 32;
    /** Threads per work-group of {@code attentionCombine}'s launch: the shape of its denominator's reduction tree. */
    public static final int COMBINE_THREADS = 128;
    /** {@code attentionCombine}: chunk weights held in local memory at a time, and the most threads per group. */
    public static final int COMBINE_WEIGHTS = 1024, COMBINE_MAX_THREADS = 256;
    /** {@code ATT_BATCH}: rows (or partials) each thread loads before using any. */
    public static final int ATT_BATCH = 8;
    // attention
    /** {@code ATT_CHUNK}: the largest chunk of attended tokens per work-group (local arrays); the launch passes its chunk. */
    public static final int ATT_CHUNK = 256;
    /** {@code ATT_THREADS}: work-items per work-group of sparseAttention and sparseAttentionStaged. */
    public static final int ATT_THREADS = 128;
    /** {@code ATT_PREFETCH}: chunks up to this many tokens keep their value rows in registers (CUDA, D = 128). */
    public static final int ATT_PREFETCH = 32;
    /**
     * The largest {@code GROUP} (query heads per KV head) the Java attention kernels hold in private arrays (pariskv.c
     * sizes them {@code GROUP}; loops run to the {@code @Constant group}, so the device compiler keeps them in
     * registers).
     */
    public static final int ATT_MAX_GROUP = 16;
    /** The largest {@code HEAD_DIM} the Java ports of encodeKeys and prepareQuery hold in local memory. */
    public static final int MAX_HEAD_DIM = 256;
    /**
     * The Java port of {@code mergeSelection} holds {@code KMAX} kept items and {@code NQ * KMAX} ranked ones in local
     * memory, sized here (pariskv.c sizes them by its defines): {@code KMAX <= 2048}, {@code NQ * KMAX <= 8192}.
     */
    public static final int MERGE_MAX_KMAX = 2048, MERGE_MAX_ITEMS = 8192;
    // top-k
    /**
     * The top-k kernels ({@code topKSlice}, {@code topK}): {@code SB_BATCH} estimates each thread loads before using any,
     * {@code TOPK_CAP} items ranked in local memory (the buckets down to the k-th's, else radix select;
     * {@code >= TOPK_SLICE}), {@code TOPK_BUCKET} the most items of one bucket ranked by counting, and
     * {@code TOPK_PREFETCH} estimates per thread loaded before the boundary bucket is known.
     */
    public static final int SB_BATCH = 8, TOPK_CAP = 2560, TOPK_BUCKET = 512, TOPK_PREFETCH = 16;
}
