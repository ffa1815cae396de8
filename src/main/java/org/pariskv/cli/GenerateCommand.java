package org.pariskv.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.Backend;
import org.pariskv.compute.BackendKind;
import org.pariskv.compute.Backends;
import org.pariskv.compute.DeviceSpec;
import org.pariskv.model.DeviceLlama;
import org.pariskv.model.LlamaConfig;
import org.pariskv.model.LlamaModel;
import org.pariskv.model.Sampler;
import org.pariskv.model.Session;
import org.pariskv.model.Tokenizer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code pariskv generate}: a prompt through a Hugging Face Llama checkpoint on the CPU, every layer under one method. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text with a Llama-architecture model (config.json + safetensors) on the CPU; --method picks every layer's attention.")
final class GenerateCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, description = "Model directory: config.json and model.safetensors (or a sharded index).")
    Path model;

    static final class PromptSource {
        @Option(names = "--prompt", description = "Prompt text.")
        String text;

        @Option(names = "--prompt-file", description = "File holding the prompt (UTF-8).")
        Path file;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    PromptSource prompt;

    @Option(names = "--max-tokens", defaultValue = "64", description = "Tokens to generate at most (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--method", defaultValue = "pariskv", description = "pariskv, pariskv-ref, full, oracle, streaming, or a peer (default: ${DEFAULT-VALUE}).")
    String method;

    @Option(names = "--topk", description = "Tokens retrieved per KV head per step (default: 100).")
    Integer topk;

    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-p", defaultValue = "1", description = "Nucleus share, in (0, 1] (default: ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--seed", defaultValue = "42", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE}).")
    String format;

    @Option(names = "--device", defaultValue = "java", description = "java (the CPU engine), or opencl[:N] / cuda[:N] / auto: the device "
            + "forward (weights on the device, ParisKV or full attention per layer on it; prefill on the CPU) (default: ${DEFAULT-VALUE}).")
    String device;

    /** What a generation measured. */
    private record Run(long prefillNanos, long decodeNanos, int[] tokens, long kvBytes, String device) {}

    @Override
    public Integer call() throws IOException {
        JsonOut.checkFormat(format);
        if (maxTokens <= 0) throw new IllegalArgumentException("--max-tokens must be positive, got " + maxTokens);
        MethodChoice.parse(method); // fail fast on an unknown name
        Sampler sampler = new Sampler(temperature, topP, seed);
        ParisKvConfig kv = topk == null ? ParisKvConfig.defaults() : ParisKvConfig.defaults().withTopk(topk);
        ModelFolder.require(model);
        String text = prompt.text != null ? prompt.text : readPrompt(prompt.file);
        if (text.isEmpty()) throw new IllegalArgumentException("the prompt is empty");
        LlamaConfig config = LlamaConfig.read(model.resolve("config.json"));
        Tokenizer tokenizer = Tokenizer.forModel(model, config);
        int[] ids = tokenizer.encodeWithBos(text);
        if ((long) ids.length + maxTokens > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("prompt of " + ids.length + " tokens + " + maxTokens + " to generate exceeds max_position_embeddings = "
                    + config.maxPositionEmbeddings() + " of " + model.resolve("config.json"));
        }
        long kvBytes = config.kvBytesReserved((long) ids.length + maxTokens);
        long physical = org.pariskv.device.MemoryBudget.hostTotal();
        if (kvBytes > physical / 2) { // K/V off-heap next to the mapped weights and the heap: refuse before allocating
            throw new IllegalArgumentException(String.format(Locale.ROOT, "prompt of %d tokens + %d to generate needs %.2f GiB of K/V cache, more than half of this machine's %.2f GiB",
                    ids.length, maxTokens, kvBytes / 1073741824.0, physical / 1073741824.0));
        }
        DeviceSpec spec = DeviceSpec.parse(device);
        if (spec.backend() != BackendKind.JAVA && !method.equals("pariskv") && !method.equals("full")) {
            throw new IllegalArgumentException("--device " + device + " decodes with pariskv or full, not " + method + " (use --device java)");
        }
        Backend b = spec.backend() == BackendKind.JAVA ? null : Backends.open(spec); // auto may resolve to java: the CPU engine
        Run run = b == null || b.device().backend() == BackendKind.JAVA ? onCpu(ids, kv, sampler, config) : onDevice(b, ids, kv, sampler, config);
        int[] out = run.tokens();
        int n = out.length;
        boolean eos = n < maxTokens;
        double prefillMs = run.prefillNanos() / 1e6, decodeMs = run.decodeNanos() / 1e6, msPerToken = decodeMs / Math.max(1, n);
        String generated = tokenizer.decode(out);
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", model.toString());
        r.put("architecture", config.architecture());
        r.put("method", method);
        r.put("prompt_tokens", ids.length);
        r.put("generated_tokens", n);
        r.put("stopped", eos ? "eos" : "max_tokens");
        r.put("text", generated);
        r.put("prefill_ms", prefillMs);
        r.put("prefill_tokens_per_s", ids.length / (prefillMs / 1e3));
        r.put("ms_per_token", msPerToken);
        r.put("tokens_per_s", 1e3 / msPerToken);
        r.put("device", run.device());
        if (run.kvBytes() >= 0) r.put("kv_bytes", run.kvBytes());
        if (format.equals("json")) {
            System.out.println(JsonOut.write(r));
        } else {
            System.out.println(generated);
            System.out.printf(Locale.ROOT, "%n[%s, %s, %s] prefill %d tokens in %.1f ms (%.0f tokens/s); %d tokens at %.2f ms/token (%.1f tokens/s)%s%n",
                    config.architecture(), method, run.device(), ids.length, prefillMs, ids.length / (prefillMs / 1e3), n, msPerToken, 1e3 / msPerToken,
                    eos ? ", stopped at EOS" : "");
        }
        return 0;
    }

    private Run onCpu(int[] ids, ParisKvConfig kv, Sampler sampler, LlamaConfig config) {
        MethodChoice choice = MethodChoice.parse(method);
        try (LlamaModel m = LlamaModel.load(model, choice.registered(), choice.config(kv)); Session s = m.newSession()) {
            int chunk = LlamaModel.PREFILL_CHUNK;
            long t0 = System.nanoTime();
            try (Progress p = new Progress("prefill", (ids.length + chunk - 1) / chunk, format.equals("text"))) {
                for (int from = 0; from < ids.length; from += chunk) { // chunk by chunk: the same logits as one call
                    s.prefill(Arrays.copyOfRange(ids, from, Math.min(ids.length, from + chunk)));
                    p.stepper().accept(1);
                }
            }
            long t1 = System.nanoTime();
            int[] out = s.generate(sampler, maxTokens, config.eosTokenIds()::contains);
            long t2 = System.nanoTime();
            return new Run(t1 - t0, t2 - t1, out, m.cache().kvBytesHeld(), "java");
        }
    }

    /** The device forward ({@link DeviceLlama}): ParisKV or full attention only (the methods DeviceDecoder runs). */
    private Run onDevice(Backend b, int[] ids, ParisKvConfig kv, Sampler sampler, LlamaConfig config) {
        try (DeviceLlama d = DeviceLlama.load(model, b, kv, method.equals("full"), ids.length + maxTokens + 1, b.device().backend() == BackendKind.CUDA)) {
            long t0 = System.nanoTime();
            float[] logits = d.prefill(ids);
            long t1 = System.nanoTime();
            int[] out = new int[maxTokens];
            int n = 0;
            while (n < maxTokens) { // as Session.generate: a stop token ends it unfed
                int t = sampler.sample(logits);
                if (config.eosTokenIds().contains(t)) break;
                logits = d.decode(t);
                out[n++] = t;
            }
            long t2 = System.nanoTime();
            return new Run(t1 - t0, t2 - t1, Arrays.copyOf(out, n), -1, b.device().spec());
        }
    }

    private static String readPrompt(Path f) throws IOException {
        if (!Files.isRegularFile(f)) throw new IllegalArgumentException("prompt file not found: " + f);
        return Files.readString(f);
    }
}
