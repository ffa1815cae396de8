package org.pariskv.model;

import java.util.List;
import java.util.Locale;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.BackendKind;
import org.pariskv.device.KvPlacement;
import org.pariskv.device.MemoryBudget;
import org.pariskv.device.MemoryPlan;

/**
 * The memory of a whole model decoding on a device ({@link DeviceLlama}): the bf16 weights on the device, plus each
 * layer's decoder ({@link MemoryPlan}) with its K/V rows on the device or in host memory. {@link #choose} picks the
 * first placement that fits a budget, device first, so what {@code plan --model} answers is what a run would do.
 *
 * @param attention the decoders of every layer at this context and batch
 */
public record ModelMemoryPlan(String name, LlamaConfig config, long weightBytes, MemoryPlan attention) {

    /** The plan with K/V rows placed as {@code placement}. */
    public static ModelMemoryPlan of(String name, LlamaConfig c, ParisKvConfig kv, int context, int batch, KvPlacement placement, BackendKind backend) {
        return new ModelMemoryPlan(name, c, 2 * c.parameters(), MemoryPlan.of(c.attentionShape(), kv, context, batch, placement, backend));
    }

    /**
     * The first of device, mapped and staged K/V that fits {@code budget}; null when none does (the reasons are in
     * {@link #refusal} of each).
     */
    public static ModelMemoryPlan choose(String name, LlamaConfig c, ParisKvConfig kv, int context, int batch, BackendKind backend, MemoryBudget budget) {
        for (KvPlacement p : List.of(KvPlacement.DEVICE, KvPlacement.MAPPED, KvPlacement.STAGED)) {
            ModelMemoryPlan plan = of(name, c, kv, context, batch, p, backend);
            if (plan.refusal(budget) == null) return plan;
        }
        return null;
    }

    public long deviceBytes() {
        return weightBytes + attention.deviceBytes();
    }

    public long hostBytes() {
        return attention.hostBytes();
    }

    /** Null when the plan fits {@code budget} (unknown sides unchecked), else why not, with the numbers. */
    public String refusal(MemoryBudget budget) {
        String what = name + " at context " + attention.context() + ", batch " + attention.batch() + ", K/V " + attention.placement().cliName();
        if (budget.deviceFree() >= 0 && deviceBytes() > budget.deviceFree()) {
            return String.format(Locale.ROOT, "%s needs %s of device memory (weights %s, decoders %s) but %s is %s", what, MemoryPlan.gib(deviceBytes()),
                    MemoryPlan.gib(weightBytes), MemoryPlan.gib(attention.deviceBytes()), MemoryPlan.gib(budget.deviceFree()), budget.deviceSource());
        }
        if (budget.hostFree() >= 0 && hostBytes() > budget.hostFree()) {
            return String.format(Locale.ROOT, "%s needs %s of host memory for its K/V rows but %s is %s", what, MemoryPlan.gib(hostBytes()),
                    MemoryPlan.gib(budget.hostFree()), budget.hostSource());
        }
        return null;
    }

    /** A markdown table: weights and the decoders' parts, device and host, and the verdict against {@code budget}. */
    public String table(MemoryBudget budget) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "model: %s, %d layers, hidden %d, %.2f B parameters (bf16)%n", name,
                config.layers(), config.hiddenSize(), config.parameters() / 1e9));
        sb.append(String.format(Locale.ROOT, "| part | device | host |%n|---|---:|---:|%n| weights | %s | - |%n", MemoryPlan.gib(weightBytes)));
        for (MemoryPlan.Row r : attention.layer()) {
            sb.append(String.format(Locale.ROOT, "| %s (%d layers) | %s | %s |%n", r.name(), config.layers(), MemoryPlan.gib(r.device() * config.layers()),
                    MemoryPlan.gib(r.host() * config.layers())));
        }
        sb.append(String.format(Locale.ROOT, "| **total** | %s | %s |%n%n", MemoryPlan.gib(deviceBytes()), MemoryPlan.gib(hostBytes())));
        String why = refusal(budget);
        sb.append(why != null ? "fits: no: " + why
                : budget.deviceFree() < 0 ? "fits: not known: the device budget is unknown (give --device or --device-memory)" : "fits: yes").append('\n');
        return sb.toString();
    }
}
