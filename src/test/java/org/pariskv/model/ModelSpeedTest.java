package org.pariskv.model;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pariskv.ParisKvConfig;
import org.pariskv.io.Safetensors.Dtype;

/**
 * CPU speed of random checkpoints of two sizes, and of the bundled checkpoint when present (prefill tokens/s, decode
 * ms/token, full and ParisKV), printed, not
 * asserted: a measurement, skipped unless {@code -Dpariskv.modelSpeed=true}
 * ({@code mvn -q test -Dtest=ModelSpeedTest -Dpariskv.modelSpeed=true}).
 */
class ModelSpeedTest {

    @TempDir
    Path dir;

    @Test
    void measure() {
        assumeTrue(Boolean.getBoolean("pariskv.modelSpeed"), "a measurement: run with -Dpariskv.modelSpeed=true");
        TinyCheckpoint.Spec[] specs = {TinyCheckpoint.Spec.small(),
                // a plausible bundled size: 14.4 M parameters, 29 MB in bf16, head dim 128, GQA 2
                new TinyCheckpoint.Spec(LlamaConfig.LLAMA, 512, 1024, 6, 4, 2, 128, 256, 10000.0, 1e-5, false, Dtype.BF16, false, 7, null)};
        int steps = 64;
        java.util.List<Path> dirs = new java.util.ArrayList<>();
        for (TinyCheckpoint.Spec sp : specs) dirs.add(TinyCheckpoint.write(dir.resolve("m" + sp.hidden()), sp).dir);
        if (java.nio.file.Files.isRegularFile(TransformersReferenceTest.CHECKPOINT.resolve("config.json"))) dirs.add(TransformersReferenceTest.CHECKPOINT);
        for (Path d : dirs) {
            for (String method : new String[] {"full", "pariskv"}) {
                for (int ctx : new int[] {512, 4096}) {
                    try (LlamaModel m = LlamaModel.load(d, method, ParisKvConfig.defaults())) {
                        int[] p = LlamaModelTest.tokens(ctx, 1);
                        try (Session w = m.newSession()) { // warm-up: JIT the prefill and decode paths
                            w.prefill(Arrays.copyOf(p, 512));
                            for (int i = 0; i < 20; i++) w.next(Sampler.greedy());
                        }
                        try (Session s = m.newSession()) {
                            long t0 = System.nanoTime();
                            s.prefill(p);
                            long t1 = System.nanoTime();
                            for (int i = 0; i < steps; i++) s.next(Sampler.greedy());
                            long t2 = System.nanoTime();
                            LlamaConfig c = m.config();
                            System.out.printf(Locale.ROOT, "model speed: %s: hidden %d, %d layers, heads %d/%d, D %d, ffn %d (%.1f M params), %s, context %d: "
                                            + "prefill %.0f tokens/s, decode %.2f ms/token%n", d.getFileName(), c.hiddenSize(), c.layers(), c.heads(), c.kvHeads(),
                                    c.headDim(), c.intermediateSize(), c.parameters() / 1e6, method, ctx, ctx / ((t1 - t0) / 1e9), (t2 - t1) / 1e6 / steps);
                        }
                    }
                }
            }
        }
    }
}
