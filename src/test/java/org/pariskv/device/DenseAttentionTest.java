package org.pariskv.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.pariskv.device.DecodeLayout.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Grid;
import org.pariskv.compute.OpenClTestSupport;
import org.pariskv.compute.graph.DataTransferMode;
import org.pariskv.compute.graph.ExecutionPlan;
import org.pariskv.compute.graph.TaskGraph;
import org.pariskv.encode.Bf16;

/**
 * {@link AttentionKernels#denseAttention} and {@link AttentionKernels#denseAttentionRows} against a reference in f64 of the same partials (per stream, head and
 * chunk: the chunk's max logit, the sum of {@code exp(logit - max)} and the weighted sum of the value rows), on the
 * JVM, on OpenCL (PoCL on CI) and on CUDA where there is a GPU. Streams of different lengths, one ending inside the
 * first chunk, so that later chunks are past its tokens (written, never read) and rows are partly filled.
 */
class DenseAttentionTest {
    private static final int BATCH = 2, HKV = 2, STREAMS = BATCH * HKV, CAP_TOK = 700;
    /** Relative to the partial's scale (max |logit|, the sum of weights): f32 sums of at most 256 terms. */
    private static final double TOLERANCE = 2e-5;

    @ParameterizedTest(name = "{0} {4}: D {1}, group {2}, chunk {3}")
    @CsvSource({"java, 128, 4, 256, phases", "java, 64, 1, 32, phases", "opencl, 128, 4, 256, phases", "opencl, 128, 1, 32, phases",
            "opencl, 64, 4, 128, phases", "opencl, 256, 2, 64, phases", "cuda, 128, 4, 256, phases", "cuda, 128, 1, 32, phases",
            "cuda, 64, 4, 128, phases", "cuda, 256, 2, 64, phases",
            "java, 128, 4, 512, rows", "opencl, 128, 4, 512, phases", "opencl, 128, 4, 256, rows", "opencl, 64, 1, 32, rows", "opencl, 256, 2, 128, rows",
            "cuda, 128, 4, 256, rows", "cuda, 64, 1, 32, rows", "cuda, 256, 2, 128, rows"})
    void partialsMatchTheReference(String backend, int d, int group, int chunk, String kernel) {
        DeviceSpec spec = switch (backend) {
            case "java" -> DeviceSpec.JAVA;
            case "cuda" -> DeviceSpec.parse(OpenClTestSupport.cudaDevice().spec());
            default -> DeviceSpec.parse(OpenClTestSupport.openClDevice().spec());
        };
        Random r = new Random(d * 31 + group * 7 + chunk);
        int[] plan = new int[STREAMS * PLAN_STRIDE];
        int[] lengths = {CAP_TOK, 1 + r.nextInt(Math.min(chunk, CAP_TOK) - 1), 300 + r.nextInt(300), Math.min(CAP_TOK, chunk * 2)};
        int maxLen = 0;
        for (int s = 0; s < STREAMS; s++) {
            plan[s * PLAN_STRIDE + P_DENSE] = 1;
            plan[s * PLAN_STRIDE + P_LEN] = lengths[s];
            maxLen = Math.max(maxLen, lengths[s]);
        }
        int maxChunks = (maxLen + chunk - 1) / chunk;
        float[] queries = new float[BATCH * HKV * group * d];
        for (int i = 0; i < queries.length; i++) queries[i] = (float) r.nextGaussian();
        short[] keys = bf16(r, STREAMS * CAP_TOK * d, 2.0), values = bf16(r, STREAMS * CAP_TOK * d, 1.0);
        int parts = STREAMS * group * maxChunks;
        float[] pmax = new float[parts], psum = new float[parts], pacc = new float[parts * d];
        float scale = (float) (1 / Math.sqrt(d));
        int[] keyWords = words(keys), valueWords = words(values);
        Grid grid = new Grid(new long[] {(long) maxChunks * ATT_THREADS, STREAMS}, new long[] {ATT_THREADS, 1});
        var tg = new TaskGraph("dense").source(AttentionKernels.class)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, queries, keyWords, valueWords, plan, pmax, psum, pacc);
        tg.task(kernel.equals("rows") ? "denseAttentionRows" : "denseAttention", grid, queries, keyWords, valueWords, plan, pmax, psum, pacc, CAP_TOK,
                maxChunks, chunk, d, group, HKV, scale);
        var graph = tg.transferToHost(DataTransferMode.EVERY_EXECUTION, pmax, psum, pacc).snapshot();
        try (ExecutionPlan p = new ExecutionPlan(graph).withDevice(spec)) {
            p.execute();
        }
        int checked = 0;
        for (int s = 0; s < STREAMS; s++) {
            int b = s / HKV, h = s % HKV;
            for (int g = 0; g < group; g++) {
                int qBase = ((b * HKV + h) * group + g) * d;
                for (int c = 0; c * chunk < lengths[s]; c++, checked++) {
                    int from = c * chunk, to = Math.min(lengths[s], from + chunk);
                    double[] logit = new double[to - from];
                    double mx = Double.NEGATIVE_INFINITY;
                    for (int i = from; i < to; i++) {
                        double dot = 0;
                        for (int j = 0; j < d; j++) dot += (double) queries[qBase + j] * Bf16.toFloat(keys[(s * CAP_TOK + i) * d + j]);
                        logit[i - from] = dot * scale;
                        mx = Math.max(mx, logit[i - from]);
                    }
                    double sum = 0;
                    double[] acc = new double[d];
                    for (int i = from; i < to; i++) {
                        double e = Math.exp(logit[i - from] - mx);
                        sum += e;
                        for (int j = 0; j < d; j++) acc[j] += e * Bf16.toFloat(values[(s * CAP_TOK + i) * d + j]);
                    }
                    int part = (s * group + g) * maxChunks + c;
                    String at = spec + " stream " + s + " head " + g + " chunk " + c;
                    assertEquals(mx, pmax[part], TOLERANCE * Math.max(1, Math.abs(mx)), "max logit of " + at);
                    assertEquals(sum, psum[part], TOLERANCE * sum, "sum of weights of " + at);
                    for (int j = 0; j < d; j++) assertEquals(acc[j], pacc[part * d + j], TOLERANCE * sum, "acc[" + j + "] of " + at);
                }
            }
        }
        assertTrue(checked >= STREAMS * group, "the test checked chunks: " + checked);
    }

    private static int[] words(short[] a) {
        return MemorySegment.ofArray(a).toArray(ValueLayout.JAVA_INT_UNALIGNED);
    }

    private static short[] bf16(Random r, int n, double sigma) {
        short[] a = new short[n];
        for (int i = 0; i < n; i++) a[i] = Bf16.fromFloat((float) (sigma * r.nextGaussian()));
        return a;
    }
}
