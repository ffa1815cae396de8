import java.util.SplittableRandom;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.BackendKind;
import org.pariskv.compute.Backends;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Devices;
import org.pariskv.device.DeviceDecoder;

/**
 * A million-token decode of one llama3-8b layer on a GPU: keys/values generated on the host, encoded on the
 * device, then decode steps with retrieval and sparse attention. Scaled down by the first argument so it runs
 * anywhere (CI runs it with 16384 tokens on PoCL).
 * Usage: MillionTokenDecode [tokens (default 1048576)] [device (default auto)] [steps (default 20)]
 */
public class MillionTokenDecode {
    public static void main(String[] args) {
        int tokens = args.length > 0 ? Integer.parseInt(args[0]) : 1 << 20;
        String spec = args.length > 1 ? args[1] : "auto";
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        DeviceInfo device = DeviceSpec.parse(spec).resolve(Devices.list());
        if (device.backend() == BackendKind.JAVA) {
            System.out.println("no OpenCL/CUDA device: pass a device (e.g. opencl) to run the device pipeline");
            return;
        }
        ModelShape layer = new ModelShape(1, 32, 8, 128);
        ParisKvConfig cfg = ParisKvConfig.defaults();
        int kv = layer.kvHeads() * layer.headDim(), qn = layer.queryHeads() * layer.headDim();
        SplittableRandom rnd = new SplittableRandom(3);
        try (DeviceDecoder dec = new DeviceDecoder(Backends.open(device), layer, cfg, 1, tokens + steps)) {
            int chunk = 1 << 16; // prefill in slices to bound host memory
            long t0 = System.nanoTime();
            for (int done = 0; done < tokens; done += chunk) {
                int n = Math.min(chunk, tokens - done);
                dec.prefill(0, random(rnd, n * kv), random(rnd, n * kv), n);
            }
            long prefill = System.nanoTime() - t0;
            float[] out = new float[qn];
            long best = Long.MAX_VALUE;
            for (int s = 0; s < steps; s++) {
                long a = System.nanoTime();
                dec.decode(random(rnd, qn), random(rnd, kv), random(rnd, kv), out, false);
                dec.finish();
                best = Math.min(best, System.nanoTime() - a);
            }
            System.out.printf("%s: %d tokens prefilled+encoded in %.1f s; decode step best %.3f ms; device memory %.2f GiB%n",
                    device.spec(), tokens, prefill / 1e9, best / 1e6, dec.deviceBytes() / (double) (1L << 30));
        }
    }

    static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextDouble(-1, 1);
        return a;
    }
}
