package org.pariskv.compute.jit;

import org.pariskv.compute.kernel.ByteArray;
import org.pariskv.compute.kernel.FloatArray;
import org.pariskv.compute.kernel.IntArray;
import org.pariskv.compute.kernel.Kernel;
import org.pariskv.compute.kernel.KernelContext;
import org.pariskv.compute.kernel.KernelMath;
import org.pariskv.compute.kernel.LongArray;
import org.pariskv.compute.kernel.ShortArray;

/** One kernel per construct of the translatable subset; {@link SubsetTranslationTest} runs each on the JVM and PoCL. */
public final class SubsetKernels {
    private SubsetKernels() {}

    /** Not a compile-time constant: javac reads it with getstatic. */
    static final int SCALE = Integer.parseInt("3");
    static final long BIG = Long.parseLong("-81985529216486895");
    static final float HALF = Float.parseFloat("0.5");
    /** Tables: static final arrays become program-scope constants (their values at translation). */
    static final float[] LEVELS = {0.0420f, -0.1266f, 0.2130f, 1e-30f, -3.3e38f, 0.5001f, 0.6169f, 0.7633f};
    static final int[] STEPS = {Integer.MIN_VALUE, -1, 0, 7, Integer.MAX_VALUE};

    /** int arithmetic with Java's wrapping, masking and division semantics. */
    @Kernel
    public static void intArithmetic(KernelContext ctx, IntArray a, IntArray b, IntArray out, int n) {
        int i = ctx.globalId(0);
        if (i >= n) return;
        int x = a.get(i), y = b.get(i);
        int o = 16 * i;
        out.set(o, x + y);
        out.set(o + 1, x - y);
        out.set(o + 2, x * y);
        out.set(o + 3, y == 0 ? 0 : x / y);
        out.set(o + 4, y == 0 ? 0 : x % y);
        out.set(o + 5, x << y);
        out.set(o + 6, x >> y);
        out.set(o + 7, x >>> y);
        out.set(o + 8, x & y | ~x ^ y);
        out.set(o + 9, -x);
        out.set(o + 10, x << 33);
        out.set(o + 11, x / 7 + x % -5);
        out.set(o + 12, Math.abs(x) + Math.min(x, y) - Math.max(x, y));
        int acc = x;
        acc += y;
        acc *= 31;
        acc ^= acc >>> 7;
        out.set(o + 13, acc);
        out.set(o + 14, x * SCALE);
        out.set(o + 15, Integer.MIN_VALUE / (y | 1) + (x == Integer.MIN_VALUE ? 1 : 0));
    }

    /** long arithmetic, shifts by int counts, lcmp. */
    /** Locals named like C math functions (cos, sin, pow, floor) must not shadow them in the generated program. */
    @Kernel
    public static void localsNamedLikeCFunctions(KernelContext ctx, FloatArray a, FloatArray out, int n) {
        int i = ctx.globalId(0);
        if (i >= n) return;
        float cos = a.get(i) * 0.5f, sin = a.get(i) + 1f, pow = 2f;
        float floor = (float) Math.floor(cos);
        out.set(i, cos * sin + floor * pow + (float) Math.sqrt(Math.abs(sin)));
    }

    @Kernel
    public static void longArithmetic(KernelContext ctx, LongArray a, LongArray b, LongArray out, int n) {
        int i = ctx.globalId(0);
        if (i >= n) return;
        long x = a.get(i), y = b.get(i);
        int o = 12 * i;
        out.set(o, x + y);
        out.set(o + 1, x - y);
        out.set(o + 2, x * y);
        out.set(o + 3, y == 0 ? 0 : x / y);
        out.set(o + 4, y == 0 ? 0 : x % y);
        out.set(o + 5, x << (int) y);
        out.set(o + 6, x >> (int) y);
        out.set(o + 7, x >>> (int) y);
        out.set(o + 8, (x & y) | (~x ^ y));
        out.set(o + 9, -x + BIG);
        out.set(o + 10, x < y ? 1 : x == y ? 2 : 3);
        out.set(o + 11, Math.abs(x) + Math.min(x, y) - Math.max(x, y) + (long) (int) x);
    }

    /** float arithmetic (strict IEEE), Math intrinsics on floats and doubles. */
    @Kernel
    public static void floatArithmetic(KernelContext ctx, FloatArray a, FloatArray b, FloatArray out, int n) {
        int i = ctx.globalId(0);
        if (i >= n) return;
        float x = a.get(i), y = b.get(i);
        int o = 14 * i;
        out.set(o, x + y);
        out.set(o + 1, x - y);
        out.set(o + 2, x * y);
        out.set(o + 3, x / y);
        out.set(o + 4, x % y);
        out.set(o + 5, -x);
        out.set(o + 6, Math.fma(x, y, HALF));
        out.set(o + 7, (float) Math.sqrt(Math.abs(x)));
        out.set(o + 8, Math.abs(y));
        out.set(o + 9, Math.min(x, y));
        out.set(o + 10, Math.max(x, y));
        double d = (double) x * y + 1.0 / 3.0;
        out.set(o + 11, (float) d);
        out.set(o + 12, (float) (Math.floor(x) + Math.ceil(y)));
        out.set(o + 13, (float) Math.fma((double) x, y, d) + (float) Math.sqrt(d * d));
    }

    /** Conversions: saturating float/double to int/long, narrowing to byte/short/char, widening. */
    @Kernel
    public static void conversions(KernelContext ctx, FloatArray f, IntArray ints, LongArray longs, int n) {
        int i = ctx.globalId(0);
        if (i >= n) return;
        float x = f.get(i);
        double d = x * 1e10;
        int o = 8 * i;
        ints.set(o, (int) x);
        ints.set(o + 1, (int) d);
        ints.set(o + 2, (byte) (int) (x * 1000));
        ints.set(o + 3, (short) (int) (x * 100000));
        ints.set(o + 4, (char) (int) (x * 100000));
        ints.set(o + 5, (int) (long) (x * 1e6f));
        ints.set(o + 6, Float.floatToIntBits((float) i / 3 + x));
        ints.set(o + 7, Float.floatToIntBits(x * 0f));
        longs.set(2 * i, (long) x * 3 + (long) d);
        longs.set(2 * i + 1, Double.doubleToRawLongBits((double) (long) (x * 1e9f)) + Float.floatToRawIntBits((float) (long) d));
    }

    /** Float and double comparisons with NaN (fcmpl/fcmpg/dcmpl/dcmpg) in branches and as values. */
    @Kernel
    public static void comparisons(KernelContext ctx, FloatArray a, FloatArray b, IntArray out, int n) {
        int i = ctx.globalId(0);
        if (i >= n) return;
        float x = a.get(i), y = b.get(i);
        double dx = x, dy = y;
        int bits = 0;
        if (x < y) bits |= 1;
        if (x <= y) bits |= 2;
        if (x > y) bits |= 4;
        if (x >= y) bits |= 8;
        if (x == y) bits |= 16;
        if (x != y) bits |= 32;
        if (!(x < y)) bits |= 64;
        if (!(x >= y)) bits |= 128;
        if (dx < dy) bits |= 256;
        if (dx >= dy) bits |= 512;
        if (!(dx > dy)) bits |= 1024;
        if (Float.isNaN(x)) bits |= 2048;
        boolean lt = x < y;
        bits |= lt ? 4096 : 0;
        bits |= (x > y) == (dy < dx) ? 8192 : 0;
        out.set(i, bits);
    }

    /** Loops with break and continue, nested loops, do-while, early return, && and || (as branches and as values). */
    @Kernel
    public static void loopsAndBranches(KernelContext ctx, IntArray in, IntArray out, int n) {
        int i = ctx.globalId(0);
        if (i >= n) return;
        int v = in.get(i);
        int sum = 0;
        for (int k = 0; k < 40; k++) {
            if (k % 3 == 0) continue;
            if (sum > 200 + (v & 63)) break;
            for (int j = 0; j < k; j++) {
                if ((j & 1) == 0 && j > 2 || j == 7) sum += j;
                else sum -= 1;
            }
        }
        int steps = 0;
        int x = (v & 1023) + 1;
        do {
            x = (x & 1) == 0 ? x / 2 : 3 * x + 1;
            steps++;
        } while (x != 1 && steps < 500);
        int w = 0;
        while (true) {
            w++;
            if (w * w > (v & 4095)) break;
        }
        boolean inRange = v > -1000 && v < 1000 || v == 123456;
        out.set(3 * i, sum);
        out.set(3 * i + 1, steps * 10000 + w);
        out.set(3 * i + 2, inRange ? firstDivisor(v) : -1);
    }

    private static int firstDivisor(int v) {
        int m = Math.abs(v);
        if (m < 2) return m;
        for (int d = 2; d * d <= m; d++) {
            if (m % d == 0) return d;
        }
        return m;
    }

    /** tableswitch and lookupswitch, with fall-through and a loop around a switch with continue. */
    @Kernel
    public static void switches(KernelContext ctx, IntArray in, IntArray out, int n) {
        int i = ctx.globalId(0);
        if (i >= n) return;
        int v = in.get(i);
        int r;
        switch (v & 7) {
            case 0 -> r = 10;
            case 1, 2 -> r = 20 + v;
            case 3 -> {
                int t = v * 3;
                r = t > 100 ? t : -t;
            }
            case 5 -> r = 50;
            default -> r = -1;
        }
        int s = 0;
        switch (v % 1000) {
            case -500:
                s += 1;
            case 17:
                s += 2;
                break;
            case 999:
                s = 9;
                break;
            case 100000:
                s = 7;
                break;
            default:
                s = 3;
        }
        int acc = 0;
        for (int k = 0; k < 10; k++) {
            switch (k) {
                case 2:
                    continue;
                case 4:
                    acc += 100;
                    break;
                default:
                    acc += k;
            }
            acc *= 2;
        }
        out.set(3 * i, r);
        out.set(3 * i + 1, s);
        out.set(3 * i + 2, acc);
    }

    /** Device functions: same class, another class, arrays passed on, values returned, constants read by getstatic. */
    @Kernel
    public static void calls(KernelContext ctx, FloatArray x, FloatArray out, int n) {
        int i = ctx.globalId(0);
        if (i >= n) return;
        float s = Helpers.dot3(x, 3 * (i / 3), x, 3 * ((i + 1) % (n / 3) ));
        out.set(i, s + square(x.get(i)) + Helpers.OFFSET + bump(SCALE));
        Helpers.store(out, n + i, (float) Helpers.twice(i));
    }

    private static float square(float v) {
        return v * v;
    }

    private static int bump(int v) {
        return v + 1;
    }

    /** Helpers in another class: they become device functions too. */
    static final class Helpers {
        static final float OFFSET = Float.parseFloat("0.25");

        static float dot3(FloatArray a, int i, FloatArray b, int j) {
            float s = 0;
            for (int k = 0; k < 3; k++) s = Math.fma(a.get(i + k), b.get(j + k), s);
            return s;
        }

        static void store(FloatArray out, int i, float v) {
            out.set(i, v);
        }

        static long twice(int v) {
            return 2L * v;
        }
    }

    /** Bit intrinsics: bitCount, leading/trailing zeros, rotations, byte permute, funnel shift, float bits. */
    @Kernel
    public static void bits(KernelContext ctx, IntArray a, IntArray b, IntArray out, int n) {
        int i = ctx.globalId(0);
        if (i >= n) return;
        int x = a.get(i), y = b.get(i);
        int o = 9 * i;
        out.set(o, Integer.bitCount(x));
        out.set(o + 1, Integer.numberOfLeadingZeros(x >>> (y & 31)));
        out.set(o + 2, Integer.numberOfTrailingZeros(x & -(y & 3)));
        out.set(o + 3, Integer.rotateLeft(x, y));
        out.set(o + 4, Integer.rotateRight(x, y));
        out.set(o + 5, KernelContext.bytePermute(x, y, 0x4073 ^ (y & 0x3333)));
        out.set(o + 6, KernelContext.funnelShiftRight(x, y, y >>> 3));
        out.set(o + 7, Float.floatToIntBits(Float.intBitsToFloat(x) * 2f) + Float.floatToRawIntBits(Float.intBitsToFloat(x & 0x3fffffff)));
        out.set(o + 8, Long.bitCount((long) x * y) + Long.numberOfLeadingZeros((long) x << 20));
    }

    /** byte, short and char values through ByteArray/ShortArray, with sign extension and narrowing stores. */
    @Kernel
    public static void narrowTypes(KernelContext ctx, ByteArray bytes, ShortArray shorts, ByteArray outBytes,
                                   ShortArray outShorts, IntArray outInts, int n) {
        int i = ctx.globalId(0);
        if (i >= n) return;
        byte b = bytes.get(i);
        short s = shorts.get(i);
        char c = (char) s;
        outBytes.set(i, (byte) (b * 3 + s));
        outShorts.set(i, (short) (s * b - c));
        outInts.set(3 * i, b + s + c);
        outInts.set(3 * i + 1, (b & 0xff) * (c >> 3));
        boolean neg = b < 0;
        outInts.set(3 * i + 2, neg ? s >> 2 : c >>> 1);
    }

    /** Local memory, barriers in a loop, local atomics passed to a device function, global atomic max/min. */
    @Kernel
    public static void localScan(KernelContext ctx, IntArray in, IntArray out, IntArray extremes, int n) {
        int[] scan = ctx.allocateIntLocalArray(64);
        int lid = ctx.localId(0), i = ctx.globalId(0);
        int v = i < n ? in.get(i) : 0;
        scan[lid] = v;
        ctx.barrier();
        for (int d = 1; d < ctx.localSize(0); d <<= 1) {
            int t = lid >= d ? scan[lid - d] : 0;
            ctx.barrier();
            scan[lid] += t;
            ctx.barrier();
        }
        if (i < n) {
            out.set(i, scan[lid]);
            ctx.atomicMax(extremes, 0, v);
            ctx.atomicMin(extremes, 1, v);
            countSign(ctx, extremes, v);
        }
    }

    private static void countSign(KernelContext ctx, IntArray counts, int v) {
        ctx.atomicAdd(counts, v < 0 ? 2 : 3, 1);
    }

    /** A two-dimensional grid: ids and sizes in both dimensions, a float local array shared through a helper. */
    @Kernel
    public static void grid2d(KernelContext ctx, FloatArray out, int width) {
        float[] tile = ctx.allocateFloatLocalArray(64);
        int x = ctx.globalId(0), y = ctx.globalId(1);
        int row = ctx.localId(1) * ctx.localSize(0);
        tile[row + ctx.localId(0)] = x * 0.5f + y;
        ctx.barrier();
        float mirror = readMirror(tile, row + ctx.localSize(0) - 1 - ctx.localId(0));
        out.set(y * width + x, mirror + ctx.groupId(1) * 1000 + ctx.groupCount(0) * 100 + ctx.globalSize(1));
    }

    private static float readMirror(float[] local, int j) {
        return local[j];
    }

    /** Values left on the operand stack at merge points: nested ternaries feeding a store and a call; a boolean parameter. */
    @Kernel
    public static void ternaries(KernelContext ctx, FloatArray a, IntArray flags, FloatArray out, int n, boolean flip) {
        int i = ctx.globalId(0);
        if (i >= n) return;
        int f = flags.get(i);
        float x = flip ? -a.get(i) : a.get(i);
        out.set(2 * i, f > 0 ? (x > 0 ? x : -x) : f == 0 ? 0f : x * 2);
        out.set(2 * i + 1, square(f > 1 && x < 1 || f < -5 ? x + 1 : x - 1) + (f != 3 ? 1 : 2));
    }

    /** Barriers inside a device function called twice (PoCL needs such functions inlined): a block max and a block sum. */
    @Kernel
    public static void twoReductions(KernelContext ctx, FloatArray x, FloatArray out, int n) {
        float[] scratch = ctx.allocateFloatLocalArray(64);
        int i = ctx.globalId(0);
        float v = i < n ? x.get(i) : 0f;
        float max = blockReduce(ctx, scratch, v, true);
        float sum = blockReduce(ctx, scratch, v - max, false);
        if (ctx.localId(0) == 0) {
            out.set(2 * ctx.groupId(0), max);
            out.set(2 * ctx.groupId(0) + 1, sum);
        }
    }

    private static float blockReduce(KernelContext ctx, float[] scratch, float v, boolean max) {
        int lid = ctx.localId(0);
        scratch[lid] = v;
        ctx.barrier();
        for (int s = ctx.localSize(0) / 2; s > 0; s >>= 1) {
            if (lid < s) scratch[lid] = max ? Math.max(scratch[lid], scratch[lid + s]) : scratch[lid] + scratch[lid + s];
            ctx.barrier();
        }
        float r = scratch[0];
        ctx.barrier();
        return r;
    }

    /** Private arrays ({@code new T[constant]}): zeroed at each allocation, indexed, passed to a device function. */
    @Kernel
    public static void privateArrays(KernelContext ctx, IntArray in, IntArray out, int n) {
        int i = ctx.globalId(0);
        if (i >= n) return;
        int v = in.get(i);
        int[] digits = new int[10];
        for (int x = Math.abs(v % 1000000); x > 0; x /= 10) digits[x % 10]++;
        float[] acc = new float[3];
        int total = 0;
        for (int round = 0; round < 3; round++) {
            long[] seen = new long[2]; // a fresh, zeroed array every round
            seen[round & 1] += v + round;
            total += (int) (seen[0] - seen[1]);
            acc[round] = total * 0.5f;
        }
        out.set(3 * i, weighted(digits));
        out.set(3 * i + 1, total + digits.length);
        out.set(3 * i + 2, Float.floatToIntBits(acc[0] + acc[1] + acc[2]));
    }

    private static int weighted(int[] counts) {
        int s = 0;
        for (int d = 0; d < counts.length; d++) s += d * counts[d];
        return s;
    }

    /** Harder control flow: compound loop conditions, do-while with continue, returns from nested loops, flags. */
    @Kernel
    public static void tangledLoops(KernelContext ctx, IntArray in, IntArray out, int n) {
        int i = ctx.globalId(0);
        if (i >= n) return;
        int v = in.get(i);
        int j = i;
        while (j < n && in.get(j) > -800 && j - i < 20) j++; // a condition over several blocks
        int k = 0, odd = 0;
        do {
            k++;
            if ((k & 1) == 0) continue; // goes to the condition
            odd += k;
        } while (k < (v & 15));
        boolean found = false;
        int at = -1;
        for (int a = 0; a < 8 && !found; a++) {
            for (int b = 0; b < 8; b++) {
                if (((v >> (a + b)) & 7) == 5) {
                    found = true;
                    at = a * 8 + b;
                    break;
                }
            }
        }
        int acc = 0;
        for (int t = 0; t < 12; t++) {
            if (t % 4 == 0) {
                acc += 3;
                continue;
            } else if (t % 4 == 1) {
                acc *= 2;
            } else {
                switch (t) {
                    case 2, 6 -> acc -= 1;
                    case 7 -> {
                        if (acc > 1000) continue;
                        acc ^= 5;
                    }
                    default -> acc += t;
                }
            }
            acc += t > (v & 7) ? 1 : 0;
        }
        out.set(5 * i, j - i);
        out.set(5 * i + 1, odd);
        out.set(5 * i + 2, at);
        out.set(5 * i + 3, acc);
        out.set(5 * i + 4, search(in, n, v));
    }

    /** Returns from inside two loops. */
    private static int search(IntArray in, int n, int v) {
        for (int a = 0; a < n; a += 97) {
            for (int b = 0; b < 3; b++) {
                if (a + b < n && in.get(a + b) == v) return a + b;
                if (b == 2 && a > 500) return -2;
            }
        }
        return -1;
    }

    /** {@link KernelMath#exp} (pkv.h's EXP) after {@code awaitInputs}, which is a no-op here. */
    @Kernel
    public static void floatExp(KernelContext ctx, FloatArray x, FloatArray out, int n) {
        ctx.awaitInputs();
        int i = ctx.globalId(0);
        if (i < n) out.set(i, KernelMath.exp(x.get(i)));
    }

    /** Tables read directly, with a computed index, and through a device function. */
    @Kernel
    public static void tables(KernelContext ctx, IntArray in, FloatArray f, IntArray out, int n) {
        int i = ctx.globalId(0);
        if (i >= n) return;
        int v = in.get(i);
        f.set(2 * i, LEVELS[v & 7] * LEVELS[(v >>> 3) & 7]);
        f.set(2 * i + 1, weighted(LEVELS, v));
        out.set(i, STEPS[(v & 0x7fffffff) % STEPS.length] + STEPS.length);
    }

    private static float weighted(float[] table, int v) {
        float s = 0f;
        for (int k = 0; k < table.length; k++) s += ((v >>> k) & 1) != 0 ? table[k] : -table[k];
        return s;
    }

    /** Post-increments whose old value is still on the stack: {@code a[i++]}, {@code x += h[c--]}, {@code y = i++ + i}. */
    @Kernel
    public static void postIncrements(KernelContext ctx, IntArray in, IntArray out, int n) {
        int g = ctx.globalId(0);
        if (g >= n) return;
        int base = 4 * g, k = base, c = base + 3, above = 0;
        out.set(k++, in.get(base) + 1);
        out.set(k++, k);
        while (c > base && above + in.get(c) < 1000) above += in.get(c--);
        out.set(k++, above);
        int y = c++ + c;
        out.set(k, y * 31 + c);
    }
}
