package org.pariskv.model;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pariskv.ParisKvConfig;
import org.pariskv.io.Safetensors;
import org.pariskv.io.Safetensors.Dtype;

/** Our model against transformers' logits and greedy tokens on the bundled checkpoint, once the lead adds both files. */
class TransformersReferenceTest {

    static final Path FIXTURE = Path.of("src/test/resources/model/transformers-reference.safetensors");
    static final Path CHECKPOINT = Path.of("src/main/resources/model/pariskv-byte");

    @TempDir
    Path dir;

    @Test
    void bundledCheckpointMatchesTransformers() {
        String missing = !Files.isRegularFile(FIXTURE) ? FIXTURE + " is absent (written by training/compare_transformers.py)"
                : !Files.isRegularFile(CHECKPOINT.resolve("config.json")) ? CHECKPOINT + "/config.json is absent (the bundled checkpoint)" : null;
        if (missing != null) System.out.println("TransformersReferenceTest skipped: " + missing);
        assumeTrue(missing == null, missing);
        TransformersReference.Report r = TransformersReference.compare(CHECKPOINT, FIXTURE);
        System.out.println("transformers reference: " + r);
        assertTrue(r.withinTolerance(), r.toString());
        assertEquals(-1, r.firstMismatch(), r.toString());
    }

    /** The comparison itself on a fixture made from our own model: zero difference, no mismatch; a doctored fixture is caught. */
    @Test
    void theComparisonFindsDifferencesAndMismatches() {
        TinyCheckpoint c = TinyCheckpoint.write(dir.resolve("m"), TinyCheckpoint.Spec.small());
        int[] ids = LlamaModelTest.tokens(20, 3);
        float[] logits;
        int[] greedy = new int[12];
        try (LlamaModel m = LlamaModel.load(c.dir, "full", ParisKvConfig.defaults()); Session s = m.newSession()) {
            logits = s.prefillAllLogits(ids).clone();
            for (int i = 0; i < greedy.length; i++) greedy[i] = s.next(Sampler.greedy());
        }
        Path fixture = dir.resolve("ref.safetensors");
        write(fixture, ids, logits, greedy);
        TransformersReference.Report same = TransformersReference.compare(c.dir, fixture);
        assertTrue(same.maxAbsDiff() <= LlamaModelTest.SAME_PATH, same.toString());
        assertEquals(-1, same.firstMismatch());
        assertEquals(20, same.positions());
        logits[7 * 256 + 33] += 0.5f;
        greedy[5] = (greedy[5] + 1) % 256;
        write(fixture, ids, logits, greedy);
        TransformersReference.Report off = TransformersReference.compare(c.dir, fixture);
        assertEquals(0.5, off.maxAbsDiff(), 1e-3);
        assertEquals(7, off.worstPosition());
        assertEquals(5, off.firstMismatch());
        assertEquals(greedy[5], off.theirs());
    }

    private static void write(Path f, int[] ids, float[] logits, int[] greedy) {
        Safetensors.write(f, Map.of(), List.of(new Safetensors.Entry("input_ids", Dtype.I32, new long[] {ids.length}, ids),
                new Safetensors.Entry("logits", Dtype.F32, new long[] {ids.length, 256}, logits),
                new Safetensors.Entry("greedy_ids", Dtype.I32, new long[] {greedy.length}, greedy)));
    }
}
