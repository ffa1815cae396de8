package org.pariskv.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.BackendKind;
import org.pariskv.device.KvPlacement;
import org.pariskv.device.MemoryBudget;
import org.pariskv.device.MemoryPlan;

/** {@link ModelMemoryPlan} at Llama-3.1-8B's shape against an H200-sized budget (139 GiB device, 125 GiB host). */
class ModelMemoryPlanTest {
    static final long GIB = 1L << 30;
    static final MemoryBudget H200 = MemoryBudget.ofCaps(139 * GIB, 125 * GIB);

    @Test
    void weightsPlusEveryLayersDecoderAndThePlacementThatFits() {
        LlamaConfig c = LlamaConfig.llama31_8b();
        ParisKvConfig kv = ParisKvConfig.defaults();
        ModelMemoryPlan p128 = ModelMemoryPlan.of("llama3-8b", c, kv, 131072, 1, KvPlacement.DEVICE, BackendKind.CUDA);
        assertEquals(2 * c.parameters(), p128.weightBytes());
        assertTrue(p128.weightBytes() > 16_000_000_000L && p128.weightBytes() < 16_100_000_000L, "8.03 B bf16 parameters");
        long kvRows = MemoryPlan.kvBytes(c.attentionShape(), 131072, 1); // 32 layers x 8 heads x 128 x 2 x 2 B x 128K = 16 GiB
        assertEquals(16 * GIB, kvRows);
        assertTrue(p128.deviceBytes() >= p128.weightBytes() + kvRows, "weights, K/V and the index on the device");
        assertEquals(0, p128.hostBytes());
        assertEquals(KvPlacement.DEVICE, ModelMemoryPlan.choose("llama3-8b", c, kv, 131072, 1, BackendKind.CUDA, H200).attention().placement());
        assertTrue(p128.table(H200).contains("fits: yes"), p128.table(H200));

        // 128K x 8 sequences: 128 GiB of K/V fit neither beside the weights nor in 125 GiB of host memory
        assertNull(ModelMemoryPlan.choose("llama3-8b", c, kv, 131072, 8, BackendKind.CUDA, H200));
        // with more host memory they go there, read in place by the GPU
        ModelMemoryPlan b8 = ModelMemoryPlan.choose("llama3-8b", c, kv, 131072, 8, BackendKind.CUDA, MemoryBudget.ofCaps(139 * GIB, 200 * GIB));
        assertNotNull(b8);
        assertEquals(KvPlacement.MAPPED, b8.attention().placement());
        String onDevice = ModelMemoryPlan.of("llama3-8b", c, kv, 131072, 8, KvPlacement.DEVICE, BackendKind.CUDA).refusal(H200);
        assertTrue(onDevice != null && onDevice.contains("device memory") && onDevice.contains("weights 14.9"), onDevice);

        // 1M tokens: 128 GiB of K/V fit neither side alone (tiered placement would split them)
        assertNull(ModelMemoryPlan.choose("llama3-8b", c, kv, 1 << 20, 1, BackendKind.CUDA, H200));
        String mapped = ModelMemoryPlan.of("llama3-8b", c, kv, 1 << 20, 1, KvPlacement.MAPPED, BackendKind.CUDA).refusal(H200);
        assertTrue(mapped != null && mapped.contains("host memory") && mapped.contains("125.00 GiB"), mapped);
        assertTrue(ModelMemoryPlan.of("llama3-8b", c, kv, 1 << 20, 1, KvPlacement.MAPPED, BackendKind.CUDA).table(MemoryBudget.unknown())
                .contains("fits: not known"));
    }
}
