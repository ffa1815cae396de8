package org.pariskv.device;

import org.pariskv.compute.Backend;
import org.pariskv.compute.Grid;
import org.pariskv.compute.graph.DataTransferMode;
import org.pariskv.compute.graph.ImmutableTaskGraph;
import org.pariskv.compute.graph.IntParam;
import org.pariskv.compute.graph.TaskGraph;
import org.pariskv.encode.Bf16;
import org.pariskv.encode.KeyEncoder;
import org.pariskv.rotate.HadamardRotation;
import org.pariskv.rotate.OrthogonalRotation;
import org.pariskv.rotate.Rotation;

/**
 * The encode step as a {@link TaskGraph}: task {@code encodeKeys} of {@code tasks/pariskv.c} bound to its Java twin
 * {@link #encodeKeys}. Runs on the java backend (the twin) or a device (the kernel), e.g. to encode a prompt's keys
 * in bulk. Layouts are {@link DeviceDecoder}'s: stream {@code s} (= sequence x KV head) owns rows
 * {@code [s*capTok, (s+1)*capTok)} of {@code keys} and index slots {@code [s*cap, (s+1)*cap)}; its plan row
 * ({@value #PLAN} ints) gives the zone start (10), the first zone index to encode (14) and how many (15).
 */
public final class EncodeStep {
    private EncodeStep() {}

    static final int PLAN = 16, P_ZONE_START = 10, P_ENC_FROM = 14, P_ENC_COUNT = 15;

    /** The arrays of one encode step; {@code rot} is the rotation's sign vector (D) or dense matrix (D x D). */
    public record Buffers(short[] keys, float[] rot, float[] center, int[] plan, byte[] codes, byte[] nibbles,
                          short[] weights, int[] counts, IntParam cap, IntParam capTok) {}

    /**
     * Java twin of the {@code encodeKeys} kernel: {@link KeyEncoder} on each stream's stored bf16 rows, centred,
     * and the per-(block, centroid) counts.
     */
    public static void encodeKeys(short[] keys, float[] rot, float[] center, int[] plan, byte[] codes, byte[] nibbles,
                                  short[] weights, int[] counts, IntParam cap, IntParam capTok) {
        int d = center.length / (plan.length / PLAN);
        int blocks = d / 8;
        KeyEncoder encoder = new KeyEncoder(rotation(rot, d));
        float[] row = new float[d];
        float[] c = new float[d];
        for (int s = 0; s < plan.length / PLAN; s++) {
            System.arraycopy(center, s * d, c, 0, d);
            for (int j = 0; j < plan[s * PLAN + P_ENC_COUNT]; j++) {
                int zi = plan[s * PLAN + P_ENC_FROM] + j;
                long src = ((long) s * capTok.get() + plan[s * PLAN + P_ZONE_START] + zi) * d;
                for (int i = 0; i < d; i++) row[i] = Bf16.toFloat(keys[(int) (src + i)]);
                int slot = s * cap.get() + zi;
                encoder.encode(row, 0, 1, c, codes, slot * blocks, nibbles, slot * d / 2, weights, slot * blocks);
                for (int b = 0; b < blocks; b++) counts[(s * blocks + b) * 256 + (codes[slot * blocks + b] & 0xff)]++;
            }
        }
    }

    private static Rotation rotation(float[] rot, int d) {
        return rot.length == d ? new HadamardRotation(d, 0, rot.clone()) : new OrthogonalRotation(d, 0, rot.clone());
    }

    /**
     * The graph: keys, rotation, centres and plan in; the index (codes, nibbles, weights, counts) in and out, since
     * only the planned slots change and counts accumulate. {@code maxCount} sizes the grid: the most keys any stream
     * encodes.
     */
    public static ImmutableTaskGraph graph(Buffers b, int headDim, int groupSize, int kvHeads, int maxCount) {
        int streams = b.plan().length / PLAN;
        int threads = Math.min(headDim, 256);
        return new TaskGraph("encode")
                .source("pariskv.c")
                .define("HEAD_DIM", headDim).define("BLOCKS", headDim / 8).define("GROUP", groupSize).define("HKV", kvHeads)
                .define("NQ", 1).define("KMAX", 128)
                .define("HADAMARD", b.rot().length == headDim ? 1 : 0)
                .define("ROT_SCALE_BITS", "0x" + Integer.toHexString(Float.floatToRawIntBits((float) (1.0 / Math.sqrt(headDim)))) + "u")
                .define(Backend.STRICT_FP, 1)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, b.keys(), b.rot(), b.center(), b.plan(), b.codes(), b.nibbles(), b.weights(), b.counts())
                .task("encodeKeys", EncodeStep::encodeKeys,
                        new Grid(new long[] {(long) Math.max(1, maxCount) * threads, streams}, new long[] {threads, 1}),
                        b.keys(), b.rot(), b.center(), b.plan(), b.codes(), b.nibbles(), b.weights(), b.counts(), b.cap(), b.capTok())
                .transferToHost(DataTransferMode.EVERY_EXECUTION, b.codes(), b.nibbles(), b.weights(), b.counts())
                .snapshot();
    }
}
