package org.pariskv.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.pariskv.GqaMode;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.ShapeProfiles;
import org.pariskv.bench.DecodeBench;
import org.pariskv.compute.Backend;
import org.pariskv.compute.Backends;
import org.pariskv.compute.DeviceInfo;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.compute.Devices;
import org.pariskv.compute.MemoryKind;
import org.pariskv.device.DeviceDecoder;
import org.pariskv.device.KvPlacement;
import org.pariskv.device.MemoryBudget;
import org.pariskv.device.MemoryPlan;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code pariskv bench}: one layer's decode step on a device, ParisKV against full attention, by task. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Per-step latency on a device: one layer, ParisKV retrieval + sparse attention vs full attention per task with effective bandwidth; or, with --layers N, a whole model's step with sampled quality.")
final class BenchCommand implements Callable<Integer> {

    @Mixin
    ShapeOption shapeOption;

    @Option(names = "--profile", hidden = true, description = "Deprecated: the old name of --shape.")
    String deprecatedProfile;

    /** The shape's name, resolved from --shape (or the deprecated --profile) when the command runs. */
    private String profile;

    @Option(names = {"--context", "--contexts"}, split = ",", defaultValue = "32768,131072", description = "Comma-separated context lengths (default: ${DEFAULT-VALUE}).")
    List<Integer> contexts;

    @Option(names = "--batch", split = ",", defaultValue = "1", description = "Batch sizes (default: ${DEFAULT-VALUE}).")
    List<Integer> batches;

    @Option(names = "--device", defaultValue = "auto", description = "opencl[:N], cuda[:N] or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--steps", defaultValue = "50", description = "Timed steps per method (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--warmup", defaultValue = "200", description = "Warm-up steps, enough for the JIT to compile the host side of a step (default: ${DEFAULT-VALUE}); with --layers > 1, whole-model steps, at most 100.")
    int warmup;

    @Option(names = "--topk", defaultValue = "100", description = "Top-k (default: ${DEFAULT-VALUE}).")
    int topk;

    @Option(names = "--gqa", defaultValue = "per-head", description = "mean or per-head (default: ${DEFAULT-VALUE}).")
    String gqa;

    @Option(names = "--out", description = "Directory for bench.json and bench.md.")
    Path out;

    @Option(names = "--offload", description = "Keep K/V rows in host memory the device reads in place (CUDA: page-locked + mapped segment by segment; OpenCL: USE_HOST_PTR); only the index and work buffers stay on the device. The same as --kv mapped.")
    boolean offload;

    @Option(names = "--kv", description = "Where the K/V rows live: device (default), mapped (host memory the device reads in place; = --offload) or staged (host memory; each step the selected rows are gathered on the host and copied to the device once, the sink and local rows stay on the device; full attention is skipped).")
    String kv;

    @Option(names = "--device-memory", description = "Device memory the bench may use (e.g. 70G); default: what the device reports free.")
    String deviceMemory;

    @Option(names = "--host-memory", description = "Host memory for offloaded K/V (e.g. 100G); default: MemAvailable. Checked before the run (full context) and as the K/V rows grow by segments.")
    String hostMemory;

    @Option(names = "--layers", defaultValue = "1", description = "1: one layer, ParisKV vs full attention per task. N > 1: a whole model's step over N layers (batch 1), with quality sampled against exact attention (default: ${DEFAULT-VALUE}).")
    int layers;

    @Option(names = "--samples", defaultValue = "8", description = "With --layers > 1: (layer, KV head) pairs scored against exact attention (default: ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--topk-slice-above", defaultValue = "" + DeviceDecoder.Options.DEFAULT_TOPK_SLICE_ABOVE,
            description = "Candidate lists longer than this take the two-stage top-k (per-slice bests in parallel, then the best of those) (default: ${DEFAULT-VALUE}).")
    int topKSliceAbove;

    @Option(names = "--cuda-graphs", defaultValue = "true", arity = "1",
            description = "On CUDA, record each decode step's launches once as a CUDA graph and replay it (default: ${DEFAULT-VALUE}); false launches kernel by kernel.")
    boolean cudaGraphs;

    @Option(names = "--dependent-launch", defaultValue = "true", arity = "1",
            description = "On CUDA sm_90+, let each kernel of a step be scheduled while the one before it ends (programmatic dependent launch) (default: ${DEFAULT-VALUE}).")
    boolean dependentLaunch;

    @Option(names = "--print-kernel", description = "Print the compiled kernel source (and PTX on CUDA) after the run.")
    boolean printKernel;

    @Option(names = "--model", description = "A whole model's decode speed: llama3-8b (Llama-3.1-8B) or qwen3-8b, with random bf16 weights generated on the device; "
            + "ms/token and tokens/s with ParisKV and with full attention (alternating over the same caches), and the split between weights and attention. "
            + "Uses --context, --batch, --steps, --warmup (at most 20 here), --topk, --gqa, --device-memory, --out.")
    String model;

    @Option(names = "--baseline", description = "With --model: a JSON of another implementation's ms/token at the same points (profiles/gpu/hf_baseline.py), put beside ours in the table and the plot.")
    Path baseline;

    @Option(names = "--replot", description = "With --model: draw bench.md and ms-per-token.png again from DIR/bench.json (and --baseline) without running anything, e.g. where the run's Java runtime had no java.desktop.")
    Path replot;

    @Override
    public Integer call() throws IOException {
        profile = shapeOption.name(deprecatedProfile);
        if (model != null) return wholeModel();
        if (baseline != null) throw new IllegalArgumentException("--baseline goes with --model");
        if (replot != null) throw new IllegalArgumentException("--replot goes with --model (it draws a bench --model result again)");
        ModelShape layer = ShapeProfiles.byName(profile).withLayers(1);
        ParisKvConfig cfg = ParisKvConfig.defaults().withTopk(topk).withGqa(GqaMode.parse(gqa));
        DeviceInfo info = DeviceSpec.parse(device).resolve(Devices.list());
        if (info.backend() == org.pariskv.compute.BackendKind.JAVA) {
            throw new IllegalArgumentException("bench measures the device pipeline: no OpenCL or CUDA device was selected (" + device + "); see 'pariskv devices'");
        }
        KvPlacement placement = placement();
        long devCap = deviceMemory == null ? 0 : MemoryPlan.parseBytes(deviceMemory);
        long hostCap = hostMemory == null ? 0 : MemoryPlan.parseBytes(hostMemory);
        Backend backend = Backends.open(info);
        // refuse before allocating anything: every point's plan must fit
        MemoryBudget budget = MemoryBudget.of(backend, devCap, hostCap);
        for (int n : contexts) {
            for (int b : batches) {
                MemoryPlan.of(layer, cfg, DecodeBench.capacity(n), b, placement, info.backend()).require(budget, "bench (one layer)");
            }
        }
        DeviceDecoder.Options options = DeviceDecoder.Options.defaults().withPlacement(placement).withDeviceMemory(devCap).withHostMemory(hostCap)
                .withTopKSliceAbove(topKSliceAbove).withCudaGraphs(cudaGraphs).withDependentLaunch(dependentLaunch);
        if (layers > 1) return modelBench(backend, info, cfg, options, budget);
        System.err.println("bench on " + info.describe() + kvWords(placement));
        if (placement == KvPlacement.STAGED) {
            System.err.println("bench: full attention skipped: over staged K/V it would copy the whole context per step (compare with --kv mapped or device)");
        }
        List<DecodeBench.Point> points = new ArrayList<>();
        long total = (long) contexts.size() * batches.size() * (warmup + 2L * steps);
        try (Progress p = new Progress("bench", total, true)) {
            long[] base = {0};
            for (int n : contexts) {
                for (int b : batches) {
                    long start = base[0];
                    points.add(DecodeBench.run(backend, layer, cfg, n, b, warmup, steps, options, i -> p.stepper().accept(0)));
                    base[0] = start + warmup + 2L * steps;
                }
            }
        }
        if (printKernel) printKernel(backend, layer, cfg, options);
        String md = markdown(info, layer, cfg, points);
        System.out.print(md);
        if (out != null) {
            Files.createDirectories(out);
            Map<String, Object> json = jsonHeader(info, backend, placement);
            List<Object> rows = new ArrayList<>();
            for (DecodeBench.Point pt : points) {
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("context", pt.context());
                r.put("batch", pt.batch());
                r.put("pariskv_ms", pt.parisMsMedian());
                r.put("full_attention_ms", pt.fullMsMedian());
                r.put("speedup", pt.speedup());
                r.put("pariskv_device_ms", pt.parisDeviceMsMedian());
                r.put("full_attention_device_ms", pt.fullDeviceMsMedian());
                r.put("device_speedup", pt.deviceSpeedup());
                r.put("pariskv_task_us", pt.parisTaskUs());
                r.put("full_task_us", pt.fullTaskUs());
                r.put("effective_gbps", pt.taskGBps());
                r.put("device_bytes", pt.deviceBytes());
                r.put("host_mapped_bytes", pt.hostMappedBytes());
                r.put("host_bytes", pt.hostBytes());
                r.put("host_kv_committed_bytes", pt.hostKvCommittedBytes());
                r.put("kv_memory", pt.kvMemory());
                r.put("h2d_bytes_per_step", pt.h2dBytesPerStep());
                r.put("attended_row_bytes_per_step", pt.attendedRowBytesPerStep());
                rows.add(r);
            }
            json.put("points", rows);
            Files.writeString(out.resolve("bench.json"), JsonOut.write(json) + "\n");
            Files.writeString(out.resolve("bench.md"), md);
        }
        return 0;
    }

    /** {@code --print-kernel}: the exact source the device compiled (pkv.h + tasks/pariskv.c, defines applied) and, on CUDA, its PTX. */
    private static void printKernel(Backend backend, ModelShape layer, ParisKvConfig cfg, DeviceDecoder.Options options) {
        try (DeviceDecoder d = new DeviceDecoder(backend, layer, cfg, 1, 4096, options)) {
            if (d.program() == null) { // -Dpariskv.kernels=java: the translated programs
                for (Class<?> c : DeviceDecoder.kernelClasses()) {
                    System.out.println(org.pariskv.compute.jit.KernelTranslator.translate(c, org.pariskv.compute.jit.Dialect.of(backend.device().backend())).source());
                }
                return;
            }
            System.out.println("// ---- source compiled for " + backend.device().spec() + " ----");
            System.out.println(d.program().source());
            String asm = d.program().assembly();
            if (!asm.isEmpty()) {
                System.out.println("// ---- assembly (PTX) ----");
                System.out.println(asm);
            }
        }
    }

    /** {@code --layers N}: the whole model's step, layer after layer, with sampled quality. */
    private Integer modelBench(Backend backend, DeviceInfo info, ParisKvConfig cfg, DeviceDecoder.Options options, MemoryBudget budget) throws IOException {
        if (batches.size() != 1 || batches.getFirst() != 1) throw new IllegalArgumentException("--layers > 1 runs batch 1 only");
        ModelShape model = ShapeProfiles.byName(profile).withLayers(layers);
        KvPlacement placement = options.placement();
        for (int n : contexts) {
            MemoryPlan.of(model, cfg, n + 8, 1, placement, info.backend()).require(budget, "bench --layers " + layers);
        }
        System.err.println("model bench on " + info.describe() + ": " + layers + " layers" + kvWords(placement));
        List<Object> rows = new ArrayList<>();
        StringBuilder md = new StringBuilder(String.format(Locale.ROOT,
                "device: %s%nmodel: %s, %d layers, top-k %d, gqa %s, K/V %s%n%n| context | layers | step median (ms) | step best (ms) | device step median (ms) | ms per layer | recall@k | attention-mass recall | output rel. error | device GiB | host GiB | prefill (s) |%n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|%n",
                info.describe(), profile, layers, topk, gqa, switch (placement) {
                    case DEVICE -> "on the device";
                    case MAPPED -> "offloaded";
                    case STAGED -> "in host memory, staged";
                }));
        for (int n : contexts) {
            try (Progress p = new Progress("layers", layers, true)) {
                org.pariskv.bench.ModelBench.Result r = org.pariskv.bench.ModelBench.run(backend, model, cfg, n, Math.min(warmup, 100), steps, options, samples, p.stepper());
                rows.add(org.pariskv.bench.ModelBench.toMap(r));
                md.append(String.format(Locale.ROOT, "| %d | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f | %.2f | %.1f |%n",
                        n, layers, r.msPerStepMedian(), r.msPerStepBest(), r.deviceMsPerStepMedian(), r.msPerStepMedian() / layers, r.recallAtK(),
                        r.attentionMassRecall(), r.outputRelError(), r.deviceBytes() / (double) (1L << 30),
                        r.hostMappedBytes() / (double) (1L << 30), r.prefillSeconds()));
            }
        }
        System.out.print(md);
        if (out != null) {
            Files.createDirectories(out);
            Map<String, Object> json = jsonHeader(info, backend, placement);
            json.put("layers", layers);
            json.put("points", rows);
            Files.writeString(out.resolve("bench.json"), JsonOut.write(json) + "\n");
            Files.writeString(out.resolve("bench.md"), md.toString());
        }
        return 0;
    }

    /** {@code --model}: whole-model decode at a real shape, ParisKV against full attention, every (context, batch). */
    private Integer wholeModel() throws IOException {
        org.pariskv.model.LlamaConfig c = org.pariskv.model.LlamaConfig.named(model);
        if (c == null) throw new IllegalArgumentException("--model " + model + ": unknown; llama3-8b or qwen3-8b");
        if (layers != 1 || kv != null || offload) throw new IllegalArgumentException("--model runs with K/V on the device; --layers, --kv and --offload do not apply");
        WholeModelOutput.Baseline base = baseline == null ? null : WholeModelOutput.readBaseline(baseline);
        if (replot != null) {
            if (Files.isRegularFile(replot)) throw new IllegalArgumentException("--replot takes the directory of a bench --model run (its --out), not a file: " + replot);
            Path json = replot.resolve("bench.json");
            List<org.pariskv.bench.WholeModelBench.Point> points = WholeModelOutput.readPoints(json);
            Object dev = WholeModelOutput.readJson("--replot", json) instanceof Map<?, ?> m ? m.get("device") : "?";
            String md = WholeModelOutput.markdown(String.valueOf(dev), points, base);
            Files.writeString(replot.resolve("bench.md"), md);
            System.out.print(md);
            System.err.println("wrote " + replot.resolve("bench.md") + " and " + WholeModelOutput.plot(points, base, replot));
            return 0;
        }
        ParisKvConfig cfg = ParisKvConfig.defaults().withTopk(topk).withGqa(GqaMode.parse(gqa));
        int warm = Math.min(warmup, 20);
        if (steps < 1 || warmup < 0) throw new IllegalArgumentException("--steps must be at least 1 and --warmup at least 0 (got " + steps + ", " + warmup + ")");
        for (int b : batches) if (b < 1) throw new IllegalArgumentException("--batch " + b + ": a batch is at least 1 sequence");
        for (int n : contexts) { // what WholeModelBench.run checks, before a device is opened
            if (n - 2 * (warm + steps) <= cfg.sink() + cfg.local()) {
                throw new IllegalArgumentException("--context " + n + " is too small for " + 2 * (warm + steps) + " bench steps after " + (cfg.sink() + cfg.local()) + " sink and local tokens");
            }
        }
        DeviceInfo info = DeviceSpec.parse(device).resolve(Devices.list());
        if (info.backend() == org.pariskv.compute.BackendKind.JAVA) {
            throw new IllegalArgumentException("bench --model measures a device: no OpenCL or CUDA device was selected (" + device + "); see 'pariskv devices'");
        }
        long devCap = deviceMemory == null ? 0 : MemoryPlan.parseBytes(deviceMemory);
        Backend backend = Backends.open(info);
        for (int n : contexts) { // refuse before allocating anything
            for (int b : batches) org.pariskv.bench.WholeModelBench.requireFits(model, c, cfg, n, b, backend, devCap);
        }
        System.err.println("bench --model " + model + " on " + info.describe());
        List<org.pariskv.bench.WholeModelBench.Point> points = new ArrayList<>();
        for (int n : contexts) {
            for (int b : batches) {
                try (Progress p = new Progress("prefill " + n + " x " + b, c.layers(), true)) {
                    points.add(org.pariskv.bench.WholeModelBench.run(model, c, backend, cfg, n, b, warm, steps, cudaGraphs, devCap, p.stepper()));
                }
            }
        }
        String md = WholeModelOutput.markdown(info.describe(), points, base);
        System.out.print(md);
        if (out != null) {
            Files.createDirectories(out);
            Map<String, Object> json = jsonHeader(info, backend, KvPlacement.DEVICE);
            json.put("model", model);
            json.put("points", points.stream().map(org.pariskv.bench.WholeModelBench::toMap).toList());
            Files.writeString(out.resolve("bench.json"), JsonOut.write(json) + "\n");
            Files.writeString(out.resolve("bench.md"), md);
            try {
                WholeModelOutput.plot(points, base, out);
            } catch (LinkageError e) { // a runtime without java.desktop (jlink'd for a GPU machine): the JSON is enough
                System.err.println("pariskv: no ms-per-token.png (" + e + "); draw it elsewhere with bench --model " + model + " --replot " + out);
            }
        }
        return 0;
    }

    /** What every bench.json starts with: the command, the device and date, and the options the points ran under. */
    private Map<String, Object> jsonHeader(DeviceInfo info, Backend backend, KvPlacement placement) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("command", "pariskv bench " + String.join(" ", ProcessHandle.current().info().arguments().map(a -> List.of(a)).orElse(List.of())));
        json.put("device", info.describe());
        json.put("date", LocalDate.now().toString());
        json.put("shape", profile);
        json.put("profile", profile); // the shape's name under its old key, for readers of older bench.json files
        json.put("topk", topk);
        json.put("gqa", gqa);
        json.put("offload", placement.onHost());
        json.put("kv", placement.cliName());
        json.put("cuda_graphs", cudaGraphs && info.backend() == org.pariskv.compute.BackendKind.CUDA);
        json.put("dependent_launch", dependentLaunch && backend.canLaunchDependent());
        return json;
    }

    /** {@code --kv}, with {@code --offload} as a synonym of {@code --kv mapped}. */
    KvPlacement placement() {
        if (kv == null) return offload ? KvPlacement.MAPPED : KvPlacement.DEVICE;
        KvPlacement p = KvPlacement.parse(kv);
        if (offload && p != KvPlacement.MAPPED) throw new IllegalArgumentException("--offload means --kv mapped; it contradicts --kv " + kv);
        return p;
    }

    private static String kvWords(KvPlacement p) {
        return switch (p) {
            case DEVICE -> "";
            case MAPPED -> ", K/V offloaded to host memory (mapped)";
            case STAGED -> ", K/V in host memory, staged (gathered and copied once per step)";
        };
    }

    static String markdown(DeviceInfo info, ModelShape layer, ParisKvConfig cfg, List<DecodeBench.Point> points) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "device: %s%nshape: one layer, %d query heads, %d KV heads, D=%d; top-k %d, gqa %s%n%n",
                info.describe(), layer.queryHeads(), layer.kvHeads(), layer.headDim(), cfg.topk(), cfg.gqa()));
        for (String kind : points.stream().map(DecodeBench.Point::kvMemory).distinct().toList()) {
            sb.append("K/V memory: ").append(kind).append(" (").append(MemoryKind.valueOf(kind).description()).append(")\n");
        }
        for (DecodeBench.Point p : points) {
            sb.append(String.format(Locale.ROOT, "memory at context %d, batch %d: %s on the device, %s host-mapped, %s host in all (host K/V rows: %s in use at the end)%n",
                    p.context(), p.batch(), MemoryPlan.gib(p.deviceBytes()), MemoryPlan.gib(p.hostMappedBytes()), MemoryPlan.gib(p.hostBytes()),
                    MemoryPlan.gib(p.hostKvCommittedBytes())));
            sb.append(String.format(Locale.ROOT, "bytes per step at context %d, batch %d: host->device %.0f, attended K/V rows %.0f%n", p.context(), p.batch(),
                    p.h2dBytesPerStep(), p.attendedRowBytesPerStep()));
        }
        if (points.stream().anyMatch(p -> Double.isNaN(p.fullMsMedian()))) {
            sb.append("full attention: skipped where K/V are staged (it would copy the whole context per step)\n");
        }
        sb.append('\n');
        sb.append("Wall: the host's time per decode() call, output read back. Device: the step on the device's queue, from the mark\n"
                + "before its first upload to the one after its last kernel (no host waits), as when layers are enqueued back to back.\n\n");
        sb.append("| context | batch | ParisKV wall (ms) | full wall (ms) | speedup | ParisKV device (ms) | full device (ms) | device speedup |\n"
                + "|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (DecodeBench.Point p : points) {
            if (Double.isNaN(p.fullMsMedian())) {
                sb.append(String.format(Locale.ROOT, "| %d | %d | %.3f | skipped | - | %.3f | skipped | - |%n", p.context(), p.batch(),
                        p.parisMsMedian(), p.parisDeviceMsMedian()));
            } else {
                sb.append(String.format(Locale.ROOT, "| %d | %d | %.3f | %.3f | %.2fx | %.3f | %.3f | %.2fx |%n", p.context(), p.batch(),
                        p.parisMsMedian(), p.fullMsMedian(), p.speedup(), p.parisDeviceMsMedian(), p.fullDeviceMsMedian(), p.deviceSpeedup()));
            }
        }
        sb.append("\nPer-task device time (us per step, profiled pass) and effective GB/s:\n\n");
        for (DecodeBench.Point p : points) {
            sb.append(String.format(Locale.ROOT, "- context %d, batch %d: ", p.context(), p.batch()));
            p.parisTaskUs().forEach((k, v) -> sb.append(String.format(Locale.ROOT, "%s %.1f; ", k, v)));
            sb.append("| full: ");
            p.fullTaskUs().forEach((k, v) -> sb.append(String.format(Locale.ROOT, "%s %.1f; ", k, v)));
            sb.append("| GB/s: ");
            p.taskGBps().forEach((k, v) -> sb.append(String.format(Locale.ROOT, "%s %.0f; ", k, v)));
            sb.append('\n');
        }
        return sb.toString();
    }
}
