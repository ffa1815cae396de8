package org.pariskv.trace;

import java.util.Arrays;

/** Element types of trace tensors in a safetensors file. Values are always floats in memory. */
public enum TraceDtype {
    /** IEEE binary32. */
    F32(4),
    /** IEEE binary16. */
    F16(2),
    /** bfloat16: the upper 16 bits of a binary32 (written with round-to-nearest-even). */
    BF16(2);

    private final int bytes;

    TraceDtype(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /** The dtype with the safetensors name {@code name}, or {@code null} when it is not one of ours. */
    public static TraceDtype bySafetensorsName(String name) {
        return Arrays.stream(values()).filter(d -> d.name().equals(name)).findFirst().orElse(null);
    }

    /** bf16 bits of {@code x}, round-to-nearest-even; NaN stays NaN. */
    public static short toBf16(float x) {
        return org.pariskv.encode.Bf16.fromFloat(x);
    }

    /** The float of bf16 bits. */
    public static float fromBf16(short b) {
        return org.pariskv.encode.Bf16.toFloat(b);
    }
}
