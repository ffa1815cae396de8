package org.pariskv.encode;

/**
 * Data-independent 3-bit Lloyd–Max quantiser of {@code |u_j|} for {@code u} uniform on the unit sphere
 * S^7 (one 8-dim block). Constants from the reference implementation; they never need training because
 * the rotation makes every block look alike.
 */
public final class LloydMax {
    private LloydMax() {}

    /** Decision thresholds: magnitude index {@code t = #{thresholds < |u|}} in 0..7. */
    public static final float[] THRESHOLDS = {0.0843f, 0.1698f, 0.2578f, 0.3499f, 0.4487f, 0.5585f, 0.6901f};

    /** Reconstruction levels, one per magnitude index. */
    public static final float[] CENTERS = {0.0420f, 0.1266f, 0.2130f, 0.3025f, 0.3973f, 0.5001f, 0.6169f, 0.7633f};

    /** Signed level of a 4-bit code {@code sign<<3 | t}: {@code +centers[t]} when the sign bit is set. */
    public static final float[] SIGNED_LEVELS = new float[16];

    static {
        for (int v = 0; v < 16; v++) SIGNED_LEVELS[v] = ((v & 8) != 0 ? 1f : -1f) * CENTERS[v & 7];
    }

    /** Magnitude index of {@code |u|}: the number of thresholds strictly below it. */
    public static int magnitudeIndex(float absU) {
        int t = 0;
        for (float th : THRESHOLDS) if (th < absU) t++;
        return t;
    }
}
