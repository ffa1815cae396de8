package org.pariskv.encode;

/**
 * bfloat16 by bit operations (round to nearest even), the storage type of K/V rows and block weights. The one
 * conversion of the project; it matches {@code float_to_bf16} of {@code tasks/pkv.h} bit for bit, NaN included.
 */
public final class Bf16 {
    private Bf16() {}

    public static short fromFloat(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) 0x7fc0; // canonical quiet NaN, as pkv.h
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    public static float toFloat(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }

    /** {@code f} rounded to the nearest bf16 value. */
    public static float round(float f) {
        return toFloat(fromFloat(f));
    }
}
