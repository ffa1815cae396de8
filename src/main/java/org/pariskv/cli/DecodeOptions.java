package org.pariskv.cli;

import org.pariskv.GqaMode;
import org.pariskv.ParisKvConfig;
import org.pariskv.profile.StageProfile;
import org.pariskv.trace.Trace;
import picocli.CommandLine.Option;

/** The decode knobs shared by commands: budget, windows, GQA rule, device, profiling. */
final class DecodeOptions {

    @Option(names = "--topk", description = "Tokens retrieved per KV head per step (default: 100).")
    Integer topk;

    @Option(names = "--gqa", description = "mean (group-mean query, the reference) or per-head (default: the configured default).")
    String gqa;

    @Option(names = "--sink", description = "Sink tokens always attended (default: 4).")
    Integer sink;

    @Option(names = "--local", description = "Local window tokens always attended (default: 512).")
    Integer local;

    @Option(names = "--candidate-ratio", description = "Share of the zone kept after collision counting (default: adaptive).")
    Double candidateRatio;

    @Option(names = "--collision-ratio", description = "Tier threshold scale (default: adaptive).")
    Double collisionRatio;

    @Option(names = "--center-keys", negatable = true, description = "Centre keys by the mean of the first zone keys before encoding (default: the configured default).")
    Boolean centerKeys;

    @Option(names = "--adaptive-mass", paramLabel = "TAU", description = "Adaptive budget (Java engine): per query head the smallest k whose estimated softmax mass, with sink and local window, reaches TAU of the estimated total, in [--topk-min, --topk-max] (default: off, fixed --topk).")
    Double adaptiveMass;

    @Option(names = "--topk-max", paramLabel = "K", description = "Cap of the adaptive budget per query head and per KV head (default: 400).")
    Integer topkMax;

    @Option(names = "--topk-min", paramLabel = "K", description = "Floor of the adaptive budget per query head (default: 16).")
    Integer topkMin;

    @Option(names = "--device", defaultValue = "auto", description = "java, opencl[:N], cuda[:N] or auto: CUDA, else an OpenCL GPU, else java (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--profile", description = "Per-task timing: console or json.")
    String profile;

    @Option(names = "--kv", description = "On a device, where the K/V rows live: device (default), mapped (host memory the device reads in place) or staged (host memory; each step's selected rows gathered on the host and copied once).")
    String kv;

    ParisKvConfig config() {
        ParisKvConfig c = ParisKvConfig.defaults();
        if (topk != null) c = c.withTopk(topk);
        if (gqa != null) c = c.withGqa(GqaMode.parse(gqa));
        if (sink != null || local != null) c = c.withWindow(sink != null ? sink : c.sink(), local != null ? local : c.local());
        if (candidateRatio != null || collisionRatio != null) {
            c = c.withRatios(candidateRatio != null ? candidateRatio : c.candidateRatio(), collisionRatio != null ? collisionRatio : c.collisionRatio());
        }
        if (centerKeys != null) c = c.withCenterKeys(centerKeys);
        c = adaptive(c, adaptiveMass, topkMin, topkMax);
        if (kv != null) org.pariskv.device.KvPlacement.parse(kv); // fail fast on a bad name
        if (profile != null) {
            if (!profile.equals("console") && !profile.equals("json")) throw new IllegalArgumentException("unknown --profile '" + profile + "' (expected console or json)");
        }
        StageProfile.enable(true); // cheap (a clock read per stage); feeds eval's stage_thread_ms_per_step
        return c;
    }

    /** Applies {@code --adaptive-mass}, {@code --topk-min} and {@code --topk-max} (any of them null: unchanged). */
    static ParisKvConfig adaptive(ParisKvConfig c, Double tau, Integer min, Integer max) {
        if ((min != null || max != null) && tau == null) {
            throw new IllegalArgumentException("--topk-min / --topk-max bound the adaptive budget: give --adaptive-mass TAU as well");
        }
        if (tau != null) {
            if (tau.isNaN() || !(tau > 0 && tau <= 1)) throw new IllegalArgumentException("--adaptive-mass must be in (0, 1], got " + tau);
            c = c.withAdaptiveMass(tau);
        }
        if (min != null && min <= 0) throw new IllegalArgumentException("--topk-min must be positive, got " + min);
        if (max != null && max <= 0) throw new IllegalArgumentException("--topk-max must be positive, got " + max);
        if (min != null || max != null) {
            int lo = min != null ? min : Math.min(c.topkMin(), max);
            int hi = max != null ? max : Math.max(c.topkMax(), min);
            if (hi < lo) throw new IllegalArgumentException("--topk-max (" + hi + ") must be >= --topk-min (" + lo + ")");
            c = c.withTopkRange(lo, hi);
        }
        return c;
    }

    /** The device selected by {@code --device} (auto: CUDA, else an OpenCL GPU, else the Java engine). */
    org.pariskv.compute.DeviceInfo resolveDevice() {
        return org.pariskv.compute.DeviceSpec.parse(device).resolve(org.pariskv.compute.Devices.list());
    }

    /**
     * Runs {@code method} on the selected device: ParisKV on an OpenCL/CUDA device when one is selected, every
     * other method (and ParisKV on {@code java}) on the Java engine — said on stderr when the device is not used.
     */
    org.pariskv.eval.EvalResult evaluate(org.pariskv.trace.Trace trace, String method, ParisKvConfig cfg, java.util.function.IntConsumer onStep) {
        return evaluate(trace, method, cfg, onStep, org.pariskv.eval.Evaluation.Options.defaults());
    }

    /** {@link #evaluate(org.pariskv.trace.Trace, String, ParisKvConfig, java.util.function.IntConsumer)} with run options (prefill progress). */
    org.pariskv.eval.EvalResult evaluate(org.pariskv.trace.Trace trace, String method, ParisKvConfig cfg, java.util.function.IntConsumer onStep,
                                         org.pariskv.eval.Evaluation.Options runOptions) {
        org.pariskv.compute.DeviceInfo info = resolveDevice();
        boolean onDevice = info.backend() != org.pariskv.compute.BackendKind.JAVA;
        if (onDevice && method.equals("pariskv") && cfg.adaptive()) {
            throw new IllegalArgumentException("--adaptive-mass runs on the java engine only (the device pipeline has a fixed top-k): add --device java");
        }
        if (onDevice && method.equals("pariskv")) {
            org.pariskv.device.DeviceDecoder.Options options = org.pariskv.device.DeviceDecoder.Options.defaults()
                    .withPlacement(kv == null ? org.pariskv.device.KvPlacement.DEVICE : org.pariskv.device.KvPlacement.parse(kv));
            return org.pariskv.eval.Evaluation.runOnDevice(trace, cfg, org.pariskv.compute.Backends.open(info), options, onStep, runOptions);
        }
        if (onDevice) System.err.println("pariskv: method '" + method + "' runs on the java engine (the device pipeline implements pariskv)");
        if (kv != null && !(onDevice && method.equals("pariskv"))) System.err.println("pariskv: --kv applies to the device pipeline only; ignored here");
        return org.pariskv.eval.Evaluation.run(trace, org.pariskv.method.Methods.byName(method), cfg, "java", onStep, runOptions);
    }

    /**
     * {@code --profile console|json}: per-task time per decode step (Java engine: wall time per stage summed over
     * threads; device: use {@code pariskv bench} for kernel times).
     */
    void printProfile(org.pariskv.eval.EvalResult r) {
        if (profile == null) return;
        if (profile.equals("json")) {
            java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
            m.put("device", r.device());
            m.put("task_thread_ms_per_step", r.stageMs());
            m.put("note", "summed over the threads that run stages in parallel, so the sum can exceed ms_per_step");
            System.out.println(JsonOut.write(m));
        } else {
            System.out.println("per-task time (ms per step summed over parallel threads, so it can exceed the step's wall time; " + r.device() + "):");
            r.stageMs().forEach((k, v) -> System.out.printf(java.util.Locale.ROOT, "  %-18s %10.3f%n", k, v));
            if (r.stageMs().isEmpty()) System.out.println("  (device kernels: see 'pariskv bench --device " + r.device() + "')");
        }
    }

    /** Budget checks that need the trace: top-k must fit the retrieval zone. */
    void checkAgainst(Trace trace) {
        ParisKvConfig c = config();
        int zone = trace.tokens() - c.sink() - c.local();
        if (c.topk() > zone) {
            throw new IllegalArgumentException("--topk " + c.topk() + " is larger than the retrieval zone (" + Math.max(0, zone)
                    + " tokens = context " + trace.tokens() + " - sink " + c.sink() + " - local " + c.local() + ")");
        }
    }
}
