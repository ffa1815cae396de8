package org.pariskv.device;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntUnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AutoClose;
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
 * The {@code candidateSelect} kernel on score lists the pipeline rarely makes, against its twin: a cut that falls to
 * score 0, every key at one score (the cut is all ties), keeping every key or one, zones that end inside a tile, and
 * stale high scores past the zone's end (the kernel loads up to the capacity before it knows the zone's length).
 * Both head dims the decoder compiles for D = 128 (97 score bins) and D = 64 (49).
 */
class CandidateSelectKernelTest {

    private static final int SEL_TILE = 4096;

    /** A named score list for a zone of n keys of which count are kept. */
    record Scores(String name, int n, int count, IntUnaryOperator score) {
        @Override
        public String toString() {
            return name + " n=" + n + " keep " + count;
        }
    }

    static Stream<Arguments> cases() {
        List<Arguments> a = new ArrayList<>();
        for (int headDim : new int[] {128, 64}) {
            int max = 6 * headDim / 8;
            SplittableRandom rnd = new SplittableRandom(headDim);
            int[] noise = rnd.ints(20000, 0, 1 << 20).toArray();
            List<Scores> lists = List.of(
                    new Scores("spread", 13000, 1300, i -> Math.min(max, noise[i] % 37 + noise[i] % 11)),
                    new Scores("mostly zero: the cut falls to 0", 9101, 2000, i -> noise[i] % 20 == 0 ? 1 + noise[i] % max : 0),
                    new Scores("all equal: the cut is all ties", 9000, 3000, i -> 30),
                    new Scores("keep every key", 5000, 5000, i -> noise[i] % (max + 1)),
                    new Scores("keep one", 4097, 1, i -> noise[i] % (max + 1)),
                    new Scores("top score crowded", 8200, 100, i -> noise[i] % 3 == 0 ? max : noise[i] % max),
                    new Scores("one tile, short", 700, 70, i -> noise[i] % 25));
            for (Scores s : lists) a.add(Arguments.of(headDim, s));
        }
        return a.stream();
    }

    @AutoClose
    private final KernelRig rig = new KernelRig(Backends.open(OpenClTestSupport.openClDevice()));

    /** Two streams: the case's list, and a random one over a shorter zone of the same capacity. */
    @ParameterizedTest(name = "D={0} {1}")
    @MethodSource("cases")
    void candidateSelectMatchesItsTwin(int headDim, Scores scores) {
        int blocks = headDim / 8, bins = 6 * blocks + 1;
        int cap = scores.n() + 3000, tiles = (cap + SEL_TILE - 1) / SEL_TILE;
        SplittableRandom rnd = new SplittableRandom(scores.name().hashCode());
        int[] n = {scores.n(), scores.n() / 2 + 1}, count = {scores.count(), Math.max(1, n[1] / 7)};
        byte[] sc = new byte[2 * cap];
        int[] hist = new int[2 * bins], tileHist = new int[2 * tiles * bins], plan = new int[2 * DecodeLayout.PLAN_STRIDE];
        for (int qi = 0; qi < 2; qi++) {
            for (int i = 0; i < cap; i++) {
                // past the zone: stale top scores from a longer zone, which the selection must not see
                int v = i >= n[qi] ? bins - 1 : qi == 0 ? scores.score().applyAsInt(i) : rnd.nextInt(bins);
                sc[qi * cap + i] = (byte) v;
                if (i < n[qi]) {
                    hist[qi * bins + v]++;
                    tileHist[(qi * tiles + i / SEL_TILE) * bins + v]++;
                }
            }
            plan[qi * DecodeLayout.PLAN_STRIDE + DecodeLayout.P_N] = n[qi];
            plan[qi * DecodeLayout.PLAN_STRIDE + DecodeLayout.P_CAND] = count[qi];
        }
        Program program = rig.compile(KernelRig.defines(headDim, 2, 1, 128));
        DeviceBuffer dCand = rig.fill(new int[2 * cap], -7), dCount = rig.fill(new int[2], -7);
        MemorySegment tCand = rig.host(dCand), tCount = rig.host(dCount);
        rig.launch(program, "candidateSelect", new Grid(new long[] {(long) tiles * 256, 2}, new long[] {256, 1}),
                rig.upload(MemorySegment.ofArray(sc)), rig.upload(MemorySegment.ofArray(hist)), rig.upload(MemorySegment.ofArray(plan)),
                rig.upload(MemorySegment.ofArray(tileHist)), dCand, dCount, new KernelArg.Int(cap), new KernelArg.Int(tiles));

        new DecodeTwins(new DecodeTwins.Shape(headDim, blocks, 2, 2, 1, 128, true))
                .candidateSelect(rig.host(sc), rig.host(hist), rig.host(plan), rig.host(tileHist), tCand, tCount, cap, tiles);
        String what = "D=" + headDim + " " + scores;
        assertEquals(-1L, tCount.mismatch(rig.read(dCount)), what + ": candCount");
        assertEquals(-1L, tCand.mismatch(rig.read(dCand)), what + ": cand");
    }
}
