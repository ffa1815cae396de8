package org.pariskv.device;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.OpenClTestSupport;
import org.pariskv.compute.graph.ExecutionPlan;
import org.pariskv.compute.graph.ExecutionResult;
import org.pariskv.compute.graph.IntParam;
import org.pariskv.encode.Bf16;
import org.pariskv.encode.KeyEncoder;
import org.pariskv.rotate.HadamardRotation;
import org.pariskv.rotate.Rotation;

/** The encode step as a TaskGraph: its Java twin (java backend) and its kernel (OpenCL) give the same index. */
class EncodeStepTest {

    static EncodeStep.Buffers buffers(int streams, int d, int capTok, int[] counts, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        short[] keys = new short[streams * capTok * d];
        for (int i = 0; i < keys.length; i++) keys[i] = Bf16.fromFloat((float) rnd.nextDouble(-1, 1) + (i % d == 5 ? 2f : 0f));
        float[] center = new float[streams * d];
        for (int i = 0; i < center.length; i++) center[i] = i % d == 5 ? 2f : 0f;
        int[] plan = new int[streams * EncodeStep.PLAN];
        for (int s = 0; s < streams; s++) {
            plan[s * EncodeStep.PLAN + EncodeStep.P_ZONE_START] = 4;
            plan[s * EncodeStep.PLAN + EncodeStep.P_ENC_FROM] = 3 * s;
            plan[s * EncodeStep.PLAN + EncodeStep.P_ENC_COUNT] = counts[s];
        }
        int cap = capTok;
        byte[] codes = new byte[streams * cap * d / 8];
        byte[] nibbles = new byte[streams * cap * d / 2];
        Arrays.fill(codes, (byte) 0x5a); // poison: slots not encoded must stay as they were
        Arrays.fill(nibbles, (byte) 0x5a);
        return new EncodeStep.Buffers(keys, ((HadamardRotation) Rotation.forDim(d, 42)).signs(), center, plan, codes, nibbles,
                new short[streams * cap * d / 8], new int[streams * d / 8 * 256], new IntParam(cap), new IntParam(capTok));
    }

    @Test
    void javaTwinEncodesLikeKeyEncoder() {
        int d = 64;
        EncodeStep.Buffers b = buffers(2, d, 300, new int[] {100, 57}, 1);
        try (ExecutionPlan plan = new ExecutionPlan(EncodeStep.graph(b, d, 4, 2, 100)).withDevice(DeviceSpec.JAVA)) {
            plan.execute();
        }
        // stream 1, zone index 3 + 10 = token 4 + 13
        float[] row = new float[d];
        for (int i = 0; i < d; i++) row[i] = Bf16.toFloat(b.keys()[(300 + 4 + 13) * d + i]) ;
        byte[] codes = new byte[d / 8], nib = new byte[d / 2];
        short[] w = new short[d / 8];
        new KeyEncoder(Rotation.forDim(d, 42)).encode(row, 0, 1, Arrays.copyOfRange(b.center(), d, 2 * d), codes, 0, nib, 0, w, 0);
        int slot = 300 + 13;
        assertArrayEquals(codes, Arrays.copyOfRange(b.codes(), slot * d / 8, (slot + 1) * d / 8));
        assertArrayEquals(nib, Arrays.copyOfRange(b.nibbles(), slot * d / 2, (slot + 1) * d / 2));
        assertEquals(157 * d / 8, Arrays.stream(b.counts()).sum(), "one count per encoded key and block");
        assertEquals((byte) 0x5a, b.codes()[(300 + 3 + 57) * d / 8], "slot past the encoded range untouched");
    }

    @Test
    void kernelAndTwinGiveTheSameIndexOnOpenCl() {
        var device = OpenClTestSupport.openClDevice();
        int d = 128;
        int[] n = {211, 7, 0, 64};
        EncodeStep.Buffers java = buffers(4, d, 400, n, 9), dev = buffers(4, d, 400, n, 9);
        try (ExecutionPlan p = new ExecutionPlan(EncodeStep.graph(java, d, 4, 2, 211)).withDevice(DeviceSpec.JAVA)) {
            p.execute();
        }
        try (ExecutionPlan p = new ExecutionPlan(EncodeStep.graph(dev, d, 4, 2, 211)).withDevice(device)) {
            ExecutionResult r = p.execute();
            assertTrue(r.task("encodeKeys").bytesIn() > 0, "the device task ran with its inputs");
        }
        assertArrayEquals(java.codes(), dev.codes(), "collision codes");
        assertArrayEquals(java.nibbles(), dev.nibbles(), "rerank nibbles");
        assertArrayEquals(java.counts(), dev.counts(), "centroid counts");
        for (int i = 0; i < java.weights().length; i++) assertTrue(Math.abs(java.weights()[i] - dev.weights()[i]) <= 1, "weight " + i);
    }
}
