package org.pariskv.bench;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Tag;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.Backends;
import org.pariskv.compute.OpenClTestSupport;
import org.pariskv.device.DeviceDecoder;

/** The whole-model bench on OpenCL (PoCL on CI): every layer decodes, offloaded K/V, quality scored against exact attention. */
@Tag("slow") // 20 s on a fresh machine (PoCL compiles the decoder per shape); ./pariskv test --fast leaves it out
class ModelBenchTest {

    @Test
    void runsEveryLayerAndScoresQualityAgainstExactAttention() {
        var backend = Backends.open(OpenClTestSupport.openClDevice());
        ModelShape model = new ModelShape(3, 8, 2, 64);
        ModelBench.Result r = ModelBench.run(backend, model, ParisKvConfig.defaults(), 9000, 3,
                DeviceDecoder.Options.defaults().withOffload(true), 3, null);
        assertEquals(3, r.layers());
        assertEquals(3, r.samples());
        assertTrue(r.msPerStepMedian() > 0 && r.msPerStepBest() <= r.msPerStepMedian());
        assertTrue(r.deviceMsPerStepMedian() > 0, "device time of a whole-model step: " + r.deviceMsPerStepMedian());
        assertTrue(r.hostMappedBytes() >= 3L * 2 * 2 * 9000 * 64 * 2, "K/V of every layer in host memory: " + r.hostMappedBytes());
        assertTrue(r.recallAtK() > 0.3 && r.recallAtK() <= 1, "recall " + r.recallAtK());
        assertTrue(r.attentionMassRecall() > 0.3 && r.attentionMassRecall() <= 1 + 1e-9, "mass " + r.attentionMassRecall());
        assertTrue(r.outputRelError() >= 0 && r.outputRelError() < 1, "error " + r.outputRelError());
    }
}
