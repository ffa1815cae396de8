import java.util.SplittableRandom;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.cache.KvCache;
import org.pariskv.compute.BackendKind;
import org.pariskv.compute.Backends;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Devices;
import org.pariskv.device.DeviceDecoder;
import org.pariskv.method.ParisKv;

/**
 * The decode step of one layer, as an inference engine would call it, on any device: a prompt is prefilled,
 * then each step appends the new token's K/V and attends with its queries.
 * Usage: DecodeLayer [device (java|opencl[:N]|cuda[:N]|auto)] [prompt tokens] [steps]
 */
public class DecodeLayer {
    public static void main(String[] args) {
        String spec = args.length > 0 ? args[0] : "auto";
        int prompt = args.length > 1 ? Integer.parseInt(args[1]) : 8192;
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 16;
        ModelShape layer = new ModelShape(1, 32, 8, 128); // one llama3-8b layer
        ParisKvConfig cfg = ParisKvConfig.defaults();
        DeviceInfo device = DeviceSpec.parse(spec).resolve(Devices.list());
        int kv = layer.kvHeads() * layer.headDim(), qn = layer.queryHeads() * layer.headDim();
        SplittableRandom rnd = new SplittableRandom(1);
        float[] keys = random(rnd, prompt * kv), values = random(rnd, prompt * kv);
        float[] out = new float[qn];
        long start;
        if (device.backend() == BackendKind.JAVA) {
            try (KvCache cache = KvCache.create(layer, cfg, new ParisKv())) {
                int seq = cache.newSequence();
                cache.layer(0).prefill(seq, keys, values, prompt);
                start = System.nanoTime();
                for (int s = 0; s < steps; s++) cache.layer(0).decode(new int[] {seq}, random(rnd, qn), random(rnd, kv), random(rnd, kv), out);
            }
        } else {
            try (DeviceDecoder dec = new DeviceDecoder(Backends.open(device), layer, cfg, 1, prompt + steps)) {
                dec.prefill(0, keys, values, prompt);
                start = System.nanoTime();
                for (int s = 0; s < steps; s++) dec.decode(random(rnd, qn), random(rnd, kv), random(rnd, kv), out, false);
            }
        }
        double ms = (System.nanoTime() - start) / 1e6 / steps;
        double norm = 0;
        for (float o : out) norm += o * o;
        System.out.printf("device %s: %d-token context, %d steps, %.3f ms/step (incl. warm-up), |out| = %.4f%n",
                device.spec(), prompt + steps, steps, ms, Math.sqrt(norm));
    }

    static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextDouble(-1, 1);
        return a;
    }
}
