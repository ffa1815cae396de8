package org.pariskv.compute.jit;

import java.util.List;
import java.util.Map;

/**
 * JDK methods a kernel may call, as C templates ({@code $0}, {@code $1}, ... are the arguments). With the strict-FP
 * build options, {@code + - * /}, {@code sqrt}, {@code fma}, {@code abs}, {@code min}/{@code max}, {@code floor},
 * {@code ceil} and the conversions are bit-equal to the JVM; {@code exp}, {@code log}, {@code sin}, {@code cos},
 * {@code tanh} and {@code pow} are the device's (a few ulp from {@code StrictMath}).
 */
final class Intrinsics {
    private Intrinsics() {}

    private static final Map<String, String> TEMPLATES = Map.ofEntries(
            Map.entry("java/lang/Math.abs(I)I", "pkv_iabs($0)"),
            Map.entry("java/lang/Math.abs(J)J", "pkv_labs($0)"),
            Map.entry("java/lang/Math.abs(F)F", "PKV_FABSF($0)"),
            Map.entry("java/lang/Math.abs(D)D", "fabs($0)"),
            Map.entry("java/lang/Math.min(II)I", "pkv_imin($0, $1)"),
            Map.entry("java/lang/Math.max(II)I", "pkv_imax($0, $1)"),
            Map.entry("java/lang/Math.min(JJ)J", "pkv_lmin($0, $1)"),
            Map.entry("java/lang/Math.max(JJ)J", "pkv_lmax($0, $1)"),
            Map.entry("java/lang/Math.min(FF)F", "pkv_fmin($0, $1)"),
            Map.entry("java/lang/Math.max(FF)F", "pkv_fmax($0, $1)"),
            Map.entry("java/lang/Math.min(DD)D", "pkv_dmin($0, $1)"),
            Map.entry("java/lang/Math.max(DD)D", "pkv_dmax($0, $1)"),
            Map.entry("java/lang/Math.fma(FFF)F", "PKV_FMAF($0, $1, $2)"),
            Map.entry("java/lang/Math.fma(DDD)D", "fma($0, $1, $2)"),
            Map.entry("java/lang/Math.sqrt(D)D", "sqrt($0)"),
            Map.entry("java/lang/Math.floor(D)D", "floor($0)"),
            Map.entry("java/lang/Math.ceil(D)D", "ceil($0)"),
            Map.entry("java/lang/Math.exp(D)D", "exp($0)"),
            Map.entry("java/lang/Math.log(D)D", "log($0)"),
            Map.entry("java/lang/Math.sin(D)D", "sin($0)"),
            Map.entry("java/lang/Math.cos(D)D", "cos($0)"),
            Map.entry("java/lang/Math.tanh(D)D", "tanh($0)"),
            Map.entry("java/lang/Math.pow(DD)D", "pow($0, $1)"),
            Map.entry("org/pariskv/compute/kernel/KernelMath.exp(F)F", "PKV_EXPF($0)"),
            Map.entry("java/lang/Float.floatToRawIntBits(F)I", "PKV_AS_INT($0)"),
            Map.entry("java/lang/Float.floatToIntBits(F)I", "pkv_float_to_int_bits($0)"),
            Map.entry("java/lang/Float.intBitsToFloat(I)F", "PKV_AS_FLOAT($0)"),
            Map.entry("java/lang/Float.isNaN(F)Z", "(($0) != ($0))"),
            Map.entry("java/lang/Double.doubleToRawLongBits(D)J", "PKV_AS_LONG($0)"),
            Map.entry("java/lang/Double.longBitsToDouble(J)D", "PKV_AS_DOUBLE($0)"),
            Map.entry("java/lang/Double.isNaN(D)Z", "(($0) != ($0))"),
            Map.entry("java/lang/Integer.bitCount(I)I", "((int) PKV_POPCOUNT($0))"),
            Map.entry("java/lang/Integer.numberOfLeadingZeros(I)I", "PKV_CLZ($0)"),
            Map.entry("java/lang/Integer.numberOfTrailingZeros(I)I", "pkv_ctz($0)"),
            Map.entry("java/lang/Integer.rotateLeft(II)I", "PKV_ROTL($0, $1)"),
            Map.entry("java/lang/Integer.rotateRight(II)I", "PKV_ROTL($0, 32 - (($1) & 31))"),
            Map.entry("java/lang/Long.bitCount(J)I", "PKV_POPCOUNTL($0)"),
            Map.entry("java/lang/Long.numberOfLeadingZeros(J)I", "PKV_CLZL($0)"));

    /** The template key for a call, or null when it is no intrinsic ({@code StrictMath} maps to {@code Math}). */
    static String lookup(String owner, String name, String desc) {
        String o = owner.equals("java/lang/StrictMath") ? "java/lang/Math" : owner;
        String key = o + "." + name + desc;
        return TEMPLATES.containsKey(key) ? key : null;
    }

    static String apply(String key, List<String> args) {
        String t = TEMPLATES.get(key);
        for (int i = args.size() - 1; i >= 0; i--) t = t.replace("$" + i, args.get(i));
        return t;
    }
}
