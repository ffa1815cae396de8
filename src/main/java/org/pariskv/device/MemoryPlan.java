package org.pariskv.device;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.BackendKind;
import org.pariskv.kv.RowStore;

/**
 * Where the bytes of a decode go, for a shape, a context (tokens per sequence), a batch, the ParisKV config
 * (top-k, GQA mode) and where the K/V rows live ({@link KvPlacement}): device and host bytes per layer and in total.
 *
 * <p>Device backends (OpenCL, CUDA): one {@link DeviceDecoder} per layer, exactly the buffers its constructor
 * allocates ({@link DeviceDecoder#bufferBytes}); with offload the K/V rows move to host-mapped memory and only
 * the compact index ({@link #indexBytesPerKey} per key per KV head), the centroid counts and the work buffers stay
 * on the device. The current decoder keeps the sink and local window in the same K/V buffers, so offloading
 * moves them too. Host K/V rows are planned at the full context but only reserved up front: they are committed in
 * segments as the context grows ({@link HostKvStore}). Staged K/V ({@link KvPlacement#STAGED}) are plain host memory, plus the staging rows of one step
 * (pinned host and device) and the device scratch of encodeKeys. Java backend: no device; K/V rows in {@link RowStore} chunks of {@value RowStore#CHUNK_ROWS}
 * rows (the index lives on the Java heap and is not counted).
 *
 * @param layer   rows of one layer
 */
public record MemoryPlan(ModelShape shape, ParisKvConfig cfg, int context, int batch, KvPlacement placement,
                         BackendKind backend, List<Row> layer) {

    /** One line of the budget: bytes per layer on the device and on the host. */
    public record Row(String name, long device, long host) {}

    public MemoryPlan {
        layer = List.copyOf(layer);
    }

    /** The plan of {@code shape.layers()} layers of capacity {@code context} tokens per sequence; offload = MAPPED. */
    public static MemoryPlan of(ModelShape shape, ParisKvConfig cfg, int context, int batch, boolean offload, BackendKind backend) {
        return of(shape, cfg, context, batch, offload ? KvPlacement.MAPPED : KvPlacement.DEVICE, backend);
    }

    /** The plan of {@code shape.layers()} layers of capacity {@code context} tokens per sequence. */
    public static MemoryPlan of(ModelShape shape, ParisKvConfig cfg, int context, int batch, KvPlacement placement, BackendKind backend) {
        if (context <= 0) throw new IllegalArgumentException("context must be positive, got " + context);
        if (batch <= 0) throw new IllegalArgumentException("batch must be positive, got " + batch);
        List<Row> rows = new ArrayList<>();
        if (backend == BackendKind.JAVA) {
            long chunks = (context + RowStore.CHUNK_ROWS - 1) / RowStore.CHUNK_ROWS;
            long perStore = chunks * RowStore.CHUNK_ROWS * 2L * shape.headDim();
            rows.add(new Row("K/V rows (RowStore chunks)", 0, 2 * perStore * batch * shape.kvHeads()));
            return new MemoryPlan(shape, cfg, context, batch, placement, backend, rows);
        }
        Map<String, Long> b = DeviceDecoder.bufferBytes(shape, cfg, batch, context, placement);
        long kv = sum(b, DeviceDecoder.KV_BUFFERS);
        long index = sum(b, DeviceDecoder.INDEX_BUFFERS);
        long perToken = sum(b, DeviceDecoder.PER_TOKEN_WORK_BUFFERS);
        long all = b.values().stream().mapToLong(Long::longValue).sum();
        String kvName = switch (placement) {
            case DEVICE -> "K/V rows";
            case MAPPED -> "K/V rows (host-mapped)";
            case STAGED -> "K/V rows (host, staged)";
        };
        boolean host = placement.onHost();
        rows.add(new Row(kvName, host ? 0 : kv, host ? kv : 0));
        rows.add(new Row("index (codes, nibbles, weights)", index, 0));
        rows.add(new Row("per-token work (scores, candidates, estimates)", perToken, 0));
        long staging = 0;
        if (placement == KvPlacement.STAGED) {
            staging = sum(b, DeviceDecoder.STAGING_BUFFERS);
            rows.add(new Row("staging (a step's rows: pinned host + device; encode scratch)", b.get("staged") + b.get("encodeScratch"), b.get("stagedPinned")));
        }
        rows.add(new Row("other (counts, centre, queries, partials, ...)", all - kv - index - perToken - staging, 0));
        return new MemoryPlan(shape, cfg, context, batch, placement, backend, rows);
    }

    /** K/V rows in host memory (MAPPED or STAGED). */
    public boolean offload() {
        return placement.onHost();
    }

    /** Bytes of the compact index per key per KV head: codes D/8 + nibbles D/2 + weights 2·D/8 (112 at D=128). */
    public static long indexBytesPerKey(int headDim) {
        return headDim / 8 + headDim / 2 + 2L * (headDim / 8);
    }

    /** bf16 K and V rows of all layers: 2 · 2 B · layers · Hkv · D · tokens · batch. */
    public static long kvBytes(ModelShape shape, long tokens, int batch) {
        return 4L * shape.layers() * shape.kvHeads() * shape.headDim() * tokens * batch;
    }

    public long deviceBytesPerLayer() {
        return layer.stream().mapToLong(Row::device).sum();
    }

    public long hostBytesPerLayer() {
        return layer.stream().mapToLong(Row::host).sum();
    }

    public long deviceBytes() {
        return deviceBytesPerLayer() * shape.layers();
    }

    public long hostBytes() {
        return hostBytesPerLayer() * shape.layers();
    }

    /** Null when the plan fits {@code budget} (unknown sides are not checked), else the refusal message. */
    public String refusal(MemoryBudget budget, String what) {
        return refusal(budget, what, -1);
    }

    /**
     * As {@link #refusal(MemoryBudget, String)}, for an allocation whose host K/V rows grow by segments
     * ({@link HostKvStore}): the host side then needs what is allocated up front plus {@code kvFirstSegment} bytes
     * per layer (the first segment) instead of the whole K/V rows; the rest is checked as the context grows.
     *
     * @param kvFirstSegment bytes per layer of the first host K/V segment; negative: the whole rows up front
     */
    public String refusal(MemoryBudget budget, String what, long kvFirstSegment) {
        boolean grows = kvFirstSegment >= 0 && hostKvBytesPerLayer() > 0;
        long dev = deviceBytes();
        long host = grows ? (hostBytesPerLayer() - hostKvBytesPerLayer() + Math.min(kvFirstSegment, hostKvBytesPerLayer())) * shape.layers() : hostBytes();
        String scope = what + " (" + describe() + ")";
        if (budget.deviceFree() >= 0 && dev > budget.deviceFree()) {
            String fix = "lower --context or --batch";
            if (!offload() && backend != BackendKind.JAVA) {
                long kv = layer.getFirst().device() * shape.layers();
                fix += ", or pass --offload to keep the K/V rows (" + gib(kv) + ") in host memory the GPU reads directly"
                        + " (--kv staged: host memory, selected rows copied per step)";
            } else {
                fix += ", or use --gqa mean (smaller per-token work buffers)";
            }
            return "not enough device memory for " + scope + ": needs " + gib(dev) + " but " + gib(budget.deviceFree())
                    + " is " + budget.deviceSource() + "; " + fix;
        }
        if (budget.hostFree() >= 0 && host > budget.hostFree()) {
            String fix = offload() ? "lower --context or --batch, or keep the K/V rows on the device (--kv device) if it can hold them"
                    : "lower --context or --batch";
            return "not enough host memory for " + scope + ": needs " + gib(host)
                    + (grows ? " (what is allocated up front and the first segment of the K/V rows; the rest is committed as the context grows)" : "")
                    + " but " + gib(budget.hostFree())
                    + " is " + budget.hostSource() + "; " + fix;
        }
        return null;
    }

    /** @throws InsufficientMemoryException when the plan does not fit {@code budget} */
    public void require(MemoryBudget budget, String what) {
        require(budget, what, -1);
    }

    /** @throws InsufficientMemoryException when the allocation does not fit {@code budget} (see {@link #refusal(MemoryBudget, String, long)}) */
    public void require(MemoryBudget budget, String what, long kvFirstSegment) {
        String why = refusal(budget, what, kvFirstSegment);
        if (why != null) throw new InsufficientMemoryException(why);
    }

    /** Bytes per layer of the K/V rows in host memory (MAPPED, STAGED; 0 otherwise): reserved up front, committed as the context grows. */
    public long hostKvBytesPerLayer() {
        return offload() && backend != BackendKind.JAVA ? layer.getFirst().host() : 0;
    }

    /** "context 1048576, batch 1, 32 layers, Hq 32, Hkv 8, D 128, top-k 100, gqa PER_HEAD, K/V on the device". */
    public String describe() {
        return String.format(Locale.ROOT, "context %d, batch %d, %d layer%s, Hq %d, Hkv %d, D %d, top-k %d, gqa %s, %s",
                context, batch, shape.layers(), shape.layers() == 1 ? "" : "s", shape.queryHeads(), shape.kvHeads(),
                shape.headDim(), cfg.topk(), cfg.gqa(), backend == BackendKind.JAVA ? "java backend"
                        : switch (placement) {
                            case DEVICE -> "K/V on the device";
                            case MAPPED -> "K/V offloaded to host";
                            case STAGED -> "K/V in host memory, staged per step";
                        });
    }

    /** The budget as a markdown table, with a verdict line against {@code budget}. */
    public String table(MemoryBudget budget) {
        StringBuilder sb = new StringBuilder();
        sb.append("plan: ").append(describe()).append('\n');
        sb.append(String.format(Locale.ROOT, "index: %d B per key per KV head (codes %d + nibbles %d + weights %d)%n%n",
                indexBytesPerKey(shape.headDim()), shape.headDim() / 8, shape.headDim() / 2, 2 * (shape.headDim() / 8)));
        sb.append("| part | device per layer | host per layer | device total | host total |\n|---|---:|---:|---:|---:|\n");
        for (Row r : layer) {
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s |%n", r.name(), gib(r.device()), gib(r.host()),
                    gib(r.device() * shape.layers()), gib(r.host() * shape.layers())));
        }
        sb.append(String.format(Locale.ROOT, "| **total** | %s | %s | %s | %s |%n%n", gib(deviceBytesPerLayer()),
                gib(hostBytesPerLayer()), gib(deviceBytes()), gib(hostBytes())));
        if (hostKvBytesPerLayer() > 0) {
            sb.append(String.format(Locale.ROOT, "host K/V rows: %s reserved up front (address space), committed in segments of %d tokens"
                            + " as the context grows%s; fits below is for the full context%n",
                    gib(hostKvBytesPerLayer() * shape.layers()), HostKvStore.SEGMENT_TOKENS,
                    placement == KvPlacement.MAPPED && backend == BackendKind.CUDA ? " (each segment page-locked once)" : ""));
        }
        sb.append("device: ").append(backend == BackendKind.JAVA ? "none (java backend)" : budget.deviceFree() < 0 ? "budget unknown (give --device or --device-memory)"
                : gib(budget.deviceFree()) + " " + budget.deviceSource()).append('\n');
        sb.append("host: ").append(budget.hostFree() < 0 ? "budget unknown" : gib(budget.hostFree()) + " " + budget.hostSource()).append('\n');
        String why = refusal(budget, "this plan");
        boolean deviceUnchecked = backend != BackendKind.JAVA && budget.deviceFree() < 0 && deviceBytes() > 0;
        boolean hostUnchecked = budget.hostFree() < 0 && hostBytes() > 0;
        if (why != null) sb.append("fits: no: ").append(why).append('\n');
        else if (deviceUnchecked || hostUnchecked) {
            sb.append("fits: not known: ").append(deviceUnchecked && hostUnchecked ? "device and host budgets" : deviceUnchecked ? "the device budget" : "the host budget")
                    .append(" unknown, so not checked").append(deviceUnchecked ? " (give --device or --device-memory)" : "").append('\n');
        } else sb.append("fits: yes\n");
        return sb.toString();
    }

    private static long sum(Map<String, Long> m, List<String> names) {
        long n = 0;
        for (String s : names) n += m.get(s);
        return n;
    }

    /** Bytes as GiB with two decimals ("128.00 GiB"); MiB below 1 GiB. */
    public static String gib(long bytes) {
        if (bytes < (1L << 30)) return String.format(Locale.ROOT, "%.2f MiB", bytes / (double) (1L << 20));
        return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }

    /** Parses "70G", "70GiB", "512M", "1T", "123456" (bytes; binary units). */
    public static long parseBytes(String s) {
        String t = s.trim().toUpperCase(Locale.ROOT).replace("IB", "").replace("B", "");
        long mul = 1;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'K' -> mul = 1L << 10;
                case 'M' -> mul = 1L << 20;
                case 'G' -> mul = 1L << 30;
                case 'T' -> mul = 1L << 40;
                default -> { }
            }
            if (mul > 1) t = t.substring(0, t.length() - 1);
        }
        try {
            double v = Double.parseDouble(t);
            if (!(v > 0) || Double.isInfinite(v)) throw new NumberFormatException();
            return (long) (v * mul);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a memory size: '" + s + "' (expected e.g. 70G, 512M, 1T)");
        }
    }
}
