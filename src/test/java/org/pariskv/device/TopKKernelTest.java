package org.pariskv.device;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntToDoubleFunction;
import java.util.stream.Stream;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.pariskv.compute.Backends;
import org.pariskv.compute.DeviceBuffer;
import org.pariskv.compute.Grid;
import org.pariskv.compute.KernelArg;
import org.pariskv.compute.OpenClTestSupport;
import org.pariskv.compute.Program;

/**
 * The {@code topK} and {@code topKSlice} kernels on estimates the pipeline rarely makes, against their twins: the
 * bucketed path with crowded and tied buckets, and the radix fallback ("(radix)": more than {@code TOPK_BUCKET} = 512
 * in a bucket down to the k-th's, or {@code TOPK_CAP} = 2560 in all of them: all-equal estimates, ±0, a flat run in one
 * bucket, few distinct levels), at both work-group sizes the decoder launches, top-100 (ranks by counting) and top-2048
 * (bitonic token order). Two queries per launch: the case's estimates, and a Gaussian list with another k.
 */
class TopKKernelTest {

    static final double[] LEVELS = {-2, -1, 0, 0.5, 1, 3};

    /** A named list of m estimates. */
    record Estimates(String name, int m, IntToDoubleFunction value) {
        float[] values() {
            float[] e = new float[m];
            for (int i = 0; i < m; i++) e[i] = (float) value.applyAsDouble(i);
            return e;
        }

        @Override
        public String toString() {
            return name + " m=" + m;
        }
    }

    static Stream<Estimates> estimates() {
        SplittableRandom rnd = new SplittableRandom(7);
        double[] gauss = rnd.doubles(20000).map(u -> inverseNormal(u) * 3.0 + 0.2).toArray();
        float[] specials = {Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MAX_VALUE, -Float.MAX_VALUE, 1e30f, -1e30f,
                1e-30f, -1e-30f, Float.MIN_VALUE, -Float.MIN_VALUE, 0f, -0f, 0x1p-63f, 0x1p65f, 0x1.fffffep-64f, 1f, -1f, 1.0625f};
        int[] levels = rnd.ints(5000, 0, 6).toArray();
        return Stream.of(
                new Estimates("gaussian", 13000, i -> gauss[i]),
                new Estimates("heavy tail", 20000, i -> Math.exp(gauss[i])),
                new Estimates("all negative, dense top (radix)", 9000, i -> -Math.abs(gauss[i]) - 5),
                new Estimates("all equal (radix)", 6000, i -> 1.5),
                new Estimates("all equal, one bucket", 500, i -> -0.75),
                new Estimates("+0 and -0 (radix)", 3000, i -> (i % 3 == 0) ? -0.0 : 0.0),
                new Estimates("+0 and -0", 450, i -> (i % 3 == 0) ? -0.0 : 0.0),
                new Estimates("six levels, ties across the k-th", 2400, i -> LEVELS[levels[i]]),
                new Estimates("six levels (radix)", 5000, i -> LEVELS[levels[i]]),
                new Estimates("one bucket, distinct", 510, i -> 1 + (i * 7919 % 510) * 0x1p-23),
                new Estimates("one bucket, distinct (radix)", 4000, i -> 1 + (i * 7919 % 4000) * 0x1p-23),
                new Estimates("specials", 18 * 40, i -> specials[i % 18]),
                new Estimates("fewer than k", 37, i -> gauss[i]),
                new Estimates("one", 1, i -> 4));
    }

    static Stream<Arguments> cases() {
        List<Arguments> a = new ArrayList<>();
        for (int threads : new int[] {256, 1024}) {
            for (int topk : new int[] {100, 2048}) {
                estimates().forEach(e -> a.add(Arguments.of(e, topk, threads)));
            }
        }
        return a.stream();
    }

    @AutoClose
    private final KernelRig rig = new KernelRig(Backends.open(OpenClTestSupport.openClDevice()));

    /** One stage: topK straight from the estimates (as after rerank). */
    @ParameterizedTest(name = "{0} top-{1} L={2}")
    @MethodSource("cases")
    void topKMatchesItsTwin(Estimates estimates, int topk, int threads) {
        Query[] q = queries(estimates, topk);
        int cap = Math.max(q[0].est.length, q[1].est.length);
        Setup u = setup(q, cap, topk);
        rig.launch(u.program, "topK", Grid.groups(2, threads), u.est, u.cand, u.count, u.estHist, u.plan, u.ranked, u.rankedCount,
                u.selected, u.selCount, new KernelArg.Int(cap), new KernelArg.Int(0));
        u.twins.topK(u.hEst, u.hCand, u.hCount, u.hEstHist, u.hPlan, u.tRanked, u.tRankedCount, u.tSelected, u.tSelCount, cap, 0);
        assertSame(u, estimates + " top-" + topk + " L=" + threads);
    }

    /**
     * Two stages: topKSlice per 2048 candidates, then topK over the slices' lists with the whole list's buckets. Both
     * queries keep the configured top-k, as in the decoder (a plan's k is below it only for zones shorter than top-k,
     * never long enough for two slices), so the lists are contiguous.
     */
    @ParameterizedTest(name = "{0} top-{1} L={2}")
    @MethodSource("cases")
    void twoStagesMatchTheirTwins(Estimates estimates, int topk, int threads) {
        Query[] q = queries(estimates, topk);
        q[1] = new Query(q[1].est(), q[1].cand(), topk);
        int cap = Math.max(q[0].est.length, q[1].est.length);
        int slices = (cap + DecodeLayout.TOPK_SLICE - 1) / DecodeLayout.TOPK_SLICE, kFull = Math.min(topk, DecodeLayout.TOPK_SLICE);
        Setup u = setup(q, cap, topk);
        int parts = 2 * slices * kFull;
        DeviceBuffer partEst = rig.fill(new float[parts], -9f), partTok = rig.fill(new int[parts], -9), partCount = rig.fill(new int[2 * slices], -9);
        rig.launch(u.program, "topKSlice", new Grid(new long[] {(long) slices * threads, 2}, new long[] {threads, 1}), u.est, u.cand,
                u.count, u.plan, partEst, partTok, partCount, new KernelArg.Int(cap), new KernelArg.Int(slices), new KernelArg.Int(kFull));
        MemorySegment tEst = rig.host(partEst), tTok = rig.host(partTok), tCount = rig.host(partCount);
        u.twins.topKSlice(u.hEst, u.hCand, u.hCount, u.hPlan, tEst, tTok, tCount, cap, slices, kFull);
        String what = estimates + " top-" + topk + " L=" + threads;
        assertEquals(-1L, tCount.mismatch(rig.read(partCount)), what + ": partCount");
        assertEquals(-1L, tTok.mismatch(rig.read(partTok)), what + ": partTok");
        assertEquals(-1L, tEst.mismatch(rig.read(partEst)), what + ": partEst");
        rig.launch(u.program, "topK", Grid.groups(2, threads), partEst, partTok, partCount, u.estHist, u.plan, u.ranked, u.rankedCount,
                u.selected, u.selCount, new KernelArg.Int(slices * kFull), new KernelArg.Int(slices));
        u.twins.topK(tEst, tTok, tCount, u.hEstHist, u.hPlan, u.tRanked, u.tRankedCount, u.tSelected, u.tSelCount, slices * kFull, slices);
        assertSame(u, what + ", second stage");
    }

    /** The kernel's buckets are the twin's: rerank's histogram (DecodeTwinsTest) and these edges agree by construction. */
    @Test
    void bucketsAreMonotoneAndFoldZero() {
        assertEquals(DecodeTwins.estBin(0f), DecodeTwins.estBin(-0f), "-0 and +0 are one estimate");
        assertEquals(0, DecodeTwins.estBin(Float.POSITIVE_INFINITY));
        assertEquals(DecodeLayout.EST_BINS - 1, DecodeTwins.estBin(Float.NEGATIVE_INFINITY));
        assertEquals(DecodeTwins.estBin(1f) + 1, DecodeTwins.estBin(Math.nextDown(1f)), "16 buckets per octave: 1 starts one");
        SplittableRandom rnd = new SplittableRandom(3);
        for (int i = 0; i < 200000; i++) {
            float a = Float.intBitsToFloat(rnd.nextInt()), b = Float.intBitsToFloat(rnd.nextInt());
            if (Float.isNaN(a) || Float.isNaN(b)) continue;
            if (a > b) assertTrue(DecodeTwins.estBin(a) <= DecodeTwins.estBin(b), a + " above " + b);
        }
    }

    // ---- fixtures ----

    /** A query's estimates, ascending candidate tokens and top-k. */
    record Query(float[] est, int[] cand, int k) {}

    private static Query[] queries(Estimates estimates, int topk) {
        SplittableRandom rnd = new SplittableRandom(estimates.name().hashCode());
        float[] other = new float[9000];
        for (int i = 0; i < other.length; i++) other[i] = (float) (inverseNormal(rnd.nextDouble()) * 0.01);
        return new Query[] {new Query(estimates.values(), tokens(rnd, estimates.m()), topk),
                new Query(other, tokens(rnd, other.length), Math.max(1, topk / 3))};
    }

    private static int[] tokens(SplittableRandom rnd, int m) {
        int[] t = new int[m];
        for (int i = 0, tok = 0; i < m; i++) t[i] = tok += 1 + rnd.nextInt(3);
        return t;
    }

    /** Device buffers and their host twins for two queries (NQ = 1: two streams). */
    private record Setup(Program program, DecodeTwins twins, DeviceBuffer est, DeviceBuffer cand, DeviceBuffer count,
                         DeviceBuffer estHist, DeviceBuffer plan, DeviceBuffer ranked, DeviceBuffer rankedCount,
                         DeviceBuffer selected, DeviceBuffer selCount, MemorySegment hEst, MemorySegment hCand,
                         MemorySegment hCount, MemorySegment hEstHist, MemorySegment hPlan, MemorySegment tRanked,
                         MemorySegment tRankedCount, MemorySegment tSelected, MemorySegment tSelCount) {}

    private Setup setup(Query[] q, int cap, int topk) {
        int kmax = Integer.highestOneBit(Math.max(2, topk - 1)) << 1; // DeviceDecoder's KMAX
        Program program = rig.compile(KernelRig.defines(64, 2, 1, kmax));
        DecodeTwins twins = new DecodeTwins(new DecodeTwins.Shape(64, 8, 2, 2, 1, kmax, true));
        float[] est = new float[2 * cap];
        int[] cand = new int[2 * cap], count = new int[2], hist = new int[2 * DecodeLayout.EST_BINS], plan = new int[2 * DecodeLayout.PLAN_STRIDE];
        for (int qi = 0; qi < 2; qi++) {
            int m = q[qi].est.length;
            System.arraycopy(q[qi].est, 0, est, qi * cap, m);
            System.arraycopy(q[qi].cand, 0, cand, qi * cap, m);
            count[qi] = m;
            for (float v : q[qi].est) hist[qi * DecodeLayout.EST_BINS + DecodeTwins.estBin(v)]++; // rerank's twin
            plan[qi * DecodeLayout.PLAN_STRIDE + DecodeLayout.P_K] = q[qi].k;
        }
        DeviceBuffer ranked = rig.fill(new int[2 * kmax], -7), rankedCount = rig.fill(new int[2], -7), selected = rig.fill(new int[2 * kmax], -7),
                selCount = rig.fill(new int[2], -7);
        return new Setup(program, twins, rig.upload(MemorySegment.ofArray(est)), rig.upload(MemorySegment.ofArray(cand)),
                rig.upload(MemorySegment.ofArray(count)), rig.upload(MemorySegment.ofArray(hist)), rig.upload(MemorySegment.ofArray(plan)),
                ranked, rankedCount, selected, selCount, rig.host(est), rig.host(cand), rig.host(count), rig.host(hist), rig.host(plan),
                rig.host(ranked), rig.host(rankedCount), rig.host(selected), rig.host(selCount));
    }

    private void assertSame(Setup u, String what) {
        assertEquals(-1L, u.tRankedCount.mismatch(rig.read(u.rankedCount)), what + ": rankedCount");
        assertEquals(-1L, u.tSelCount.mismatch(rig.read(u.selCount)), what + ": selCount");
        assertEquals(-1L, u.tRanked.mismatch(rig.read(u.ranked)), what + ": ranked");
        assertEquals(-1L, u.tSelected.mismatch(rig.read(u.selected)), what + ": selected");
    }

    /** Acklam's rational approximation of the standard normal quantile: Gaussian estimates from uniforms. */
    static double inverseNormal(double p) {
        p = Math.min(Math.max(p, 1e-12), 1 - 1e-12);
        double[] a = {-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.3577518672690, -30.66479806614716, 2.506628274794996};
        double[] b = {-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572};
        double[] c = {-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783};
        double[] d = {0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416};
        double q, r;
        if (p < 0.02425) {
            q = Math.sqrt(-2 * Math.log(p));
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        if (p > 1 - 0.02425) return -inverseNormal(1 - p);
        q = p - 0.5;
        r = q * q;
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
}
