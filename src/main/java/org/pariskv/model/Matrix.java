package org.pariskv.model;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.stream.IntStream;
import org.pariskv.simd.VectorOps;

/**
 * A weight matrix {@code [rows][cols]} (Hugging Face {@code Linear} layout: one row per output) left where it
 * lies: a slice of the memory-mapped safetensors file, bf16 or f32, never copied onto the heap.
 *
 * @param name   the tensor name (for messages)
 * @param data   the row-major elements
 * @param bf16   true for bf16 elements, false for little-endian f32
 */
record Matrix(String name, MemorySegment data, boolean bf16, int rows, int cols) {

    private static final VectorOps OPS = VectorOps.current();
    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Rows per parallel task: enough work per task to amortise the fork, small enough to balance 2..128 cores. */
    private static final int ROWS_PER_TASK = 16;

    private long rowBytes() {
        return (long) cols * (bf16 ? 2 : 4);
    }

    /** {@code row(r) · x[off .. off + cols)}. */
    float dot(int r, float[] x, int off) {
        long at = r * rowBytes();
        return bf16 ? OPS.dotBf16(data, at, x, off, cols) : OPS.dotF32(data, at, x, off, cols);
    }

    /** Row {@code r} widened to f32 into {@code out[off..]} (the embedding lookup). */
    void row(int r, float[] out, int off) {
        long at = r * rowBytes();
        for (int i = 0; i < cols; i++) out[off + i] = bf16 ? Float.intBitsToFloat((data.get(BF16, at + 2L * i) & 0xffff) << 16) : data.get(F32, at + 4L * i);
    }

    /**
     * {@code out[t][rows] = W · x[t]} for the {@code n} input rows {@code x[t][cols]}, in parallel over output rows.
     * Each weight row is read from memory once and reused for all {@code n} inputs while it is in cache, so a prefill
     * chunk reads the weights once.
     */
    void matmul(float[] x, int n, float[] out) {
        matmul(x, n, new Matrix[] {this}, new float[][] {out});
    }

    /**
     * {@link #matmul} of several matrices over the same input ({@code wq, wk, wv}; {@code gate, up}) in one parallel
     * pass, so a decode step forks once per group rather than once per matrix.
     */
    static void matmul(float[] x, int n, Matrix[] ws, float[][] outs) {
        int[] firstTask = new int[ws.length + 1];
        for (int i = 0; i < ws.length; i++) {
            if (ws[i].cols != ws[0].cols) throw new IllegalArgumentException(ws[i].name + " has " + ws[i].cols + " columns, " + ws[0].name + " " + ws[0].cols);
            firstTask[i + 1] = firstTask[i] + (ws[i].rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        }
        IntStream.range(0, firstTask[ws.length]).parallel().forEach(task -> {
            int i = 0;
            while (task >= firstTask[i + 1]) i++;
            ws[i].rowBlock(task - firstTask[i], x, n, outs[i]);
        });
    }

    /** Output rows of task {@code task} ({@link #ROWS_PER_TASK} rows) for all {@code n} inputs. */
    private void rowBlock(int task, float[] x, int n, float[] out) {
        int end = Math.min(rows, (task + 1) * ROWS_PER_TASK);
        float[] four = new float[4];
        for (int r = task * ROWS_PER_TASK; r < end; r++) {
            long at = r * rowBytes();
            int t = 0;
            for (; t + 4 <= n; t += 4) { // four inputs per pass over the row: it is widened once for all four
                if (bf16) OPS.dot4Bf16(data, at, x, t * cols, cols, cols, four);
                else OPS.dot4F32(data, at, x, t * cols, cols, cols, four);
                for (int j = 0; j < 4; j++) out[(t + j) * rows + r] = four[j];
            }
            for (; t < n; t++) out[t * rows + r] = dot(r, x, t * cols);
        }
    }
}
