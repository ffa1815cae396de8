package org.pariskv.metrics;

/**
 * {@link KeyRows} over a float array: row {@code t} is {@code data[t*stride + offset .. + dim)}.
 *
 * @param data   the backing array (not copied)
 * @param stride floats between consecutive tokens
 * @param offset start of token 0's row
 * @param dim    row width
 */
public record FloatRows(float[] data, int stride, int offset, int dim) implements KeyRows {

    public FloatRows {
        if (data == null) {
            throw new IllegalArgumentException("data must not be null");
        }
        if (dim <= 0 || stride < dim || offset < 0 || offset + dim > stride) {
            throw new IllegalArgumentException("bad row layout: stride " + stride + ", offset " + offset
                    + ", dim " + dim);
        }
    }

    /** Number of complete rows in the array. */
    public int rows() {
        return data.length / stride;
    }

    @Override
    public float dot(int token, float[] q) {
        int base = token * stride + offset;
        float s0 = 0;
        float s1 = 0;
        float s2 = 0;
        float s3 = 0;
        int i = 0;
        for (; i + 3 < dim; i += 4) {
            s0 += data[base + i] * q[i];
            s1 += data[base + i + 1] * q[i + 1];
            s2 += data[base + i + 2] * q[i + 2];
            s3 += data[base + i + 3] * q[i + 3];
        }
        for (; i < dim; i++) {
            s0 += data[base + i] * q[i];
        }
        return (s0 + s1) + (s2 + s3);
    }

    @Override
    public void row(int token, float[] dst) {
        System.arraycopy(data, token * stride + offset, dst, 0, dim);
    }
}
