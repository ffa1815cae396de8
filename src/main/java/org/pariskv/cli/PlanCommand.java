package org.pariskv.cli;

import java.util.concurrent.Callable;
import org.pariskv.GqaMode;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.ShapeProfiles;
import org.pariskv.compute.Backend;
import org.pariskv.compute.BackendKind;
import org.pariskv.compute.Backends;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Devices;
import org.pariskv.device.KvPlacement;
import org.pariskv.device.MemoryBudget;
import org.pariskv.device.MemoryPlan;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code pariskv plan}: the memory budget of a whole model's KV cache: device and host bytes per layer and in
 * total, from the same sizes the device decoder allocates. Exit 0 when it fits (or nothing to check against),
 * 1 when it does not, 2 on bad arguments.
 */
@Command(name = "plan", mixinStandardHelpOptions = true,
        description = "Memory budget of a model's KV cache (device and host bytes per layer and total) and whether it fits. Exit 0 fits, 1 does not fit, 2 bad arguments.")
final class PlanCommand implements Callable<Integer> {

    @Mixin
    ShapeOption shapeOption;

    @Option(names = "--profile", hidden = true, description = "Deprecated: the old name of --shape.")
    String deprecatedProfile;

    @Option(names = "--context", required = true, description = "Tokens per sequence (prompt + generated).")
    int context;

    @Option(names = "--batch", defaultValue = "1", description = "Sequences (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--offload", description = "K/V rows in host memory the GPU reads directly; only the index and work buffers on the device (= --kv mapped).")
    boolean offload;

    @Option(names = "--kv", description = "Where the K/V rows live: device (default), mapped (= --offload) or staged (host memory, a step's selected rows copied to the device).")
    String kv;

    @Option(names = "--device-memory", description = "Device memory to plan for, e.g. 70G (default: what --device reports, else unchecked).")
    String deviceMemory;

    @Option(names = "--host-memory", description = "Host memory to plan for, e.g. 100G (default: MemAvailable).")
    String hostMemory;

    @Option(names = "--device", description = "opencl[:N], cuda[:N], java or auto: plan for that backend and ask it for its free memory (default: a CUDA/OpenCL layout, no device asked).")
    String device;

    @Option(names = "--topk", defaultValue = "100", description = "Top-k (default: ${DEFAULT-VALUE}).")
    int topk;

    @Option(names = "--gqa", defaultValue = "per-head", description = "mean or per-head (default: ${DEFAULT-VALUE}).")
    String gqa;

    @Option(names = "--model", description = "A whole model: llama3-8b (Llama-3.1-8B) or qwen3-8b. Adds its bf16 weights to the device side and, without --kv, "
            + "gives the first K/V placement that fits (device, then mapped, then staged), as bench --model and DeviceLlama would need.")
    String model;

    @Override
    public Integer call() {
        if (context <= 0) throw new IllegalArgumentException("--context must be positive, got " + context);
        if (batch <= 0) throw new IllegalArgumentException("--batch must be positive, got " + batch);
        ModelShape shape = ShapeProfiles.byName(shapeOption.name(deprecatedProfile));
        if (kv != null) KvPlacement.parse(kv); // fail fast
        ParisKvConfig cfg = ParisKvConfig.defaults().withTopk(topk).withGqa(GqaMode.parse(gqa));
        long devCap = deviceMemory == null ? 0 : MemoryPlan.parseBytes(deviceMemory);
        long hostCap = hostMemory == null ? 0 : MemoryPlan.parseBytes(hostMemory);
        BackendKind kind = BackendKind.CUDA;
        MemoryBudget budget;
        if (device != null) {
            DeviceInfo info = DeviceSpec.parse(device).resolve(Devices.list());
            kind = info.backend();
            Backend backend = Backends.open(info);
            budget = MemoryBudget.of(backend, devCap, hostCap);
            System.out.println("device: " + info.describe());
        } else {
            budget = MemoryBudget.ofCaps(devCap, hostCap);
        }
        KvPlacement placement = kv == null ? (offload ? KvPlacement.MAPPED : KvPlacement.DEVICE) : KvPlacement.parse(kv);
        if (offload && placement != KvPlacement.MAPPED) throw new IllegalArgumentException("--offload means --kv mapped; it contradicts --kv " + kv);
        if (model != null) return modelPlan(cfg, kind, budget, kv != null || offload ? placement : null);
        MemoryPlan plan = MemoryPlan.of(shape, cfg, context, batch, placement, kind);
        System.out.print(plan.table(budget));
        return plan.refusal(budget, "this plan") == null ? 0 : 1;
    }

    /** {@code --model}: the weights plus every layer's decoder; the placement given, or the first that fits. */
    private int modelPlan(ParisKvConfig cfg, BackendKind kind, MemoryBudget budget, KvPlacement given) {
        org.pariskv.model.LlamaConfig c = org.pariskv.model.LlamaConfig.named(model);
        if (c == null) throw new IllegalArgumentException("--model " + model + ": unknown; llama3-8b or qwen3-8b");
        if (shapeOption.shape != null || deprecatedProfile != null) throw new IllegalArgumentException("--model sets the shape; leave out --shape");
        org.pariskv.model.ModelMemoryPlan plan = given != null ? org.pariskv.model.ModelMemoryPlan.of(model, c, cfg, context, batch, given, kind)
                : org.pariskv.model.ModelMemoryPlan.choose(model, c, cfg, context, batch, kind, budget);
        if (plan == null) { // nothing fits: show the device plan and why each placement is refused
            System.out.print(org.pariskv.model.ModelMemoryPlan.of(model, c, cfg, context, batch, KvPlacement.DEVICE, kind).table(budget));
            for (KvPlacement p : java.util.List.of(KvPlacement.MAPPED, KvPlacement.STAGED)) {
                System.out.println("with --kv " + p.cliName() + ": " + org.pariskv.model.ModelMemoryPlan.of(model, c, cfg, context, batch, p, kind).refusal(budget));
            }
            System.out.println("K/V split between device and host (tiered placement) would be needed; it is not built yet");
            return 1;
        }
        System.out.println("K/V: " + plan.attention().placement().cliName());
        System.out.print(plan.table(budget));
        return plan.refusal(budget) == null ? 0 : 1;
    }
}
