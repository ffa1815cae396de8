package org.pariskv.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;
import org.pariskv.encode.Bf16;
import org.pariskv.encode.KeyEncoder;
import org.pariskv.rotate.Rotation;
import org.pariskv.select.Rerank;
import org.pariskv.simd.PanamaOps;
import org.pariskv.simd.ScalarOps;
import org.pariskv.simd.VectorOps;

/**
 * The hot loops of the Java backend, scalar twin ({@code impl=scalar}) beside the Vector API twin
 * ({@code impl=panama}) on realistic shapes: D = 128, a zone of 32768 keys (and the prime 32749), 3277 candidates
 * (10 %, and the prime 3271). Each benchmark processes the whole zone / candidate set once per op; divide the
 * score by the size parameter for ns per key / candidate ({@code profiles/jmh_table.py} does it).
 *
 * <p>Run (one command; args go to JMH, JSON lands in {@code profiles/results/}):
 * <pre>
 *   profiles/jmh.sh                                   # everything, fork 1, warmup 2x1s, measurement 3x1s
 *   profiles/jmh.sh 'VectorOpsBench.collision.*'      # one loop
 * </pre>
 * which is, by hand:
 * <pre>
 *   mvn -q test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 *   $JAVA_HOME/bin/java --add-modules jdk.incubator.vector -cp target/test-classes:target/classes:$(cat target/cp.txt) \
 *       org.openjdk.jmh.Main VectorOpsBench -f 1 -wi 2 -w 1s -i 3 -r 1s -rf json -rff out.json
 * </pre>
 * See {@code profiles/jmh.md}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class VectorOpsBench {

    static final int DIM = 128;
    static final int ZONE = 32768;

    static VectorOps ops(String impl) {
        return switch (impl) {
            case "scalar" -> new ScalarOps();
            case "panama" -> new PanamaOps();
            default -> throw new IllegalArgumentException(impl);
        };
    }

    /** Sorted distinct random indices in {@code [0, n)}: a candidate set as CandidateSelect emits it. */
    static int[] candidates(SplittableRandom rnd, int n, int m) {
        boolean[] taken = new boolean[n];
        int[] out = new int[m];
        for (int k = 0; k < m; ) {
            int i = rnd.nextInt(n);
            if (!taken[i]) { taken[i] = true; out[k++] = i; }
        }
        Arrays.sort(out);
        return out;
    }

    /** Collision codes of a zone and a tier table (entries 0..6 as for the default 6 tiers). */
    @State(Scope.Thread)
    public static class Collision {
        @Param({"scalar", "panama"}) public String impl;
        @Param({"32768", "32749"}) public int n;
        VectorOps ops;
        byte[] codes, table, scores;
        int blocks = DIM / 8;

        @Setup
        public void setup() {
            ops = ops(impl);
            SplittableRandom rnd = new SplittableRandom(1);
            codes = new byte[n * blocks];
            rnd.nextBytes(codes);
            table = new byte[blocks * 256];
            for (int i = 0; i < table.length; i++) table[i] = (byte) rnd.nextInt(7);
            scores = new byte[n];
        }
    }

    /** Scores every key of the zone; ns/op / n = ns per key. */
    @Benchmark
    public byte[] collisionScores(Collision s) {
        s.ops.collisionScores(s.codes, s.blocks, s.table, s.scores, 0, s.n);
        return s.scores;
    }

    /** Rerank codes of a 32768-key zone and {@code m} sorted candidates. */
    @State(Scope.Thread)
    public static class Candidates {
        @Param({"scalar", "panama"}) public String impl;
        @Param({"3277", "3271"}) public int m;
        VectorOps ops;
        byte[] nibbles;
        short[] weights;
        float[] lut, est;
        int[] keys;

        @Setup
        public void setup() {
            ops = ops(impl);
            SplittableRandom rnd = new SplittableRandom(2);
            nibbles = new byte[ZONE * DIM / 2];
            rnd.nextBytes(nibbles);
            weights = new short[ZONE * DIM / 8];
            for (int i = 0; i < weights.length; i++) weights[i] = Bf16.fromFloat((float) rnd.nextDouble(0.5, 4));
            float[] q = new float[DIM];
            for (int i = 0; i < DIM; i++) q[i] = (float) rnd.nextGaussian() / (float) Math.sqrt(DIM);
            lut = Rerank.lut(q);
            keys = candidates(rnd, ZONE, m);
            est = new float[m];
        }
    }

    /** 4-bit rerank of the candidates; ns/op / m = ns per candidate. */
    @Benchmark
    public float[] rerank(Candidates s) {
        s.ops.rerank(s.nibbles, s.weights, DIM, s.lut, s.keys, s.m, s.est);
        return s.est;
    }

    /** bf16 K/V rows of a 32768-token zone in native memory; attention reads {@code rows} of them. */
    @State(Scope.Thread)
    public static class Rows {
        @Param({"scalar", "panama"}) public String impl;
        @Param({"3277", "3271"}) public int rows;
        VectorOps ops;
        Arena arena;
        MemorySegment seg;
        float[] q, acc;
        int[] keys;

        @Setup
        public void setup() {
            ops = ops(impl);
            SplittableRandom rnd = new SplittableRandom(3);
            arena = Arena.ofShared();
            seg = arena.allocate(2L * ZONE * DIM, 64);
            for (long i = 0; i < (long) ZONE * DIM; i++) {
                seg.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2 * i, Bf16.fromFloat((float) rnd.nextGaussian()));
            }
            q = new float[DIM];
            for (int i = 0; i < DIM; i++) q[i] = (float) rnd.nextGaussian();
            acc = new float[DIM];
            keys = candidates(rnd, ZONE, rows);
        }

        @TearDown(Level.Trial)
        public void close() {
            arena.close();
        }
    }

    /** q·k over the selected rows; ns/op / rows = ns per row (D = 128). */
    @Benchmark
    public void dotBf16(Rows s, Blackhole bh) {
        for (int t : s.keys) bh.consume(s.ops.dotBf16(s.seg, 2L * t * DIM, s.q, 0, DIM));
    }

    /** out += p·v over the selected rows; ns/op / rows = ns per row (D = 128). */
    @Benchmark
    public float[] axpyBf16(Rows s) {
        float w = 1e-4f;
        for (int t : s.keys) s.ops.axpyBf16(w, s.seg, 2L * t * DIM, s.acc, 0, DIM);
        return s.acc;
    }

    /** Raw keys to encode. {@code impl} is fixed: KeyEncoder has no vector twin (see profiles/jmh.md). */
    @State(Scope.Thread)
    public static class Keys {
        @Param({"scalar"}) public String impl;
        @Param({"32768", "32749"}) public int n;
        KeyEncoder encoder;
        float[] keys;
        byte[] codes, nibbles;
        short[] weights;

        @Setup
        public void setup() {
            SplittableRandom rnd = new SplittableRandom(4);
            encoder = new KeyEncoder(Rotation.forDim(DIM, 42));
            keys = new float[n * DIM];
            for (int i = 0; i < keys.length; i++) keys[i] = (float) rnd.nextGaussian();
            codes = new byte[n * DIM / 8];
            nibbles = new byte[n * DIM / 2];
            weights = new short[n * DIM / 8];
        }
    }

    /** Encodes every key of the zone (rotation, codes, nibbles, weights); ns/op / n = ns per key. */
    @Benchmark
    public short[] encode(Keys s) {
        s.encoder.encode(s.keys, 0, s.n, s.codes, 0, s.nibbles, 0, s.weights, 0);
        return s.weights;
    }
}
