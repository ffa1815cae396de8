package org.pariskv.device;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.pariskv.GqaMode;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.Backend;
import org.pariskv.compute.BackendKind;
import org.pariskv.compute.DeviceBuffer;
import org.pariskv.compute.Grid;
import org.pariskv.compute.Kernel;
import org.pariskv.compute.MemoryKind;
import org.pariskv.compute.KernelArg;
import org.pariskv.compute.KernelSource;
import org.pariskv.compute.Program;
import org.pariskv.encode.Bf16;
import org.pariskv.rotate.HadamardRotation;
import org.pariskv.rotate.Rotation;
import org.pariskv.select.AdaptiveRatios;
import org.pariskv.select.Tiers;

/**
 * One layer's ParisKV decode on an OpenCL or CUDA device, for a batch of sequences with independent
 * lengths. Everything per (sequence, KV head) "stream" lives in device memory: bf16 K/V rows, the compact
 * index (codes, nibbles, weights, centroid counts, key centre) and the intermediates of each step. Per
 * step the host uploads the new token rows, the queries and one small plan row per stream; the device runs
 *
 * <pre>
 *   appendTokens → [encodeKeys when the window slides] → prepareQuery → collisionScores → candidateSelect
 *               → rerank → topK → mergeSelection → sparseAttention → attentionCombine
 * </pre>
 *
 * each a kernel of {@code tasks/pariskv.c} with the Java twin of the same name. With
 * {@link Options#offload()} the K/V rows live in host memory the device reads in place
 * ({@link Backend#allocateHostMapped}); prefill then writes them there directly when the buffer has a host view
 * (CUDA), and the kernels, unchanged, read only the rows a step attends (sink, selected top-k, local window).
 * Sizes: {@link #bufferBytes}, {@link MemoryPlan}. Not thread-safe.
 */
public final class DeviceDecoder implements AutoCloseable {

    /** The kernels of one step, in launch order (also the profile's row order). */
    public static final List<String> TASKS = List.of("appendTokens", "encodeKeys", "prepareQuery", "collisionScores",
            "candidateCount", "candidateSelect", "rerank", "topKSlice", "topK", "mergeSelection", "sparseAttention", "attentionCombine");

    private static final int PLAN = 16;
    private static final int P_N = 0, P_T = 1, P_CAND = 7, P_K = 8, P_SINK_END = 9, P_ZONE_START = 10,
            P_ZONE_END = 11, P_LEN = 12, P_DENSE = 13, P_ENC_FROM = 14, P_ENC_COUNT = 15;
    private static final int ATT_CHUNK = 256, SPARSE_CHUNK = 32, ATT_THREADS = 128, CS_TILE = 4096, SEL_TILE = 4096, TOPK_SLICE = 2048;
    /** {@code -Dpariskv.debugLaunches=true}: wait for and log every launch (to find a failing kernel). */
    private static final boolean DEBUG = Boolean.getBoolean("pariskv.debugLaunches");

    private final Backend backend;
    private final ModelShape shape;
    private final ParisKvConfig cfg;
    private final int batch, streams, nq, kmax, capTok, maxChunks, d, g, hkv, blocks, tiles;
    private final boolean gpu, offload;
    private final int topKSliceAbove;
    private final Program program;
    private final Map<String, Kernel> kernels = new LinkedHashMap<>();
    private final List<DeviceBuffer> owned = new ArrayList<>();
    private final Arena arena = Arena.ofConfined();

    private final DeviceBuffer rot, keys, values, codes, nibbles, weights, counts, center, plan, queries, out,
            qhat, qnorm, tierTable, hist, scores, cand, candCount, est, ranked, rankedCount, selected, selCount,
            pmax, psum, pacc, newKeys, newValues, tileCounts, partEst, partTok, partCount;

    private final int[] length;   // per sequence
    private final int[] zoneEnd;  // per sequence (shared by its heads)
    private final int[] planHost;
    private final MemorySegment planSeg, querySeg, outSeg, newKeySeg, newValueSeg;
    private final Backend.HostPin stagingPin;
    private final Map<String, long[]> profile = new LinkedHashMap<>();
    private boolean profiling;

    /**
     * How a decoder places its memory.
     *
     * @param offload           K/V rows in host memory the device reads in place ({@link Backend#allocateHostMapped})
     *                          instead of device memory; the compact index and all work buffers stay on the device
     * @param deviceMemoryLimit device bytes the decoder may assume free, 0 = ask the device (cuMemGetInfo / CL_DEVICE_GLOBAL_MEM_SIZE);
     *                          when both are known the smaller wins
     * @param hostMemoryLimit   host bytes for offloaded K/V, 0 = ask the OS (MemAvailable); the smaller wins
     * @param topKSliceAbove    candidate lists longer than this take the two-stage top-k (per-slice bests in parallel,
     *                          then the best of those); shorter ones one kernel. Measured on the H100: the single
     *                          kernel wins at 13K candidates (128K context), the two stages at 104K (1M)
     */
    public record Options(boolean offload, long deviceMemoryLimit, long hostMemoryLimit, int topKSliceAbove) {
        public static final int DEFAULT_TOPK_SLICE_ABOVE = 32768;

        public static Options defaults() {
            return new Options(false, 0, 0, DEFAULT_TOPK_SLICE_ABOVE);
        }

        public Options withOffload(boolean on) {
            return new Options(on, deviceMemoryLimit, hostMemoryLimit, topKSliceAbove);
        }

        public Options withDeviceMemory(long bytes) {
            return new Options(offload, bytes, hostMemoryLimit, topKSliceAbove);
        }

        public Options withHostMemory(long bytes) {
            return new Options(offload, deviceMemoryLimit, bytes, topKSliceAbove);
        }

        public Options withTopKSliceAbove(int candidates) {
            return new Options(offload, deviceMemoryLimit, hostMemoryLimit, candidates);
        }
    }

    /**
     * K/V rows in device memory.
     *
     * @param capacity tokens per sequence the decoder can hold (prompt + generated)
     */
    public DeviceDecoder(Backend backend, ModelShape shape, ParisKvConfig cfg, int batch, int capacity) {
        this(backend, shape, cfg, batch, capacity, Options.defaults());
    }

    /**
     * @param capacity tokens per sequence the decoder can hold (prompt + generated)
     * @throws InsufficientMemoryException before allocating anything, when the buffers do not fit the free memory
     */
    public DeviceDecoder(Backend backend, ModelShape shape, ParisKvConfig cfg, int batch, int capacity, Options options) {
        if (backend.device().backend() == BackendKind.JAVA) {
            throw new IllegalArgumentException("DeviceDecoder needs an OpenCL or CUDA device; the java backend decodes with KvCache");
        }
        validate(shape, cfg);
        this.backend = backend;
        this.shape = shape;
        this.cfg = cfg;
        this.batch = batch;
        this.offload = options.offload();
        this.topKSliceAbove = options.topKSliceAbove();
        this.hkv = shape.kvHeads();
        this.streams = batch * hkv;
        this.d = shape.headDim();
        this.g = shape.groupSize();
        this.blocks = shape.blocks();
        this.nq = retrievalQueriesPerStream(shape, cfg);
        this.kmax = kmax(cfg);
        this.capTok = capacity;
        this.maxChunks = maxChunks(capacity);
        this.tiles = tiles(capacity);
        this.gpu = backend.device().type() == org.pariskv.compute.DeviceType.GPU;
        // refuse before compiling or allocating anything
        MemoryPlan.of(shape.withLayers(1), cfg, capacity, batch, offload, backend.device().backend())
                .require(MemoryBudget.of(backend, options.deviceMemoryLimit(), options.hostMemoryLimit()), "DeviceDecoder (one layer)");
        Rotation rotation = Rotation.forDim(d, cfg.seed());
        Map<String, String> defines = new LinkedHashMap<>();
        defines.put("HEAD_DIM", "" + d);
        defines.put("BLOCKS", "" + blocks);
        defines.put("GROUP", "" + g);
        defines.put("HKV", "" + hkv);
        defines.put("NQ", "" + nq);
        defines.put("KMAX", "" + kmax);
        defines.put("HADAMARD", rotation instanceof HadamardRotation ? "1" : "0");
        defines.put("ROT_SCALE_BITS", "0x" + Integer.toHexString(Float.floatToRawIntBits((float) (1.0 / Math.sqrt(d)))) + "u");
        defines.put(Backend.STRICT_FP, "1");
        this.program = backend.compile("pariskv.c", KernelSource.resource("pariskv.c").compilable(), defines);
        for (String t : TASKS) kernels.put(t, program.kernel(t));

        Map<String, Long> sizes = bufferBytes(shape, cfg, batch, capacity);
        float[] rotData = rotation instanceof HadamardRotation h ? h.signs() : rotation.matrix();
        try {
            rot = alloc(sizes, "rot");
            backend.copyIn(rot, MemorySegment.ofArray(rotData));
            keys = offload ? allocHost(sizes, "keys") : alloc(sizes, "keys");
            values = offload ? allocHost(sizes, "values") : alloc(sizes, "values");
            codes = alloc(sizes, "codes");
            nibbles = alloc(sizes, "nibbles");
            weights = alloc(sizes, "weights");
            counts = alloc(sizes, "counts");
            backend.zero(counts, 0, counts.bytes());
            center = alloc(sizes, "center");
            backend.zero(center, 0, center.bytes());
            plan = alloc(sizes, "plan");
            queries = alloc(sizes, "queries");
            out = alloc(sizes, "out");
            qhat = alloc(sizes, "qhat");
            qnorm = alloc(sizes, "qnorm");
            tierTable = alloc(sizes, "tierTable");
            hist = alloc(sizes, "hist");
            scores = alloc(sizes, "scores");
            cand = alloc(sizes, "cand");
            candCount = alloc(sizes, "candCount");
            est = alloc(sizes, "est");
            ranked = alloc(sizes, "ranked");
            rankedCount = alloc(sizes, "rankedCount");
            selected = alloc(sizes, "selected");
            selCount = alloc(sizes, "selCount");
            pmax = alloc(sizes, "pmax");
            psum = alloc(sizes, "psum");
            pacc = alloc(sizes, "pacc");
            tileCounts = alloc(sizes, "tileCounts");
            partEst = alloc(sizes, "partEst");
            partTok = alloc(sizes, "partTok");
            partCount = alloc(sizes, "partCount");
            newKeys = alloc(sizes, "newKeys");
            newValues = alloc(sizes, "newValues");
        } catch (RuntimeException | Error e) {
            for (DeviceBuffer b : owned) b.close(); // nothing leaks from a failed construction
            owned.clear();
            arena.close();
            throw e;
        }

        length = new int[batch];
        zoneEnd = new int[batch];
        java.util.Arrays.fill(zoneEnd, cfg.sink());
        planHost = new int[streams * PLAN];
        // one page-locked staging area for a step's uploads (plan, queries, new rows): enqueued without waiting
        long planBytes = align(4L * planHost.length), queryBytes = align(4L * batch * shape.queryHeads() * d), rowBytes = align(2L * streams * d);
        MemorySegment staging = arena.allocate(align(planBytes + queryBytes + 2 * rowBytes, 4096), 4096);
        planSeg = staging.asSlice(0, 4L * planHost.length);
        querySeg = staging.asSlice(planBytes, 4L * batch * shape.queryHeads() * d);
        newKeySeg = staging.asSlice(planBytes + queryBytes, 2L * streams * d);
        newValueSeg = staging.asSlice(planBytes + queryBytes + rowBytes, 2L * streams * d);
        outSeg = arena.allocate(4L * batch * shape.queryHeads() * d, 64);
        try {
            stagingPin = backend.pin(staging);
        } catch (RuntimeException e) {
            for (DeviceBuffer b : owned) b.close();
            owned.clear();
            arena.close();
            throw e;
        }
    }

    private static long align(long bytes) {
        return align(bytes, 256);
    }

    private static long align(long bytes, long to) {
        return (bytes + to - 1) / to * to;
    }

    // ---- sizes: the constructor allocates exactly bufferBytes(...), MemoryPlan reports the same numbers ----

    private static void validate(ModelShape shape, ParisKvConfig cfg) {
        int nq = retrievalQueriesPerStream(shape, cfg), kmax = kmax(cfg);
        if (kmax > 2048) throw new IllegalArgumentException("device top-k is limited to 2048, got " + cfg.topk());
        if (nq * kmax > 8192) throw new IllegalArgumentException("per-head selection of top-" + cfg.topk() + " over " + nq + " heads exceeds the merge's local memory; use --gqa mean or a smaller top-k");
        if (nq * shape.blocks() * 256 > 32 * 1024) {
            throw new IllegalArgumentException("per-head tier tables of " + nq + " heads x " + shape.blocks() + " blocks exceed 32 KiB of local memory; use --gqa mean");
        }
    }

    private static int retrievalQueriesPerStream(ModelShape shape, ParisKvConfig cfg) {
        return cfg.gqa() == GqaMode.PER_HEAD ? shape.groupSize() : 1;
    }

    private static int kmax(ParisKvConfig cfg) {
        return Integer.highestOneBit(Math.max(2, cfg.topk() - 1)) << 1;
    }

    private static int maxChunks(int capacity) {
        return (16 * ATT_CHUNK + SPARSE_CHUNK - 1) / SPARSE_CHUNK + (capacity + ATT_CHUNK - 1) / ATT_CHUNK;
    }

    /** Slices of the first top-k stage for a candidate list of at most {@code capacity}. */
    private static int topKSlices(int capacity) {
        return (capacity + TOPK_SLICE - 1) / TOPK_SLICE;
    }

    private static int tiles(int capacity) {
        return (capacity + SEL_TILE - 1) / SEL_TILE;
    }

    /** What one buffer of {@code bytes} really takes (at least 4 bytes). */
    private static long padded(long bytes) {
        return Math.max(4, bytes);
    }

    /** The buffers that hold K/V rows (host-mapped when offloaded). */
    public static final List<String> KV_BUFFERS = List.of("keys", "values");
    /** The compact retrieval index per key: codes, nibbles, weights (D/8 + D/2 + 2·D/8 bytes per key per KV head). */
    public static final List<String> INDEX_BUFFERS = List.of("codes", "nibbles", "weights");
    /** Work buffers that grow with the context (per retrieval query and key). */
    public static final List<String> PER_TOKEN_WORK_BUFFERS = List.of("scores", "cand", "est");

    /**
     * Bytes of every buffer one decoder allocates (one layer), by name, in allocation order. The constructor
     * allocates exactly these sizes; {@link MemoryPlan} sums them, so plan and allocation cannot drift apart.
     */
    public static Map<String, Long> bufferBytes(ModelShape shape, ParisKvConfig cfg, int batch, int capacity) {
        validate(shape, cfg);
        int hkv = shape.kvHeads(), d = shape.headDim(), g = shape.groupSize(), blocks = shape.blocks();
        long streams = (long) batch * hkv, cap = capacity, sq = streams * retrievalQueriesPerStream(shape, cfg);
        int kmax = kmax(cfg), maxChunks = maxChunks(capacity), tiles = tiles(capacity);
        Rotation rotation = Rotation.forDim(d, cfg.seed());
        long rotFloats = rotation instanceof HadamardRotation h ? h.signs().length : (long) d * d;
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("rot", 4L * rotFloats);
        m.put("keys", 2L * streams * cap * d);
        m.put("values", 2L * streams * cap * d);
        m.put("codes", streams * cap * blocks);
        m.put("nibbles", streams * cap * d / 2);
        m.put("weights", 2L * streams * cap * blocks);
        m.put("counts", 4L * streams * blocks * 256);
        m.put("center", 4L * streams * d);
        m.put("plan", 4L * streams * PLAN);
        m.put("queries", 4L * batch * shape.queryHeads() * d);
        m.put("out", 4L * batch * shape.queryHeads() * d);
        m.put("qhat", 4L * sq * d);
        m.put("qnorm", 4L * sq);
        m.put("tierTable", sq * blocks * 256);
        m.put("hist", 4L * sq * (Tiers.maxScore(blocks) + 1));
        m.put("scores", sq * cap);
        m.put("cand", 4L * sq * cap);
        m.put("candCount", 4L * sq);
        m.put("est", 4L * sq * cap);
        m.put("ranked", 4L * sq * kmax);
        m.put("rankedCount", 4L * sq);
        m.put("selected", 4L * streams * kmax);
        m.put("selCount", 4L * streams);
        m.put("pmax", 4L * streams * g * maxChunks);
        m.put("psum", 4L * streams * g * maxChunks);
        m.put("pacc", 4L * streams * g * maxChunks * d);
        m.put("tileCounts", 8L * sq * tiles);
        long slices = topKSlices(capacity), kFull = Math.min(cfg.topk(), TOPK_SLICE);
        m.put("partEst", 4L * sq * slices * kFull);
        m.put("partTok", 4L * sq * slices * kFull);
        m.put("partCount", 4L * sq * slices);
        m.put("newKeys", 2L * streams * d);
        m.put("newValues", 2L * streams * d);
        m.replaceAll((k, v) -> padded(v));
        return m;
    }

    /** Device bytes one decoder allocates: every buffer, less K/V when offloaded. */
    public static long deviceBytes(ModelShape shape, ParisKvConfig cfg, int batch, int capacity, boolean offload) {
        long n = 0;
        for (var e : bufferBytes(shape, cfg, batch, capacity).entrySet()) {
            if (!(offload && KV_BUFFERS.contains(e.getKey()))) n += e.getValue();
        }
        return n;
    }

    /** Host-mapped bytes one decoder allocates: the K/V rows when offloaded, else 0. */
    public static long hostBytes(ModelShape shape, ParisKvConfig cfg, int batch, int capacity, boolean offload) {
        if (!offload) return 0;
        Map<String, Long> m = bufferBytes(shape, cfg, batch, capacity);
        return m.get("keys") + m.get("values");
    }

    private DeviceBuffer alloc(Map<String, Long> sizes, String name) {
        DeviceBuffer b = backend.allocate(sizes.get(name));
        owned.add(b);
        return b;
    }

    private DeviceBuffer allocHost(Map<String, Long> sizes, String name) {
        DeviceBuffer b = backend.allocateHostMapped(sizes.get(name));
        owned.add(b);
        return b;
    }

    /** Bytes of device memory this decoder holds (host-mapped K/V not included: see {@link #hostMappedBytes()}). */
    public long deviceBytes() {
        long n = 0;
        for (DeviceBuffer b : owned) if (!b.isHostMapped()) n += b.bytes();
        return n;
    }

    /** Bytes this decoder holds in host memory the device maps (the K/V rows when offloaded, else 0). */
    public long hostMappedBytes() {
        long n = 0;
        for (DeviceBuffer b : owned) if (b.isHostMapped()) n += b.bytes();
        return n;
    }

    /** Whether K/V rows were placed in host memory. */
    public boolean offload() {
        return offload;
    }

    /** The memory path the K/V rows took (device memory, CUDA host-mapped, OpenCL ALLOC_HOST_PTR). */
    public MemoryKind kvMemory() {
        return keys.kind();
    }

    public int length(int seq) {
        return length[seq];
    }

    public int zoneEnd(int seq) {
        return zoneEnd[seq];
    }

    /** Per-task device time from now on (kernels are then waited for one by one). */
    public void profile(boolean on) {
        profiling = on;
        profile.clear();
    }

    /** Summed device nanoseconds and launch counts per task since {@link #profile(boolean)}. */
    public Map<String, long[]> profileNanos() {
        Map<String, long[]> m = new LinkedHashMap<>();
        profile.forEach((k, v) -> m.put(k, v.clone()));
        return m;
    }

    /** Bulk prefill of sequence {@code seq}: rows {@code [tokens][Hkv][D]}; encodes all but the last {@code L}. */
    public void prefill(int seq, float[] k, float[] v, int tokens) {
        if (length[seq] + tokens > capTok) throw new IllegalArgumentException("sequence " + seq + " would hold " + (length[seq] + tokens) + " tokens, capacity " + capTok);
        MemorySegment hostK = keys.hostSegment(), hostV = values.hostSegment();
        if (hostK != null && hostV != null) {
            // host-mapped rows: write them in place, no copy (after earlier kernels that may touch them)
            backend.finish();
            int parts = Math.max(1, Math.min(16, tokens / 4096)); // heads x token slices in parallel: host memory bandwidth
            int base = length[seq];
            java.util.stream.IntStream.range(0, hkv * parts).parallel().forEach(task -> {
                int h = task / parts, p = task % parts;
                int from = (int) ((long) tokens * p / parts), to = (int) ((long) tokens * (p + 1) / parts);
                long off = 2L * (((long) seq * hkv + h) * capTok + base + from) * d;
                writeRows(hostK, off, k, h, from, to - from);
                writeRows(hostV, off, v, h, from, to - from);
            });
        } else {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment rowsK = a.allocate(2L * tokens * d, 64), rowsV = a.allocate(2L * tokens * d, 64);
                for (int h = 0; h < hkv; h++) {
                    writeRows(rowsK, 0, k, h, 0, tokens);
                    writeRows(rowsV, 0, v, h, 0, tokens);
                    long off = 2L * (((long) seq * hkv + h) * capTok + length[seq]) * d;
                    backend.copyIn(keys, off, rowsK);
                    backend.copyIn(values, off, rowsV);
                }
            }
        }
        int before = length[seq];
        length[seq] += tokens;
        int target = length[seq] - zoneEnd[seq] > cfg.local() && length[seq] > cfg.sink() ? length[seq] - cfg.local() : zoneEnd[seq];
        if (target > zoneEnd[seq]) {
            if (cfg.centerKeys() && zoneEnd[seq] == cfg.sink() && before <= cfg.sink()) uploadCenter(seq, k, before, target);
            int[] from = new int[batch], count = new int[batch];
            from[seq] = zoneEnd[seq] - cfg.sink();
            count[seq] = target - zoneEnd[seq];
            zoneEnd[seq] = target;
            encode(from, count);
        }
    }

    /** Rows {@code [first, first+tokens)} of KV head {@code h} from {@code src [tokens][Hkv][D]} as bf16 into {@code dst} at byte {@code off}. */
    private void writeRows(MemorySegment dst, long off, float[] src, int h, int first, int tokens) {
        for (int t = 0; t < tokens; t++) {
            int from = ((first + t) * hkv + h) * d;
            long base = off + 2L * t * d;
            for (int i = 0; i < d; i++) dst.set(ValueLayout.JAVA_SHORT, base + 2L * i, Bf16.fromFloat(src[from + i]));
        }
    }

    /** The key centre of a sequence's heads: mean of the bf16-rounded keys {@code [from, to)} (as ParisKv.Head). */
    private void uploadCenter(int seq, float[] k, int firstToken, int to) {
        float[] c = new float[hkv * d];
        for (int h = 0; h < hkv; h++) {
            double[] acc = new double[d];
            for (int t = cfg.sink(); t < to; t++) {
                int src = ((t - firstToken) * hkv + h) * d;
                for (int i = 0; i < d; i++) acc[i] += Bf16.round(k[src + i]);
            }
            for (int i = 0; i < d; i++) c[h * d + i] = (float) (acc[i] / (to - cfg.sink()));
        }
        backend.copyIn(center, 4L * seq * hkv * d, MemorySegment.ofArray(c));
    }

    private void encode(int[] from, int[] count) {
        int max = 0;
        for (int b = 0; b < batch; b++) max = Math.max(max, count[b]);
        if (max == 0) return;
        fillPlan(false);
        planEncode(from, count);
        uploadPlan();
        launchEncode(max);
    }

    /** Sets the plan's encode fields: zone indices {@code [from, from+count)} of each sequence's streams. */
    private void planEncode(int[] from, int[] count) {
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < hkv; h++) {
                int s = b * hkv + h;
                planHost[s * PLAN + P_ENC_FROM] = from[b];
                planHost[s * PLAN + P_ENC_COUNT] = count[b];
            }
        }
    }

    private void launchEncode(int maxCount) {
        int threads = Math.min(d, 256);
        launch("encodeKeys", new Grid(new long[] {(long) maxCount * threads, streams}, new long[] {threads, 1}),
                buf(keys), buf(rot), buf(center), buf(plan), buf(codes), buf(nibbles), buf(weights), buf(counts),
                new KernelArg.Int(capTok), new KernelArg.Int(capTok));
    }

    /**
     * One decode step for every sequence of the batch: append each sequence's new token ({@code k, v}:
     * {@code [batch][Hkv][D]}), then attend with {@code q} ({@code [batch][Hq][D]}) into {@code out}.
     * The step's inputs go up in four enqueued copies from page-locked staging, then every kernel is enqueued;
     * the host waits once, for the output.
     *
     * @param dense true for exact full attention over every token (the baseline), false for ParisKV
     */
    public void decode(float[] q, float[] k, float[] v, float[] out, boolean dense) {
        for (int b = 0; b < batch; b++) {
            if (length[b] + 1 > capTok) throw new IllegalArgumentException("sequence " + b + " is full (" + capTok + " tokens)");
        }
        for (int s = 0; s < streams; s++) {
            int b = s / hkv, h = s % hkv;
            int src = (b * hkv + h) * d;
            for (int i = 0; i < d; i++) {
                newKeySeg.setAtIndex(ValueLayout.JAVA_SHORT, (long) s * d + i, Bf16.fromFloat(k[src + i]));
                newValueSeg.setAtIndex(ValueLayout.JAVA_SHORT, (long) s * d + i, Bf16.fromFloat(v[src + i]));
            }
        }
        for (int b = 0; b < batch; b++) length[b]++;
        // slide the window: whole intervals move into the retrieval zone (encoded this step)
        int[] from = new int[batch], count = new int[batch];
        int maxEncode = 0;
        for (int b = 0; b < batch; b++) {
            int local = length[b] - zoneEnd[b];
            if (length[b] > cfg.sink() && local >= cfg.local() + cfg.interval()) {
                int move = cfg.interval() * ((local - cfg.local()) / cfg.interval());
                from[b] = zoneEnd[b] - cfg.sink();
                count[b] = move;
                zoneEnd[b] += move;
                maxEncode = Math.max(maxEncode, move);
            }
        }
        // one plan serves the whole step: appendTokens reads the length, encodeKeys its fields, the rest the zone
        fillPlan(dense);
        planEncode(from, count);
        MemorySegment.copy(planHost, 0, planSeg, ValueLayout.JAVA_INT, 0, planHost.length);
        MemorySegment.copy(q, 0, querySeg, ValueLayout.JAVA_FLOAT, 0, batch * shape.queryHeads() * d);
        backend.copyInAsync(newKeys, 0, newKeySeg);
        backend.copyInAsync(newValues, 0, newValueSeg);
        backend.copyInAsync(plan, 0, planSeg);
        backend.copyInAsync(queries, 0, querySeg);
        launch("appendTokens", Grid.groups(streams, Math.min(d, 256)), buf(newKeys), buf(newValues), buf(plan),
                buf(keys), buf(values), new KernelArg.Int(capTok));
        if (maxEncode > 0) launchEncode(maxEncode);
        attendStep(dense);
        backend.copyOut(outSeg, this.out);
        MemorySegment.copy(outSeg, ValueLayout.JAVA_FLOAT, 0, out, 0, batch * shape.queryHeads() * d);
    }

    private void attendStep(boolean dense) {
        int sq = streams * nq;
        int maxN = 0, maxCand = 0, maxAttended = 0;
        boolean anySparse = false;
        for (int s = 0; s < streams; s++) {
            int[] p = java.util.Arrays.copyOfRange(planHost, s * PLAN, (s + 1) * PLAN);
            if (p[P_DENSE] == 0) {
                anySparse = true;
                maxN = Math.max(maxN, p[P_N]);
                maxCand = Math.max(maxCand, p[P_CAND]);
                maxAttended = Math.max(maxAttended, p[P_SINK_END] + p[P_K] + p[P_LEN] - p[P_ZONE_END]);
            } else {
                maxAttended = Math.max(maxAttended, p[P_LEN]);
            }
        }
        if (anySparse) {
            launch("prepareQuery", new Grid(new long[] {(long) sq * 256, blocks}, new long[] {256, 1}),
                    buf(queries), buf(rot), buf(plan), buf(counts), buf(qhat), buf(qnorm), buf(tierTable), buf(hist));
            long tilesNow = (Math.max(1, maxN) + CS_TILE - 1) / CS_TILE;
            launch("collisionScores", new Grid(new long[] {tilesNow * 256, streams}, new long[] {256, 1}),
                    buf(codes), buf(tierTable), buf(plan), buf(scores), buf(hist), new KernelArg.Int(capTok));
            long selTiles = (Math.max(1, maxN) + SEL_TILE - 1) / SEL_TILE;
            launch("candidateCount", new Grid(new long[] {selTiles * 256, sq}, new long[] {256, 1}), buf(scores), buf(hist),
                    buf(plan), buf(tileCounts), new KernelArg.Int(capTok), new KernelArg.Int(tiles));
            launch("candidateSelect", new Grid(new long[] {selTiles * 256, sq}, new long[] {256, 1}), buf(scores), buf(hist),
                    buf(plan), buf(tileCounts), buf(cand), buf(candCount), new KernelArg.Int(capTok), new KernelArg.Int(tiles));
            launch("rerank", new Grid(new long[] {roundUp(Math.max(1, maxCand), 256), sq}, new long[] {256, 1}),
                    buf(nibbles), buf(weights), buf(qhat), buf(qnorm), buf(cand), buf(candCount), buf(est), new KernelArg.Int(capTok));
            int topThreads = gpu ? 1024 : 256;
            int slicesNow = (Math.max(1, maxCand) + TOPK_SLICE - 1) / TOPK_SLICE;
            if (slicesNow <= 1 || maxCand <= topKSliceAbove) {
                launch("topK", Grid.groups(sq, topThreads), buf(est), buf(cand), buf(candCount), buf(plan), buf(ranked),
                        buf(rankedCount), buf(selected), buf(selCount), new KernelArg.Int(capTok), new KernelArg.Int(0));
            } else { // long lists: per-slice bests in parallel, then the best of those
                int kFull = Math.min(cfg.topk(), TOPK_SLICE);
                launch("topKSlice", new Grid(new long[] {(long) slicesNow * topThreads, sq}, new long[] {topThreads, 1}),
                        buf(est), buf(cand), buf(candCount), buf(plan), buf(partEst), buf(partTok), buf(partCount),
                        new KernelArg.Int(capTok), new KernelArg.Int(slicesNow), new KernelArg.Int(kFull));
                launch("topK", Grid.groups(sq, topThreads), buf(partEst), buf(partTok), buf(partCount), buf(plan), buf(ranked),
                        buf(rankedCount), buf(selected), buf(selCount), new KernelArg.Int(slicesNow * kFull), new KernelArg.Int(slicesNow));
            }
            // GQA mean: topK already wrote the selection (one list per stream)
            if (nq > 1) launch("mergeSelection", Grid.groups(streams, 256), buf(ranked), buf(rankedCount), buf(plan), buf(selected), buf(selCount));
        }
        // small chunks spread a sparse step's ~700 tokens over many work-groups; long dense contexts use big ones
        int chunk = maxAttended <= 16 * ATT_CHUNK ? SPARSE_CHUNK : ATT_CHUNK;
        int chunks = Math.max(1, (maxAttended + chunk - 1) / chunk);
        launch("sparseAttention", new Grid(new long[] {(long) chunks * ATT_THREADS, streams}, new long[] {ATT_THREADS, 1}),
                buf(queries), buf(keys), buf(values), buf(plan), buf(selected), buf(selCount), buf(pmax), buf(psum), buf(pacc),
                new KernelArg.Int(capTok), new KernelArg.Int(maxChunks), new KernelArg.Int(chunk));
        launch("attentionCombine", Grid.groups((long) streams * g, 128), buf(plan), buf(selCount), buf(pmax),
                buf(psum), buf(pacc), buf(out), new KernelArg.Int(maxChunks), new KernelArg.Int(chunk));
    }

    /** Waits for all enqueued work. */
    public void finish() {
        backend.finish();
    }

    private void fillPlan(boolean dense) {
        for (int b = 0; b < batch; b++) {
            int len = length[b];
            int sinkEnd = Math.min(cfg.sink(), len);
            int zs = Math.min(cfg.sink(), len);
            int ze = Math.max(zs, Math.min(zoneEnd[b], len));
            int n = ze - zs;
            AdaptiveRatios r = AdaptiveRatios.forZone(n, cfg.candidateRatio(), cfg.collisionRatio());
            int[] t = Tiers.thresholds(n, r.collisionRatio());
            for (int h = 0; h < hkv; h++) {
                int o = (b * hkv + h) * PLAN;
                planHost[o + P_N] = n;
                System.arraycopy(t, 0, planHost, o + P_T, 6);
                planHost[o + P_CAND] = r.candidates(n);
                planHost[o + P_K] = Math.min(cfg.topk(), n);
                planHost[o + P_SINK_END] = sinkEnd;
                planHost[o + P_ZONE_START] = zs;
                planHost[o + P_ZONE_END] = ze;
                planHost[o + P_LEN] = len;
                planHost[o + P_DENSE] = dense || len < cfg.denseBelow() ? 1 : 0;
                planHost[o + P_ENC_FROM] = 0;
                planHost[o + P_ENC_COUNT] = 0;
            }
        }
    }

    private void uploadPlan() {
        MemorySegment.copy(planHost, 0, planSeg, ValueLayout.JAVA_INT, 0, planHost.length);
        backend.copyIn(plan, planSeg);
    }

    private static KernelArg buf(DeviceBuffer b) {
        return new KernelArg.Buffer(b);
    }

    private static long roundUp(long n, int m) {
        return (n + m - 1) / m * m;
    }

    private void launch(String task, Grid grid, KernelArg... args) {
        if (observer != null) observer.before(task, grid, List.of(args));
        long ns = backend.launch(kernels.get(task), grid, List.of(args), profiling);
        if (observer != null) observer.after(task, grid, List.of(args));
        if (DEBUG) {
            backend.finish();
            System.err.println("pariskv: " + task + " " + grid + " done");
        }
        if (profiling) {
            long[] acc = profile.computeIfAbsent(task, k -> new long[2]);
            acc[0] += ns;
            acc[1]++;
        }
    }

    /** Sees every launch just before it is enqueued and just after (equivalence tests of {@link DecodeTwins}). */
    interface LaunchObserver {
        void before(String task, Grid grid, List<KernelArg> args);

        void after(String task, Grid grid, List<KernelArg> args);
    }

    private LaunchObserver observer;

    /** Reports every following launch to {@code o} (null: none). */
    void observeLaunches(LaunchObserver o) {
        observer = o;
    }

    /** The defines this decoder compiled {@code pariskv.c} with, as the twins' shape. */
    DecodeTwins.Shape twinShape() {
        return new DecodeTwins.Shape(d, blocks, g, hkv, nq, kmax, Rotation.forDim(d, cfg.seed()) instanceof HadamardRotation);
    }

    // ---- read-back for equivalence tests and metrics -------------------------------------------

    /** Zone indices selected at the last sparse step for stream {@code s} (= seq * Hkv + head), ascending. */
    public int[] selected(int stream) {
        int n = readInts(selCount, stream, 1)[0];
        return readInts(selected, (long) stream * kmax, n);
    }

    /** Key (or value) rows {@code [from, from+n)} of stream {@code s} as floats (for exact references on the host). */
    public float[] rows(boolean keysNotValues, int stream, int from, int n) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(2L * n * d, 64);
            backend.copyOut(m, keysNotValues ? keys : values, 2L * ((long) stream * capTok + from) * d);
            float[] out = new float[n * d];
            for (int i = 0; i < out.length; i++) out[i] = Bf16.toFloat(m.getAtIndex(ValueLayout.JAVA_SHORT, i));
            return out;
        }
    }

    /** Encoded index of a stream: {codes, nibbles} bytes and weights for zone indices {@code [0, n)}. */
    public byte[] codes(int stream, int n) {
        return readBytes(codes, (long) stream * capTok * blocks, n * blocks);
    }

    public byte[] nibbles(int stream, int n) {
        return readBytes(nibbles, (long) stream * capTok * d / 2, n * d / 2);
    }

    public short[] weights(int stream, int n) {
        if (n <= 0) return new short[0];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(2L * n * blocks, 64);
            backend.copyOut(m, weights, 2L * stream * capTok * blocks);
            return m.toArray(ValueLayout.JAVA_SHORT);
        }
    }

    public int[] counts(int stream) {
        return readInts(counts, (long) stream * blocks * 256, blocks * 256);
    }

    /** The tier table of retrieval query {@code qi} (= stream * NQ + head) at the last step. */
    public byte[] tierTable(int qi) {
        return readBytes(tierTable, (long) qi * blocks * 256, blocks * 256);
    }

    public float[] rotatedQuery(int qi) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(4L * d, 64);
            backend.copyOut(m, qhat, 4L * qi * d);
            return m.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    /** Candidates (ascending zone indices) of retrieval query {@code qi} at the last step. */
    public int[] candidates(int qi) {
        int n = readInts(candCount, qi, 1)[0];
        return readInts(cand, (long) qi * capTok, n);
    }

    /** Ranked zone indices (best first) of retrieval query {@code qi} at the last step. */
    public int[] ranked(int qi) {
        int n = readInts(rankedCount, qi, 1)[0];
        return readInts(ranked, (long) qi * kmax, n);
    }

    public int retrievalQueriesPerStream() {
        return nq;
    }

    private int[] readInts(DeviceBuffer b, long index, int n) {
        if (n <= 0) return new int[0];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(4L * n, 64);
            backend.copyOut(m, b, 4L * index);
            return m.toArray(ValueLayout.JAVA_INT);
        }
    }

    private byte[] readBytes(DeviceBuffer b, long offset, int n) {
        if (n <= 0) return new byte[0];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(n, 64);
            backend.copyOut(m, b, offset);
            return m.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** The compiled program (for {@code --print-kernel}). */
    public Program program() {
        return program;
    }

    @Override
    public void close() {
        backend.finish(); // nothing enqueued may still read the staging memory
        for (DeviceBuffer b : owned) b.close();
        owned.clear();
        stagingPin.close();
        arena.close();
    }
}
