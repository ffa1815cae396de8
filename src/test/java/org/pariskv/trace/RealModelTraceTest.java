package org.pariskv.trace;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.pariskv.ParisKvConfig;
import org.pariskv.eval.EvalResult;
import org.pariskv.eval.Evaluation;
import org.pariskv.method.Methods;

/**
 * A trace dumped by examples/dump_trace.py (--random-tiny: a 2-layer randomly initialised Llama, 8 query heads,
 * 2 KV heads, D=64, 3000 prompt tokens + 16 greedy steps, bf16) on the GPU machine, read by the Java reader and
 * replayed through the evaluation (profiles/results/2026-11-22-h100-traces/README.md).
 */
class RealModelTraceTest {

    static final Path FILE = Path.of("src/test/resources/traces/tiny-llama.safetensors");

    @Test
    void theDumpedTraceReadsWithItsShapeAndMetadata() {
        Trace t = TraceFiles.read(FILE);
        assertEquals(2, t.shape().layers());
        assertEquals(8, t.shape().queryHeads());
        assertEquals(2, t.shape().kvHeads());
        assertEquals(64, t.shape().headDim());
        assertEquals(3000, t.promptTokens());
        assertEquals(16, t.steps());
        assertEquals("random-tiny-llama", t.meta().get("model"));
        float[] k = t.layer(1).keys();
        double norm = 0;
        for (float x : k) norm += x * x;
        assertTrue(norm > 0 && Double.isFinite(norm), "keys hold data");
    }

    @Test
    void replayingItScoresTheOracleExactlyAndParisKvBelowIt() {
        Trace t = TraceFiles.read(FILE);
        ParisKvConfig cfg = ParisKvConfig.defaults().withMinSparseTokens(0);
        EvalResult oracle = Evaluation.run(t, Methods.byName("oracle"), cfg, "java", null);
        EvalResult paris = Evaluation.run(t, Methods.byName("pariskv"), cfg, "java", null);
        assertEquals(1.0, oracle.recallAtK().mean(), 1e-12);
        assertTrue(paris.recallAtK().mean() > 0.5 && paris.recallAtK().mean() <= 1.0, "recall " + paris.recallAtK().mean());
        assertTrue(paris.attentionMass().mean() <= oracle.attentionMass().mean() + 1e-6);
    }
}
