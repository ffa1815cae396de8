package org.pariskv.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.pariskv.GqaMode;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.Backend;
import org.pariskv.compute.Backends;
import org.pariskv.compute.OpenClTestSupport;

/**
 * {@link DeviceLlamaTest}'s comparisons on CUDA (skipped where there is none), with and without CUDA graphs: the
 * Java kernels through NVRTC, weights on the GPU, attention in each layer's DeviceDecoder.
 */
class DeviceLlamaCudaTest {

    @ParameterizedTest(name = "cudaGraph {0}")
    @ValueSource(booleans = {false, true})
    void fullAttentionOnCudaMatchesTheCpuModel(boolean cudaGraph) throws IOException {
        Backend b = Backends.open(OpenClTestSupport.cudaDevice());
        ParisKvConfig kv = ParisKvConfig.defaults();
        Path dir = BundledModel.directory();
        try (LlamaModel cpu = LlamaModel.load(dir, "full", kv); DeviceLlama dev = DeviceLlama.load(dir, b, kv, true, 4096, cudaGraph)) {
            double worst = DeviceLlamaTest.compare(cpu, dev, DeviceLlamaTest.prompt(2000), 64, false, true);
            assertTrue(worst <= DeviceLlamaTest.FULL_TOLERANCE, "logits differ by " + worst);
        }
    }

    @ParameterizedTest(name = "cudaGraph {0}")
    @ValueSource(booleans = {false, true})
    void parisKvOnCudaMatchesTheCpuModelsParisKv(boolean cudaGraph) throws IOException {
        Backend b = Backends.open(OpenClTestSupport.cudaDevice());
        ParisKvConfig kv = new ParisKvConfig(4, 64, 16, 32, 42L, GqaMode.PER_HEAD, Double.NaN, Double.NaN, 0, true);
        Path dir = BundledModel.directory();
        try (LlamaModel cpu = LlamaModel.load(dir, "pariskv", kv); DeviceLlama dev = DeviceLlama.load(dir, b, kv, false, 4096, cudaGraph)) {
            double worst = DeviceLlamaTest.compare(cpu, dev, DeviceLlamaTest.prompt(2000), 64, true, true);
            assertTrue(worst <= DeviceLlamaTest.SPARSE_TOLERANCE, "logits differ by " + worst);
        }
    }
}
