package org.pariskv.device;

import static org.pariskv.device.DecodeLayout.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.pariskv.encode.Bf16;
import org.pariskv.encode.KeyEncoder;
import org.pariskv.rotate.HadamardRotation;
import org.pariskv.rotate.OrthogonalRotation;
import org.pariskv.rotate.Rotation;
import org.pariskv.select.CandidateSelect;
import org.pariskv.select.CollisionCounting;
import org.pariskv.select.GroupMerge;
import org.pariskv.select.Rerank;
import org.pariskv.select.RetrievalQuery;
import org.pariskv.select.TierTable;
import org.pariskv.select.Tiers;
import org.pariskv.select.TopK;
import org.pariskv.simd.ScalarOps;

/**
 * Java twins of the decode kernels of {@code tasks/pariskv.c}, for a {@code TaskGraph}'s java backend: each method has
 * its kernel's name and parameter list, a {@code GLOBAL T*} becoming a {@link MemorySegment} with the device buffer's
 * bytes (native order, little-endian on every supported host and device, as {@link DeviceDecoder} uploads them) and a
 * scalar {@code int} staying an {@code int}. The kernel's compile-time defines are the {@link Shape} this object is
 * built from. A twin runs the whole launch grid: the number of streams {@code S} comes from the plan's size
 * ({@value #PLAN_STRIDE} ints per stream), per-stream extents from the plan rows, grid-dependent parameters
 * ({@code tiles}, {@code slices}, {@code stride}, {@code maxChunks}, {@code chunk}) are used as the kernel uses them.
 *
 * <p>The arithmetic is that of the Java classes the kernels mirror ({@link RetrievalQuery}, {@link TierTable},
 * {@link CollisionCounting}, {@link CandidateSelect}, {@link Rerank}, {@link TopK}, {@link GroupMerge},
 * {@link KeyEncoder}), so outputs are bit-equal to the kernels'; the twins only adapt layouts. Attention has no such
 * class (its flash-decoding partials are the device's own split): {@link #sparseAttention} and
 * {@link #attentionCombine} follow the OpenCL path's order, equal to the kernels up to {@code expf}'s rounding.
 * Only what the kernels define is written; scratch the next kernel ignores (partials of chunks past a stream's
 * tokens) is left alone. Stateless apart from the shape: one instance may serve several graphs, not concurrently
 * on the same buffers.
 */
public final class DecodeTwins {

    /**
     * The defines a {@link DeviceDecoder} compiles {@code pariskv.c} with.
     *
     * @param headDim  {@code HEAD_DIM}
     * @param blocks   {@code BLOCKS} = headDim / 8
     * @param group    {@code GROUP}, query heads per KV head
     * @param hkv      {@code HKV}, KV heads per layer
     * @param nq       {@code NQ}, retrieval queries per stream: 1 (GQA mean) or {@code group} (per head)
     * @param kmax     {@code KMAX}, the row length of {@code ranked} and {@code selected}
     * @param hadamard {@code HADAMARD}: {@code rot} holds the D signs of a {@link HadamardRotation}, else a dense
     *                 D x D {@link OrthogonalRotation}
     */
    public record Shape(int headDim, int blocks, int group, int hkv, int nq, int kmax, boolean hadamard) {
        public Shape {
            if (headDim <= 0 || headDim % 8 != 0 || blocks != headDim / 8) {
                throw new IllegalArgumentException("headDim must be a positive multiple of 8 and blocks headDim / 8, got " + headDim + ", " + blocks);
            }
            if (group <= 0 || hkv <= 0 || kmax <= 0) throw new IllegalArgumentException("group, hkv and kmax must be positive");
            if (nq != 1 && nq != group) throw new IllegalArgumentException("nq must be 1 or group (" + group + "), got " + nq);
        }
    }

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;
    /** Plain loops: the kernels' sequential dot and axpy order (the Vector API twin may reassociate). */
    private static final ScalarOps SCALAR = new ScalarOps();

    private final Shape shape;
    private final int d, blocks, g, hkv, nq, kmax, histBins;

    public DecodeTwins(Shape shape) {
        this.shape = shape;
        this.d = shape.headDim();
        this.blocks = shape.blocks();
        this.g = shape.group();
        this.hkv = shape.hkv();
        this.nq = shape.nq();
        this.kmax = shape.kmax();
        this.histBins = Tiers.maxScore(blocks) + 1;
    }

    public Shape shape() {
        return shape;
    }

    /**
     * Twin of {@code appendTokens}: row {@code s} of {@code newKeys/newValues} becomes token {@code P_LEN - 1} of stream
     * {@code s}, and with {@code ring > 0} also its row of the device window ({@link #windowSlot}).
     */
    public void appendTokens(MemorySegment newKeys, MemorySegment newValues, MemorySegment plan, MemorySegment keys,
                             MemorySegment values, MemorySegment winKeys, MemorySegment winValues, int capTok, int ringBase, int ring) {
        int[] p = plan(plan);
        long row = 2L * d;
        for (int s = 0; s < p.length / PLAN_STRIDE; s++) {
            int token = p[s * PLAN_STRIDE + P_LEN] - 1;
            if (capTok > 0) { // 0: K/V rows in host memory only (STAGED), appended by the host
                long dst = ((long) s * capTok + token) * row;
                MemorySegment.copy(newKeys, s * row, keys, dst, row);
                MemorySegment.copy(newValues, s * row, values, dst, row);
            }
            if (ring > 0) {
                long w = ((long) s * (ringBase + ring) + windowSlot(token, ringBase, ring)) * row;
                MemorySegment.copy(newKeys, s * row, winKeys, w, row);
                MemorySegment.copy(newValues, s * row, winValues, w, row);
            }
        }
    }

    /** {@code window_slot}: a token's row in its stream's device window, sink rows first, then a ring of {@code ring} (a power of two). */
    public static int windowSlot(int token, int ringBase, int ring) {
        return token < ringBase ? token : ringBase + (token & (ring - 1));
    }

    /**
     * Twin of {@code encodeKeys} ({@link EncodeStep#encodeKeys} over device buffers): {@link KeyEncoder} on the
     * centred bf16 rows of zone indices {@code [P_ENC_FROM, P_ENC_FROM + P_ENC_COUNT)}, counts added per (block, code).
     */
    public void encodeKeys(MemorySegment keys, MemorySegment rot, MemorySegment center, MemorySegment plan,
                           MemorySegment codes, MemorySegment nibbles, MemorySegment weights, MemorySegment counts,
                           int cap, int capTok) {
        int[] p = plan(plan);
        KeyEncoder encoder = new KeyEncoder(rotation(rot));
        float[] row = new float[d], c = new float[d];
        byte[] code = new byte[blocks], nib = new byte[d / 2];
        short[] w = new short[blocks];
        for (int s = 0; s < p.length / PLAN_STRIDE; s++) {
            MemorySegment.copy(center, F32, 4L * s * d, c, 0, d);
            for (int j = 0; j < p[s * PLAN_STRIDE + P_ENC_COUNT]; j++) {
                int zi = p[s * PLAN_STRIDE + P_ENC_FROM] + j;
                long src = 2L * ((long) s * capTok + p[s * PLAN_STRIDE + P_ZONE_START] + zi) * d;
                for (int i = 0; i < d; i++) row[i] = Bf16.toFloat(keys.get(I16, src + 2L * i));
                encoder.encode(row, 0, 1, c, code, 0, nib, 0, w, 0);
                long key = (long) s * cap + zi;
                MemorySegment.copy(code, 0, codes, U8, key * blocks, blocks);
                MemorySegment.copy(nib, 0, nibbles, U8, key * (d / 2), d / 2);
                MemorySegment.copy(w, 0, weights, I16, 2L * key * blocks, blocks);
                for (int b = 0; b < blocks; b++) {
                    long at = 4L * (((long) s * blocks + b) * 256 + (code[b] & 0xff));
                    counts.set(I32, at, counts.get(I32, at) + 1);
                }
            }
        }
    }

    /**
     * Twin of {@code prepareQuery}: per retrieval query {@code qi = s * NQ + head} the group mean (NQ = 1) or the
     * head's row, {@link RetrievalQuery#of} into {@code qhat[qi]} / {@code qnorm[qi]}, {@link TierTable#build} from the
     * stream's counts and plan thresholds into {@code tierTable[qi]}, a cleared score histogram {@code hist[qi]},
     * cleared per-tile histograms {@code tileHist[qi][tile]} for the {@value #SEL_TILE}-key tiles of its zone and a
     * cleared estimate histogram {@code estHist[qi]}.
     */
    public void prepareQuery(MemorySegment queries, MemorySegment rot, MemorySegment plan, MemorySegment counts,
                             MemorySegment qhat, MemorySegment qnorm, MemorySegment tierTable, MemorySegment hist,
                             MemorySegment tileHist, MemorySegment estHist, int tiles) {
        int[] p = plan(plan);
        Rotation rotation = rotation(rot);
        float[] rows = new float[g * d];
        int[] streamCounts = new int[blocks * 256], thresholds = new int[Tiers.COUNT];
        byte[] table = new byte[blocks * 256];
        for (int qi = 0; qi < p.length / PLAN_STRIDE * nq; qi++) {
            int s = qi / nq, head = qi % nq;
            MemorySegment.copy(queries, F32, 4L * s * g * d, rows, 0, g * d); // the group's rows: [b][h*G + g][D]
            float[] x = nq == 1 ? RetrievalQuery.groupMean(rows, 0, g, d) : Arrays.copyOfRange(rows, head * d, (head + 1) * d);
            RetrievalQuery q = RetrievalQuery.of(rotation, x, 0);
            MemorySegment.copy(q.rotated(), 0, qhat, F32, 4L * qi * d, d);
            qnorm.set(F32, 4L * qi, q.norm());
            hist.asSlice(4L * qi * histBins, 4L * histBins).fill((byte) 0);
            int tilesNow = (p[s * PLAN_STRIDE + P_N] + SEL_TILE - 1) / SEL_TILE;
            tileHist.asSlice(4L * qi * tiles * histBins, 4L * tilesNow * histBins).fill((byte) 0);
            estHist.asSlice(4L * qi * EST_BINS, 4L * EST_BINS).fill((byte) 0);
            MemorySegment.copy(counts, I32, 4L * s * blocks * 256, streamCounts, 0, blocks * 256);
            System.arraycopy(p, s * PLAN_STRIDE + P_T, thresholds, 0, Tiers.COUNT);
            TierTable.build(q.rotated(), streamCounts, thresholds, table);
            MemorySegment.copy(table, 0, tierTable, U8, (long) qi * blocks * 256, blocks * 256);
        }
    }

    /**
     * Twin of {@code collisionScores}: {@link CollisionCounting#scores} of the stream's {@code P_N} codes against
     * each of its NQ tier tables into {@code scores[(s*NQ + qi) * cap ..]}, each score also counted into
     * {@code hist[qi]} and into its tile's {@code tileHist[qi][key / SEL_TILE]} (added: {@code prepareQuery} cleared them).
     */
    public void collisionScores(MemorySegment codes, MemorySegment tierTable, MemorySegment plan, MemorySegment scores,
                                MemorySegment hist, MemorySegment tileHist, int cap, int tiles) {
        int[] p = plan(plan);
        byte[] table = new byte[blocks * 256];
        for (int s = 0; s < p.length / PLAN_STRIDE; s++) {
            int n = p[s * PLAN_STRIDE + P_N];
            byte[] keyCodes = bytes(codes, (long) s * cap * blocks, n * blocks), sc = new byte[n];
            for (int head = 0; head < nq; head++) {
                int qi = s * nq + head;
                MemorySegment.copy(tierTable, U8, (long) qi * blocks * 256, table, 0, blocks * 256);
                CollisionCounting.scores(keyCodes, n, blocks, table, sc);
                MemorySegment.copy(sc, 0, scores, U8, (long) qi * cap, n);
                for (int i = 0; i < n; i++) {
                    long at = 4L * ((long) qi * histBins + (sc[i] & 0xff));
                    hist.set(I32, at, hist.get(I32, at) + 1);
                    long tileAt = 4L * (((long) qi * tiles + i / SEL_TILE) * histBins + (sc[i] & 0xff));
                    tileHist.set(I32, tileAt, tileHist.get(I32, tileAt) + 1);
                }
            }
        }
    }

    /**
     * Twin of {@code candidateSelect}: {@link CandidateSelect#select} of each query's {@code P_CAND} best scores into
     * {@code cand[qi * cap ..]} (ascending zone indices), {@code candCount[qi] = P_CAND}. {@code hist} and
     * {@code tileHist} hold what {@code select} recounts itself: the cut, and where each tile of the parallel kernel
     * starts writing.
     */
    public void candidateSelect(MemorySegment scores, MemorySegment hist, MemorySegment plan, MemorySegment tileHist,
                                MemorySegment cand, MemorySegment candCount, int cap, int tiles) {
        int[] p = plan(plan);
        for (int qi = 0; qi < p.length / PLAN_STRIDE * nq; qi++) {
            int s = qi / nq;
            int n = p[s * PLAN_STRIDE + P_N], count = p[s * PLAN_STRIDE + P_CAND];
            candCount.set(I32, 4L * qi, count);
            int[] out = new int[n];
            int m = CandidateSelect.select(bytes(scores, (long) qi * cap, n), n, Tiers.maxScore(blocks), count, out);
            MemorySegment.copy(out, 0, cand, I32, 4L * qi * cap, m);
        }
    }

    /**
     * Twin of {@code rerank}: {@link Rerank#estimate} of each query's {@code candCount[qi]} candidates from the
     * stream's nibbles and weights, into {@code est[qi * cap ..]}, each counted in its {@link #estBin bucket} of
     * {@code estHist[qi * EST_BINS ..]} (added: {@code prepareQuery} cleared it). Without a plan argument, the queries
     * are those {@code candCount} holds (S x NQ).
     */
    public void rerank(MemorySegment nibbles, MemorySegment weights, MemorySegment qhat, MemorySegment qnorm,
                       MemorySegment cand, MemorySegment candCount, MemorySegment est, MemorySegment estHist, int cap) {
        for (int qi = 0; qi < candCount.byteSize() / 4; qi++) {
            int s = qi / nq;
            int m = candCount.get(I32, 4L * qi);
            if (m <= 0) continue;
            int[] keys = ints(cand, (long) qi * cap, m);
            int rows = Arrays.stream(keys).max().getAsInt() + 1; // the stream's index rows that are read
            byte[] nib = bytes(nibbles, (long) s * cap * (d / 2), rows * (d / 2));
            short[] w = new short[rows * blocks];
            MemorySegment.copy(weights, I16, 2L * s * cap * blocks, w, 0, w.length);
            float[] q = new float[d];
            MemorySegment.copy(qhat, F32, 4L * qi * d, q, 0, d);
            float[] e = new float[m];
            Rerank.estimate(new RetrievalQuery(q, qnorm.get(F32, 4L * qi)), Rerank.lut(q), nib, w, keys, m, e);
            MemorySegment.copy(e, 0, est, F32, 4L * qi * cap, m);
            for (float v : e) {
                long at = 4L * ((long) qi * EST_BINS + estBin(v));
                estHist.set(I32, at, estHist.get(I32, at) + 1);
            }
        }
    }

    /**
     * Twin of {@code topKSlice}, the first stage of {@link TopK#ranked} for long lists: per query and slice {@code c < slices}
     * of {@value #TOPK_SLICE} candidates, its {@code min(P_K, kFull, m)} best in candidate order, estimates and
     * tokens, at {@code partEst/partTok[qi * slices * kFull + c * kFull ..]}: every query's rows are {@code kFull =
     * min(configured top-k, TOPK_SLICE)} wide, whatever its own {@code P_K}; their number in {@code partCount[qi * slices + c]}.
     */
    public void topKSlice(MemorySegment est, MemorySegment cand, MemorySegment candCount, MemorySegment plan,
                          MemorySegment partEst, MemorySegment partTok, MemorySegment partCount, int cap, int slices,
                          int kFull) {
        int[] p = plan(plan);
        for (int qi = 0; qi < p.length / PLAN_STRIDE * nq; qi++) {
            int s = qi / nq;
            int kQuery = Math.min(p[s * PLAN_STRIDE + P_K], kFull);
            int total = candCount.get(I32, 4L * qi);
            for (int c = 0; c < slices; c++) {
                int from = c * TOPK_SLICE;
                int m = Math.max(0, Math.min(TOPK_SLICE, total - from));
                int k = Math.min(kQuery, m);
                partCount.set(I32, 4L * ((long) qi * slices + c), k);
                if (k == 0) continue;
                float[] e = floats(est, (long) qi * cap + from, m);
                int[] pos = best(e, m, k);
                Arrays.sort(pos); // back to candidate order
                long out = (long) qi * slices * kFull + (long) c * kFull;
                for (int i = 0; i < k; i++) {
                    partEst.set(F32, 4L * (out + i), e[pos[i]]);
                    partTok.set(I32, 4L * (out + i), cand.get(I32, 4L * ((long) qi * cap + from + pos[i])));
                }
            }
        }
    }

    /**
     * Twin of {@code topK}: {@link TopK#ranked} of each query's {@code m} estimates (rows of {@code stride}; {@code m =
     * counts[qi]}, or with {@code slices > 0} the sum of {@code counts[qi * slices ..]}), its {@code min(P_K, m)} best
     * tokens best first in {@code ranked[qi * KMAX ..]}, their number in {@code rankedCount[qi]}; with NQ = 1 also the
     * stream's selection (those tokens ascending in {@code selected[s * KMAX ..]}, their number in {@code selCount[s]}).
     * {@code estHist}, rerank's bucket counts of the query's candidates, only tells the kernel where the k-th lies.
     */
    public void topK(MemorySegment est, MemorySegment cand, MemorySegment counts, MemorySegment estHist, MemorySegment plan,
                     MemorySegment ranked, MemorySegment rankedCount, MemorySegment selected, MemorySegment selCount,
                     int stride, int slices) {
        int[] p = plan(plan);
        for (int qi = 0; qi < p.length / PLAN_STRIDE * nq; qi++) {
            int s = qi / nq;
            int m = 0;
            if (slices == 0) m = counts.get(I32, 4L * qi);
            else for (int c = 0; c < slices; c++) m += counts.get(I32, 4L * ((long) qi * slices + c));
            int k = Math.min(p[s * PLAN_STRIDE + P_K], m);
            rankedCount.set(I32, 4L * qi, k);
            if (nq == 1) selCount.set(I32, 4L * s, Math.max(k, 0));
            if (k <= 0) continue;
            int[] pos = best(floats(est, (long) qi * stride, m), m, k);
            int[] tokens = new int[k];
            for (int i = 0; i < k; i++) tokens[i] = cand.get(I32, 4L * ((long) qi * stride + pos[i]));
            MemorySegment.copy(tokens, 0, ranked, I32, 4L * qi * kmax, k);
            if (nq == 1) { // one list per stream: the selection is that list in token order (no mergeSelection)
                Arrays.sort(tokens);
                MemorySegment.copy(tokens, 0, selected, I32, 4L * s * kmax, k);
            }
        }
    }

    /**
     * Twin of {@code mergeSelection}: {@link GroupMerge#roundRobin} of the stream's NQ ranked lists into at most
     * {@code P_K} distinct tokens, ascending, in {@code selected[s * KMAX ..]}, their number in {@code selCount[s]}.
     */
    public void mergeSelection(MemorySegment ranked, MemorySegment rankedCount, MemorySegment plan,
                               MemorySegment selected, MemorySegment selCount) {
        int[] p = plan(plan);
        for (int s = 0; s < p.length / PLAN_STRIDE; s++) {
            int[][] lists = new int[nq][];
            int[] lengths = new int[nq];
            for (int h = 0; h < nq; h++) {
                int qi = s * nq + h;
                lengths[h] = rankedCount.get(I32, 4L * qi);
                lists[h] = ints(ranked, (long) qi * kmax, lengths[h]);
            }
            int[] sel = GroupMerge.roundRobin(lists, lengths, p[s * PLAN_STRIDE + P_K]);
            MemorySegment.copy(sel, 0, selected, I32, 4L * s * kmax, sel.length);
            selCount.set(I32, 4L * s, sel.length);
        }
    }

    /**
     * Twin of {@code sparseAttention}: per stream its attended tokens (sink, the {@code selCount[s]} selected zone
     * indices, the local window; every token when {@code P_DENSE}) in chunks of {@code chunk}; per chunk {@code c}
     * and head {@code g} of the group the partial max logit, exp-sum and un-normalised value sum at
     * {@code ((s * GROUP + g) * maxChunks + c)} of {@code pmax/psum/pacc} (pacc rows of D). The OpenCL path's order:
     * sequential dots and sums over the chunk's tokens.
     */
    public void sparseAttention(MemorySegment queries, MemorySegment keys, MemorySegment values, MemorySegment winKeys,
                                MemorySegment winValues, MemorySegment plan, MemorySegment selected, MemorySegment selCount,
                                MemorySegment pmax, MemorySegment psum, MemorySegment pacc, int capTok, int maxChunks, int chunk,
                                int ringBase, int ring) {
        int[] p = plan(plan);
        attend(p, queries, selected, selCount, pmax, psum, pacc, maxChunks, chunk, (s, j, token) -> {
            int o = s * PLAN_STRIDE, sinkEnd = p[o + P_SINK_END];
            // attended_row: with a window, the sink and local rows from there (offsets encoded below zero)
            boolean window = ring > 0 && p[o + P_DENSE] == 0 && (j < sinkEnd || j >= sinkEnd + selCount.get(I32, 4L * s));
            return window ? -1 - 2L * ((long) s * (ringBase + ring) + windowSlot(token, ringBase, ring)) * d
                    : 2L * ((long) s * capTok + token) * d;
        }, keys, values, winKeys, winValues, null);
    }

    /**
     * Twin of {@code sparseAttentionStaged}: {@link #sparseAttention} over the rows the host packed, per stream in stream
     * order its packed rows' keys {@code [n_s][D]} then values {@code [n_s][D]}. With a window ({@code ring > 0}) a
     * sparse stream packs its top-k rows only and reads the sink and local rows from the window; otherwise it packs its
     * attended rows in canonical order. Same partials.
     */
    public void sparseAttentionStaged(MemorySegment queries, MemorySegment staged, MemorySegment winKeys, MemorySegment winValues,
                                      MemorySegment plan, MemorySegment selected, MemorySegment selCount, MemorySegment pmax,
                                      MemorySegment psum, MemorySegment pacc, int maxChunks, int chunk, int ringBase, int ring) {
        int[] p = plan(plan);
        int streams = p.length / PLAN_STRIDE;
        long[] keyRow = new long[streams + 1]; // first K row of each stream's block; its V rows follow its K rows
        int[] n = new int[streams];
        for (int s = 0; s < streams; s++) {
            boolean dense = p[s * PLAN_STRIDE + P_DENSE] != 0;
            int selN = dense ? 0 : selCount.get(I32, 4L * s);
            n[s] = dense ? p[s * PLAN_STRIDE + P_LEN] : ring > 0 ? selN : attendedCount(p, s, selN); // staged_count
            keyRow[s + 1] = keyRow[s] + 2L * n[s];
        }
        attend(p, queries, selected, selCount, pmax, psum, pacc, maxChunks, chunk, (s, j, token) -> {
            int o = s * PLAN_STRIDE, sinkEnd = p[o + P_SINK_END];
            if (ring == 0 || p[o + P_DENSE] != 0) return 2L * (keyRow[s] + j) * d;
            int selN = selCount.get(I32, 4L * s);
            if (j >= sinkEnd && j < sinkEnd + selN) return 2L * (keyRow[s] + j - sinkEnd) * d; // staged_row: a top-k row
            return -1 - 2L * ((long) s * (ringBase + ring) + windowSlot(token, ringBase, ring)) * d;
        }, staged, staged, winKeys, winValues, n);
    }

    /**
     * Byte offset of the bf16 key row of canonical attended index {@code i} (token {@code token}) of stream {@code s}: {@code o >= 0}
     * in the K/V rows, {@code -1 - o} in the device window.
     */
    @FunctionalInterface
    private interface RowAt {
        long offset(int s, int i, int token);
    }

    /**
     * The chunked attention both attention twins share. Value rows sit at the key row's offset, or, with
     * {@code valueShift} (staged), {@code valueShift[s]} rows further.
     */
    private void attend(int[] p, MemorySegment queries, MemorySegment selected, MemorySegment selCount, MemorySegment pmax,
                        MemorySegment psum, MemorySegment pacc, int maxChunks, int chunk, RowAt rowAt,
                        MemorySegment keys, MemorySegment values, MemorySegment winKeys, MemorySegment winValues, int[] valueShift) {
        float scale = (float) (1.0 / Math.sqrt(d)); // ROT_SCALE_BITS
        float[] q = new float[g * d], acc = new float[d];
        float[] prob = new float[chunk * g];
        long[] row = new long[chunk];
        for (int s = 0; s < p.length / PLAN_STRIDE; s++) {
            int selN = p[s * PLAN_STRIDE + P_DENSE] != 0 ? 0 : selCount.get(I32, 4L * s);
            int[] sel = ints(selected, (long) s * kmax, selN);
            int total = attendedCount(p, s, selN);
            long vShift = valueShift == null ? 0 : 2L * valueShift[s] * d;
            MemorySegment.copy(queries, F32, 4L * s * g * d, q, 0, g * d);
            for (int c = 0; c < Math.min(maxChunks, (total + chunk - 1) / chunk); c++) {
                int nTok = Math.min(chunk, total - c * chunk);
                for (int i = 0; i < nTok; i++) {
                    int j = attendedIndex(p, s, selN, c * chunk + i);
                    row[i] = rowAt.offset(s, j, attendedToken(p, s, sel, j));
                }
                for (int i = 0; i < nTok; i++) {
                    MemorySegment k = row[i] >= 0 ? keys : winKeys;
                    long at = row[i] >= 0 ? row[i] : -1 - row[i];
                    for (int h = 0; h < g; h++) prob[i * g + h] = SCALAR.dotBf16(k, at, q, h * d, d) * scale;
                }
                for (int h = 0; h < g; h++) {
                    float mx = Float.NEGATIVE_INFINITY;
                    for (int i = 0; i < nTok; i++) mx = Math.max(mx, prob[i * g + h]);
                    float sum = 0f;
                    for (int i = 0; i < nTok; i++) {
                        float e = (float) Math.exp(prob[i * g + h] - mx);
                        prob[i * g + h] = e;
                        sum += e;
                    }
                    Arrays.fill(acc, 0f);
                    for (int i = 0; i < nTok; i++) {
                        if (row[i] >= 0) SCALAR.axpyBf16(prob[i * g + h], values, row[i] + vShift, acc, 0, d);
                        else SCALAR.axpyBf16(prob[i * g + h], winValues, -1 - row[i], acc, 0, d);
                    }
                    long part = ((long) s * g + h) * maxChunks + c;
                    pmax.set(F32, 4L * part, mx);
                    psum.set(F32, 4L * part, sum);
                    MemorySegment.copy(acc, 0, pacc, F32, 4L * part * d, d);
                }
            }
        }
    }

    /**
     * Twin of {@code attentionCombine}: per (stream, head) {@code sg} the log-sum-exp merge of its chunk partials into
     * {@code out[sg * D ..]} ({@code [batch][Hq][D]}). The denominator is summed as the launch's
     * {@value #COMBINE_THREADS} threads do (strided partial sums, then a halving tree); the numerators sequentially.
     */
    public void attentionCombine(MemorySegment plan, MemorySegment selCount, MemorySegment pmax, MemorySegment psum,
                                 MemorySegment pacc, MemorySegment out, int maxChunks, int chunk) {
        int[] p = plan(plan);
        float[] red = new float[COMBINE_THREADS], acc = new float[d];
        for (int sg = 0; sg < p.length / PLAN_STRIDE * g; sg++) {
            int s = sg / g;
            int selN = p[s * PLAN_STRIDE + P_DENSE] != 0 ? 0 : selCount.get(I32, 4L * s);
            int chunks = (attendedCount(p, s, selN) + chunk - 1) / chunk;
            long base = (long) sg * maxChunks;
            float m = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < chunks; c++) m = Math.max(m, pmax.get(F32, 4L * (base + c)));
            Arrays.fill(red, 0f);
            for (int c = 0; c < chunks; c++) {
                red[c % COMBINE_THREADS] += (float) Math.exp(pmax.get(F32, 4L * (base + c)) - m) * psum.get(F32, 4L * (base + c));
            }
            for (int off = COMBINE_THREADS >> 1; off > 0; off >>= 1) {
                for (int t = 0; t < off; t++) red[t] += red[t + off];
            }
            float denom = red[0];
            Arrays.fill(acc, 0f);
            for (int c = 0; c < chunks; c++) {
                float w = (float) Math.exp(pmax.get(F32, 4L * (base + c)) - m);
                for (int i = 0; i < d; i++) acc[i] += w * pacc.get(F32, 4L * ((base + c) * d + i));
            }
            for (int i = 0; i < d; i++) out.set(F32, 4L * ((long) sg * d + i), denom > 0f ? acc[i] / denom : 0f);
        }
    }

    // ---- helpers mirroring pariskv.c's FUNCs ----

    /** {@code candidate_cut}: the lowest score kept when query {@code qi} keeps its {@code count} best (its histogram). */
    private int candidateCut(MemorySegment hist, int qi, int count) {
        int cut = histBins - 1, above = 0;
        while (cut > 0 && above + hist.get(I32, 4L * ((long) qi * histBins + cut)) < count) {
            above += hist.get(I32, 4L * ((long) qi * histBins + cut--));
        }
        return cut;
    }

    /**
     * {@code est_bin(desc_key(e))}: the top-k bucket of an estimate, 0 holding the highest; equal estimates (-0 and +0
     * too) share one, a higher estimate never lands in a later one. 16 buckets per octave of |e| in [2^-63, 2^65),
     * clamped outside, {@value #EST_BINS} / 2 per sign.
     */
    static int estBin(float e) {
        int u = Float.floatToRawIntBits(e == 0f ? 0f : e);
        int octave = ((u >>> 23) & 0xff) - 64;
        int mag = octave < 0 ? 0 : octave > 127 ? 2047 : (octave << 4) | ((u >>> 19) & 15);
        return u < 0 ? EST_BINS / 2 + mag : EST_BINS / 2 - 1 - mag;
    }

    /** {@code attended_count}: tokens stream {@code s} attends with {@code selN} selected zone indices. */
    private static int attendedCount(int[] p, int s, int selN) {
        int o = s * PLAN_STRIDE;
        return p[o + P_DENSE] != 0 ? p[o + P_LEN] : p[o + P_SINK_END] + selN + (p[o + P_LEN] - p[o + P_ZONE_END]);
    }

    /** {@code attended_index}: the canonical index (sink, top-k, local) of attended position {@code i}, the top-k spread evenly. */
    static int attendedIndex(int[] p, int s, int selN, int i) {
        int o = s * PLAN_STRIDE;
        if (p[o + P_DENSE] != 0) return i;
        int n = attendedCount(p, s, selN);
        int before = (int) ((long) i * selN / n), sinkEnd = p[o + P_SINK_END];
        if ((int) ((long) (i + 1) * selN / n) > before) return sinkEnd + before;
        int w = i - before;
        return w < sinkEnd ? w : w + selN;
    }

    /** {@code attended_token}: position of the token at canonical index {@code i} (sink, selected, local; or all when dense). */
    private static int attendedToken(int[] p, int s, int[] sel, int i) {
        int o = s * PLAN_STRIDE;
        if (p[o + P_DENSE] != 0) return i;
        int sinkEnd = p[o + P_SINK_END];
        if (i < sinkEnd) return i;
        if (i < sinkEnd + sel.length) return p[o + P_ZONE_START] + sel[i - sinkEnd];
        return p[o + P_ZONE_END] + (i - sinkEnd - sel.length);
    }

    /**
     * {@code select_top}: positions of the {@code k} best of {@code e[0..m)}, best first, equal estimates by lower
     * position ({@link TopK#ranked} over the positions themselves).
     */
    private static int[] best(float[] e, int m, int k) {
        int[] pos = new int[k];
        TopK.ranked(e, IntStream.range(0, m).toArray(), m, k, pos);
        return pos;
    }

    private Rotation rotation(MemorySegment rot) {
        float[] r = floats(rot, 0, shape.hadamard() ? d : d * d);
        return shape.hadamard() ? new HadamardRotation(d, 0, r) : new OrthogonalRotation(d, 0, r);
    }

    private static int[] plan(MemorySegment plan) {
        return ints(plan, 0, (int) (plan.byteSize() / (4 * PLAN_STRIDE)) * PLAN_STRIDE);
    }

    private static int[] ints(MemorySegment m, long index, int n) {
        int[] a = new int[n];
        MemorySegment.copy(m, I32, 4 * index, a, 0, n);
        return a;
    }

    private static float[] floats(MemorySegment m, long index, int n) {
        float[] a = new float[n];
        MemorySegment.copy(m, F32, 4 * index, a, 0, n);
        return a;
    }

    private static byte[] bytes(MemorySegment m, long offset, int n) {
        byte[] a = new byte[n];
        MemorySegment.copy(m, U8, offset, a, 0, n);
        return a;
    }
}
