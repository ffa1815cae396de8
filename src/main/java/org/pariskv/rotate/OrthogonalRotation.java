package org.pariskv.rotate;

import java.util.SplittableRandom;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;

/**
 * Seeded Haar-random orthogonal rotation for head dims that are not powers of two (80, 96, ...):
 * the Q factor of a Gaussian matrix, columns sign-corrected by R's diagonal so the draw is uniform.
 * O(D^2) per vector; our extension, the reference supports only D = 128.
 */
public record OrthogonalRotation(int dim, long seed, float[] rows) implements Rotation {

    public OrthogonalRotation(int dim, long seed) {
        this(dim, seed, draw(dim, seed));
    }

    public OrthogonalRotation {
        if (rows.length != dim * dim) throw new IllegalArgumentException("matrix must be dim x dim");
    }

    private static float[] draw(int dim, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        DMatrixRMaj g = new DMatrixRMaj(dim, dim);
        for (int i = 0; i < dim * dim; i++) g.data[i] = gaussian(rnd);
        QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(dim, dim);
        if (!qr.decompose(g)) throw new IllegalStateException("QR decomposition failed for dim " + dim);
        DMatrixRMaj q = qr.getQ(null, false);
        DMatrixRMaj r = qr.getR(null, false);
        float[] m = new float[dim * dim];
        for (int j = 0; j < dim; j++) {
            double s = Math.signum(r.get(j, j));
            if (s == 0) s = 1;
            for (int i = 0; i < dim; i++) m[i * dim + j] = (float) (q.get(i, j) * s);
        }
        return m;
    }

    private static double gaussian(SplittableRandom rnd) {
        // Box–Muller: SplittableRandom has no nextGaussian with a stable sequence across JDKs.
        double u1 = rnd.nextDouble(), u2 = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }

    @Override
    public void apply(float[] x, int xOff, float[] y, int yOff) {
        for (int i = 0; i < dim; i++) {
            float acc = 0f;
            int row = i * dim;
            for (int j = 0; j < dim; j++) acc += rows[row + j] * x[xOff + j];
            y[yOff + i] = acc;
        }
    }

    @Override
    public float[] matrix() {
        return rows.clone();
    }
}
