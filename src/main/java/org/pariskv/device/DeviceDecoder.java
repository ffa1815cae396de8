package org.pariskv.device;

import org.pariskv.cache.InputCheck;

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
import org.pariskv.compute.MemoryKind;
import org.pariskv.compute.KernelArg;
import org.pariskv.compute.KernelSource;
import org.pariskv.compute.OpenClBackend;
import org.pariskv.compute.Program;
import org.pariskv.compute.graph.ExecutionPlan;
import org.pariskv.compute.graph.ExecutionResult;
import org.pariskv.compute.graph.IntParam;
import org.pariskv.compute.graph.ProfilerMode;
import org.pariskv.compute.graph.TaskGraph;
import org.pariskv.compute.graph.TaskProfile;
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
 * ({@link Backend#mapHostRange}); prefill then writes them there directly when the buffer has a host view
 * (CUDA), and the kernels, unchanged, read only the rows a step attends (sink, selected top-k, local window).
 * Host K/V rows (MAPPED and STAGED) live in a {@link HostKvStore}: the whole capacity reserved as address space,
 * committed segment by segment ({@link HostKvStore#SEGMENT_TOKENS} tokens of every stream) as prefill and decode
 * append; a segment that does not fit the host cap or the host's available memory is refused before anything
 * changes ({@link InsufficientMemoryException}), and the decoder stays usable at its length.
 * With {@link KvPlacement#STAGED} the K/V rows live only in plain host memory of the decoder: after
 * {@code mergeSelection} the host reads back the selection, gathers the selected rows of every stream into one
 * pinned staging buffer ({@code gatherRows}), copies it to the device once ({@code stagingCopy}) and
 * {@code sparseAttentionStaged} attends them with the sink and local rows, which both host placements also keep in a
 * device window ({@code window_slot}); encodeKeys reads the rows it encodes from a small device scratch.
 * Sizes: {@link #bufferBytes}, {@link MemoryPlan}. Not thread-safe.
 */
public final class DeviceDecoder implements AutoCloseable {

    /** The kernels of one step, in launch order (also the profile's row order). */
    public static final List<String> TASKS = List.of("appendTokens", "encodeKeys", "prepareQuery", "collisionScores",
            "candidateSelect", "rerank", "topKSlice", "topK", "mergeSelection", "sparseAttention", "sparseAttentionStaged", "attentionCombine");

    private static final int PLAN = DecodeLayout.PLAN_STRIDE; // the plan row layout is DecodeLayout's
    private static final int P_N = DecodeLayout.P_N, P_T = DecodeLayout.P_T, P_CAND = DecodeLayout.P_CAND, P_K = DecodeLayout.P_K,
            P_SINK_END = DecodeLayout.P_SINK_END, P_ZONE_START = DecodeLayout.P_ZONE_START, P_ZONE_END = DecodeLayout.P_ZONE_END,
            P_LEN = DecodeLayout.P_LEN, P_DENSE = DecodeLayout.P_DENSE, P_ENC_FROM = DecodeLayout.P_ENC_FROM,
            P_ENC_COUNT = DecodeLayout.P_ENC_COUNT;
    private static final int ATT_CHUNK = 256, SPARSE_CHUNK = 32, ATT_THREADS = 128, CS_TILE = 4096, CS_THREADS = 256, SEL_TILE = DecodeLayout.SEL_TILE, TOPK_SLICE = DecodeLayout.TOPK_SLICE,
            EST_BINS = DecodeLayout.EST_BINS;
    /** {@code -Dpariskv.debugLaunches=true}: wait for and log every launch (to find a failing kernel). */
    private static final boolean DEBUG = Boolean.getBoolean("pariskv.debugLaunches");

    private final Backend backend;
    private final ModelShape shape;
    private final ParisKvConfig cfg;
    private final int batch, streams, nq, kmax, capTok, maxChunks, d, g, hkv, blocks, tiles;
    private final boolean gpu, offload; // offload: K/V in host-mapped buffers (KvPlacement.MAPPED)
    /** The step's tasks are the Java kernels (translated at run time) instead of pariskv.c: {@link #KERNELS}. */
    private final boolean javaKernels, hadamard;
    private final float rotScale;

    /**
     * {@code -Dpariskv.kernels=java|c}: which kernels a device decoder runs. {@code java}: {@link DecodeKernels} and the
     * other Java kernel classes, translated to OpenCL C / CUDA C at run time; {@code c} (the default until the Java
     * kernels' speed is measured on a GPU): the hand-written {@code tasks/pariskv.c}. The java backend runs the
     * {@link DecodeTwins} either way.
     */
    public static final String KERNELS = System.getProperty("pariskv.kernels", "c");
    /** Host bytes of bf16 rows a device prefill converts in parallel before it copies them (one head at a time above). */
    private static final long PREFILL_PARALLEL_BYTES = 512L << 20;
    /**
     * The kernel of all-dense steps (full attention, or every sequence short): {@code phases}
     * {@link AttentionKernels#denseAttention} (the fastest measured on an H200 at 128K:
     * profiles/results/2026-12-04-h200-dense-attention), {@code rows} {@link AttentionKernels#denseAttentionRows}, or
     * {@code off} (sparseAttention, as sparse steps): {@code -Dpariskv.dense}, with {@code -Dpariskv.denseChunk}
     * tokens a work-group on long rows, to compare them.
     */
    static final String DENSE = System.getProperty("pariskv.dense", "phases");
    static final int DENSE_CHUNK = Integer.getInteger("pariskv.denseChunk", 256);

    private static boolean javaKernels(Backend backend) {
        if (!KERNELS.equals("java") && !KERNELS.equals("c")) {
            throw new IllegalArgumentException("-Dpariskv.kernels=" + KERNELS + ": expected java or c");
        }
        return KERNELS.equals("java") && !(backend instanceof org.pariskv.compute.JavaBackend);
    }
    private final int topKSliceAbove;
    private final boolean denseKernel; // all-dense steps through denseAttention
    private final Program program;
    private final Map<String, String> defines = new LinkedHashMap<>();
    private final DecodeTwins twins;      // each task's Java body (the graphs bind it to the kernel of the same name)
    private final boolean cudaGraphs;
    private final boolean dependentLaunch;
    private final List<ExecutionPlan> plans = new ArrayList<>();
    private ExecutionPlan decodeStep, encodeStep, encodeStagedStep, retrieveStaged, attendStagedStep;
    private ExecutionPlan boundStep; // decodeBound's: the step reading bound device inputs (bindInputs)
    // the step's shape: what the graphs' grid suppliers, parameters and task conditions read at each execution
    private int stepEncodeRows, stepMaxN = 1, stepMaxCand = 1, stepChunks = 1;
    private boolean stepSparse, stepSliced;
    private boolean timeSteps;
    private long lastStepDeviceNanos = -1;
    private final IntParam chunkParam = new IntParam(SPARSE_CHUNK), slicesParam = new IntParam(1), slicedCandidates = new IntParam(1);
    private final List<DeviceBuffer> owned = new ArrayList<>();
    private final List<DeviceBuffer> views = new ArrayList<>(); // slices of owned buffers (not counted again)
    private final Arena arena = Arena.ofConfined();

    private final DeviceBuffer rot, keys, values, codes, nibbles, weights, counts, center, plan, queries, out,
            qhat, qnorm, tierTable, hist, scores, cand, candCount, est, estHist, ranked, rankedCount, selected, selCount,
            pmax, psum, pacc, newKeys, newValues, tileHist, partEst, partTok, partCount;
    // MAPPED: the sink and local rows also on the device (window_slot in pariskv.c); elsewhere 4 unused bytes
    private final DeviceBuffer winKeys, winValues;
    private final IntParam ringBase = new IntParam(0), ring = new IntParam(0);

    private final int[] length;   // per sequence
    private final int[] zoneEnd;  // per sequence (shared by its heads)
    private final int[] planHost;
    private final MemorySegment planSeg, querySeg, outSeg, newKeySeg, newValueSeg, stepInSeg;
    private final long[] stepLayout;      // plan, queries, new keys, new values offsets in stepIn; its size
    private final DeviceBuffer stepIn;    // the step's inputs in one buffer (plan, queries, newKeys, newValues are slices)
    private final Backend.HostPin stagingPin;
    private final Map<String, long[]> profile = new LinkedHashMap<>();
    private boolean profiling;

    // ---- KvPlacement.STAGED: K/V rows in plain host memory, attended rows gathered and copied once per step ----
    /** Why {@code decode(..., dense=true)} is refused for staged K/V. */
    public static final String DENSE_STAGED_REFUSAL =
            "full attention over staged K/V would copy the whole context per step; use MAPPED or DEVICE";
    /** Rows (over all streams) one encodeKeys launch of a staged decoder reads from its device scratch. */
    static final int ENCODE_SCRATCH_ROWS = 65536;
    /** Staged rows above which the host gather runs in parallel over streams. */
    private static final int PARALLEL_GATHER_ROWS = 4096;
    private static final java.util.Set<String> SAID = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final KvPlacement placement;
    private final boolean staged;
    private final int slots, encSlice;   // staged rows per stream; encode scratch rows per stream
    private final DeviceBuffer stagedPinned, stagedRows, encodeScratch;
    private MemorySegment hostKeys, hostValues, stagedHost, stagedMapping; // stagedMapping: OpenCL map of stagedPinned
    /** Host K/V rows (MAPPED, STAGED), grown by segments; null for DEVICE. */
    private final HostKvStore kvStore;
    private final int[] selCountHost;
    private long lastAttendedRows = -1;  // rows (K) attended at the last step, -1: not yet counted
    private int[] attendPlan;            // plan of the last attend (for attendedRowBytes of MAPPED / DEVICE)
    // host -> device bytes by category: queries, new token rows, plan rows, staged K/V rows, rows to encode (staged)
    private static final int H_QUERIES = 0, H_NEW = 1, H_PLAN = 2, H_STAGED = 3, H_ENCODE = 4, H_PADDING = 5;
    private static final List<String> H2D = List.of("queries", "newTokens", "plan", "stagedRows", "encodeRows", "alignment");
    private final long[] h2dTotal = new long[H2D.size()], h2dStepStart = new long[H2D.size()], h2dLast = new long[H2D.size()];

    /**
     * How a decoder places its memory.
     *
     * @param placement         where the K/V rows live: device memory, host memory the device reads in place
     *                          ({@link Backend#mapHostRange}), or host memory gathered and copied per step
     *                          ({@link KvPlacement}); the compact index and all work buffers stay on the device
     * @param deviceMemoryLimit device bytes the decoder may assume free, 0 = ask the device (cuMemGetInfo / CL_DEVICE_GLOBAL_MEM_SIZE);
     *                          when both are known the smaller wins
     * @param hostMemoryLimit   host bytes for offloaded K/V, 0 = ask the OS (MemAvailable); the smaller wins. Checked
     *                          when the decoder is built (what it allocates up front and the first K/V segment) and
     *                          as the host K/V rows grow: then against the rows of every decoder of the process
     *                          ({@link HostKvStore#committedByAll()})
     * @param topKSliceAbove    candidate lists longer than this take the two-stage top-k (per-slice bests in parallel,
     *                          then the best of those); shorter ones one kernel. Measured on the H100: the single
     *                          kernel wins at 13K candidates (128K context), the two stages at 104K (1M)
     * @param cudaGraphs        on CUDA, record each step's graph of launches once and replay it
     *                          ({@link ExecutionPlan#withCudaGraph}); ignored elsewhere
     * @param dependentLaunch   on CUDA sm_90+, let each kernel of a step be scheduled while the one before it ends
     *                          ({@link ExecutionPlan#withDependentLaunch}); ignored elsewhere
     */
    public record Options(KvPlacement placement, long deviceMemoryLimit, long hostMemoryLimit, int topKSliceAbove, boolean cudaGraphs,
                          boolean dependentLaunch) {
        public static final int DEFAULT_TOPK_SLICE_ABOVE = 32768;

        public Options {
            java.util.Objects.requireNonNull(placement, "placement");
        }

        public static Options defaults() {
            return new Options(KvPlacement.DEVICE, 0, 0, DEFAULT_TOPK_SLICE_ABOVE, true, true);
        }

        /** K/V rows in host memory (MAPPED or STAGED). */
        public boolean offload() {
            return placement.onHost();
        }

        /** true: {@link KvPlacement#MAPPED} (the historical meaning of offload); false: {@link KvPlacement#DEVICE}. */
        public Options withOffload(boolean on) {
            return withPlacement(on ? KvPlacement.MAPPED : KvPlacement.DEVICE);
        }

        public Options withPlacement(KvPlacement p) {
            return new Options(p, deviceMemoryLimit, hostMemoryLimit, topKSliceAbove, cudaGraphs, dependentLaunch);
        }

        public Options withDeviceMemory(long bytes) {
            return new Options(placement, bytes, hostMemoryLimit, topKSliceAbove, cudaGraphs, dependentLaunch);
        }

        public Options withHostMemory(long bytes) {
            return new Options(placement, deviceMemoryLimit, bytes, topKSliceAbove, cudaGraphs, dependentLaunch);
        }

        public Options withTopKSliceAbove(int candidates) {
            return new Options(placement, deviceMemoryLimit, hostMemoryLimit, candidates, cudaGraphs, dependentLaunch);
        }

        public Options withCudaGraphs(boolean on) {
            return new Options(placement, deviceMemoryLimit, hostMemoryLimit, topKSliceAbove, on, dependentLaunch);
        }

        public Options withDependentLaunch(boolean on) {
            return new Options(placement, deviceMemoryLimit, hostMemoryLimit, topKSliceAbove, cudaGraphs, on);
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
     *                                     (host K/V rows: what is allocated up front and their first segment)
     */
    public DeviceDecoder(Backend backend, ModelShape shape, ParisKvConfig cfg, int batch, int capacity, Options options) {
        this(backend, shape, cfg, batch, capacity, options, HostKvStore.SEGMENT_TOKENS);
    }

    /** @param hostSegmentTokens tokens per segment of host K/V rows (tests: small segments) */
    DeviceDecoder(Backend backend, ModelShape shape, ParisKvConfig cfg, int batch, int capacity, Options options, int hostSegmentTokens) {
        if (backend.device().backend() == BackendKind.JAVA) {
            throw new IllegalArgumentException("DeviceDecoder needs an OpenCL or CUDA device; the java backend decodes with KvCache");
        }
        validate(shape, cfg);
        this.backend = backend;
        this.shape = shape;
        this.cfg = cfg;
        this.batch = batch;
        this.placement = options.placement();
        this.offload = placement == KvPlacement.MAPPED;
        this.staged = placement == KvPlacement.STAGED;
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
        this.slots = stagedSlots(cfg, capacity);
        this.encSlice = encodeSlice(cfg, batch, hkv, capacity);
        // refuse before compiling or allocating anything; host K/V rows that grow by segments: the first segment now
        long kvFirst = placement.onHost() && !HostKvStore.commitsUpFront(backend, placement)
                ? HostKvStore.segmentBytes(streams, capacity, d, hostSegmentTokens, 0) : -1;
        MemoryPlan.of(shape.withLayers(1), cfg, capacity, batch, placement, backend.device().backend())
                .require(MemoryBudget.of(backend, options.deviceMemoryLimit(), options.hostMemoryLimit()), "DeviceDecoder (one layer)", kvFirst);
        Rotation rotation = Rotation.forDim(d, cfg.seed());
        defines.put("HEAD_DIM", "" + d);
        defines.put("BLOCKS", "" + blocks);
        defines.put("GROUP", "" + g);
        defines.put("HKV", "" + hkv);
        defines.put("NQ", "" + nq);
        defines.put("KMAX", "" + kmax);
        defines.put("HADAMARD", rotation instanceof HadamardRotation ? "1" : "0");
        defines.put("ROT_SCALE_BITS", "0x" + Integer.toHexString(Float.floatToRawIntBits((float) (1.0 / Math.sqrt(d)))) + "u");
        defines.put(Backend.STRICT_FP, "1");
        defines.put("ATT_WINDOW", placement.onHost() ? "1" : "0"); // K/V on the device: the attention has no window code
        this.javaKernels = javaKernels(backend);
        this.hadamard = rotation instanceof HadamardRotation;
        this.rotScale = (float) (1.0 / Math.sqrt(d));
        int rowLanes = d / 8; // denseAttention: a row read by d / 8 work-items, a power of two up to a warp
        if (!List.of("phases", "rows", "off").contains(DENSE)) throw new IllegalArgumentException("-Dpariskv.dense=" + DENSE + ": expected phases, rows or off");
        if (DENSE_CHUNK < 1 || DENSE_CHUNK > AttentionKernels.DENSE_MAX_CHUNK) {
            throw new IllegalArgumentException("-Dpariskv.denseChunk=" + DENSE_CHUNK + ": expected 1.." + AttentionKernels.DENSE_MAX_CHUNK);
        }
        this.denseKernel = !DENSE.equals("off") && d % 8 == 0 && rowLanes <= 32 && Integer.bitCount(rowLanes) == 1 && ATT_THREADS % rowLanes == 0;
        this.program = javaKernels ? null : backend.compile("pariskv.c", KernelSource.resource("pariskv.c").compilable(), defines);
        this.twins = new DecodeTwins(twinShape());
        this.cudaGraphs = options.cudaGraphs() && backend.device().backend() == BackendKind.CUDA;
        this.dependentLaunch = options.dependentLaunch() && backend.canLaunchDependent();

        Map<String, Long> sizes = bufferBytes(shape, cfg, batch, capacity, placement);
        if (STEP_ALIGN % backend.sliceAlignment() != 0) {
            throw new IllegalStateException(backend.device().spec() + " needs sub-buffers aligned to " + backend.sliceAlignment()
                    + " bytes; the step's input buffer is laid out for " + STEP_ALIGN);
        }
        this.stepLayout = stepLayout(STEP_ALIGN, 4L * streams * PLAN, 4L * batch * shape.queryHeads() * d, 2L * streams * d);
        float[] rotData = rotation instanceof HadamardRotation h ? h.signs() : rotation.matrix();
        HostKvStore store = null;
        try {
            rot = alloc(sizes, "rot");
            backend.copyIn(rot, MemorySegment.ofArray(rotData));
            if (placement.onHost()) {
                store = new HostKvStore(backend, placement, streams, capTok, d, options.hostMemoryLimit(), "DeviceDecoder (one layer)", hostSegmentTokens);
            }
            kvStore = store;
            keys = staged ? null : offload ? store.keys() : alloc(sizes, "keys");
            values = staged ? null : offload ? store.values() : alloc(sizes, "values");
            codes = alloc(sizes, "codes");
            nibbles = alloc(sizes, "nibbles");
            weights = alloc(sizes, "weights");
            counts = alloc(sizes, "counts");
            backend.zero(counts, 0, counts.bytes());
            center = alloc(sizes, "center");
            backend.zero(center, 0, center.bytes());
            // plan, queries and the new rows: slices of one buffer laid out like the host staging, so a step's
            // inputs go up in one copy
            stepIn = alloc(sizes, "stepIn");
            plan = slice(stepIn, stepLayout[0], 4L * streams * PLAN);
            queries = slice(stepIn, stepLayout[1], 4L * batch * shape.queryHeads() * d);
            out = alloc(sizes, "out");
            qhat = alloc(sizes, "qhat");
            qnorm = alloc(sizes, "qnorm");
            tierTable = alloc(sizes, "tierTable");
            hist = alloc(sizes, "hist");
            scores = alloc(sizes, "scores");
            cand = alloc(sizes, "cand");
            candCount = alloc(sizes, "candCount");
            est = alloc(sizes, "est");
            estHist = alloc(sizes, "estHist");
            ranked = alloc(sizes, "ranked");
            rankedCount = alloc(sizes, "rankedCount");
            selected = alloc(sizes, "selected");
            selCount = alloc(sizes, "selCount");
            pmax = alloc(sizes, "pmax");
            psum = alloc(sizes, "psum");
            pacc = alloc(sizes, "pacc");
            tileHist = alloc(sizes, "tileHist");
            partEst = alloc(sizes, "partEst");
            partTok = alloc(sizes, "partTok");
            partCount = alloc(sizes, "partCount");
            boolean window = placement.onHost();
            winKeys = alloc(sizes, "winKeys");
            winValues = alloc(sizes, "winValues");
            if (window) {
                ringBase.set(cfg.sink());
                ring.set(ringRows(cfg));
            }
            newKeys = slice(stepIn, stepLayout[2], 2L * streams * d);
            newValues = slice(stepIn, stepLayout[3], 2L * streams * d);
            stagedPinned = staged ? allocHost(sizes, "stagedPinned") : null;
            stagedRows = staged ? alloc(sizes, "staged") : null;
            encodeScratch = staged ? alloc(sizes, "encodeScratch") : null;
            if (staged) mapStaging(store);
        } catch (RuntimeException | Error e) {
            releaseStaged();
            for (DeviceBuffer b : owned) b.close();
            for (DeviceBuffer b : views) b.close();
            views.clear();
            owned.clear(); // nothing leaks from a failed construction
            if (store != null) store.close();
            arena.close();
            throw e;
        }
        selCountHost = new int[streams];
        sayKvPath();

        length = new int[batch];
        zoneEnd = new int[batch];
        java.util.Arrays.fill(zoneEnd, cfg.sink());
        planHost = new int[streams * PLAN];
        // one page-locked staging area for a step's uploads (plan, queries, new rows): enqueued without waiting
        // the output's read-back lands in the same page-locked area (a DMA, not the driver's pageable-copy path)
        long outOffset = align(stepLayout[4], 4096), outBytes = 4L * batch * shape.queryHeads() * d;
        MemorySegment staging = arena.allocate(align(outOffset + outBytes, 4096), 4096);
        stepInSeg = staging.asSlice(0, stepLayout[4]);
        planSeg = staging.asSlice(stepLayout[0], 4L * planHost.length);
        querySeg = staging.asSlice(stepLayout[1], 4L * batch * shape.queryHeads() * d);
        newKeySeg = staging.asSlice(stepLayout[2], 2L * streams * d);
        newValueSeg = staging.asSlice(stepLayout[3], 2L * streams * d);
        outSeg = staging.asSlice(outOffset, outBytes);
        try {
            stagingPin = backend.pin(staging);
            if (staged) {
                encodeStagedStep = encodeGraph(encodeScratch, encSlice);
                retrieveStaged = retrieveStagedGraph();
                attendStagedStep = attendStagedGraph();
            } else {
                encodeStep = encodeGraph(keys, capTok);
                decodeStep = decodeGraph();
            }
        } catch (RuntimeException e) {
            releaseStaged();
            for (DeviceBuffer b : owned) b.close();
            for (DeviceBuffer b : views) b.close();
            views.clear();
            owned.clear();
            if (kvStore != null) kvStore.close();
            arena.close();
            throw e;
        }
    }

    /** Offsets of plan, queries, new keys, new values in the step's input buffer, and its size: each part aligned to {@code a}. */
    /** Alignment of the parts of the step's input buffer: a multiple of every device's sub-buffer alignment seen (NVIDIA 512 B, PoCL 1 KiB). */
    private static final long STEP_ALIGN = 4096;

    private static long[] stepLayout(long a, long planBytes, long queryBytes, long rowBytes) {
        long query = align(planBytes, a), key = query + align(queryBytes, a), value = key + align(rowBytes, a);
        return new long[] {0, query, key, value, value + rowBytes};
    }

    /** A view of {@code parent}, closed with this decoder (after the parent: releasing a view frees nothing). */
    private DeviceBuffer slice(DeviceBuffer parent, long offset, long bytes) {
        DeviceBuffer v = backend.slice(parent, offset, bytes);
        views.add(v);
        return v;
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
        // plan, queries and the new token rows of a step, one buffer (one copy)
        m.put("stepIn", stepLayout(STEP_ALIGN, 4L * streams * PLAN, 4L * batch * shape.queryHeads() * d, 2L * streams * d)[4]);
        m.put("out", 4L * batch * shape.queryHeads() * d);
        m.put("qhat", 4L * sq * d);
        m.put("qnorm", 4L * sq);
        m.put("tierTable", sq * blocks * 256);
        m.put("hist", 4L * sq * (Tiers.maxScore(blocks) + 1));
        m.put("scores", sq * cap);
        m.put("cand", 4L * sq * cap);
        m.put("candCount", 4L * sq);
        m.put("est", 4L * sq * cap);
        m.put("estHist", 4L * sq * EST_BINS);
        m.put("ranked", 4L * sq * kmax);
        m.put("rankedCount", 4L * sq);
        m.put("selected", 4L * streams * kmax);
        m.put("selCount", 4L * streams);
        m.put("pmax", 4L * streams * g * maxChunks);
        m.put("psum", 4L * streams * g * maxChunks);
        m.put("pacc", 4L * streams * g * maxChunks * d);
        m.put("tileHist", 4L * sq * tiles * (6L * shape.blocks() + 1)); // per SEL_TILE keys: collisionScores' score counts
        long slices = topKSlices(capacity), kFull = Math.min(cfg.topk(), TOPK_SLICE);
        m.put("partEst", 4L * sq * slices * kFull);
        m.put("partTok", 4L * sq * slices * kFull);
        m.put("partCount", 4L * sq * slices);
        m.put("winKeys", 0L); // the device window: rows under MAPPED only (bufferBytes by placement)
        m.put("winValues", 0L);
        m.replaceAll((k, v) -> padded(v));
        return m;
    }

    /** Device bytes one decoder allocates: every buffer, less K/V when offloaded. */
    public static long deviceBytes(ModelShape shape, ParisKvConfig cfg, int batch, int capacity, boolean offload) {
        return deviceBytes(shape, cfg, batch, capacity, offload ? KvPlacement.MAPPED : KvPlacement.DEVICE);
    }

    /** Host-mapped bytes one decoder allocates: the K/V rows when offloaded, else 0. */
    public static long hostBytes(ModelShape shape, ParisKvConfig cfg, int batch, int capacity, boolean offload) {
        return hostBytes(shape, cfg, batch, capacity, offload ? KvPlacement.MAPPED : KvPlacement.DEVICE);
    }

    /** The buffers a staged decoder adds: pinned host and device rows of a step, and the device scratch of encodeKeys. */
    public static final List<String> STAGING_BUFFERS = List.of("stagedPinned", "staged", "encodeScratch");

    /**
     * Bytes of every buffer a decoder with K/V {@code placement} allocates, by name. DEVICE and MAPPED: as
     * {@link #bufferBytes(ModelShape, ParisKvConfig, int, int)}. STAGED: "keys" and "values" are the decoder's plain
     * host memory (the host appends new rows itself; "stepIn" keeps room for them); plus "stagedPinned" (pinned host memory) and
     * "staged" (device) for the rows one step gathers (top-k rows; every row of a stream attended densely), K and V bf16 of {@link #stagedSlots} rows per stream, and
     * "encodeScratch" (device), the keys one encodeKeys launch reads.
     */
    public static Map<String, Long> bufferBytes(ModelShape shape, ParisKvConfig cfg, int batch, int capacity, KvPlacement placement) {
        Map<String, Long> m = bufferBytes(shape, cfg, batch, capacity);
        long streams = (long) batch * shape.kvHeads(), d = shape.headDim();
        if (placement.onHost()) { // the sink and local rows on the device: only the top-k cross the bus
            long rows = streams * (cfg.sink() + ringRows(cfg));
            m.put("winKeys", padded(2L * rows * d));
            m.put("winValues", padded(2L * rows * d));
        }
        if (placement != KvPlacement.STAGED) return m;
        long rows = padded(2L * 2 * streams * stagedSlots(cfg, capacity) * d);
        m.put("stagedPinned", rows);
        m.put("staged", rows);
        m.put("encodeScratch", padded(2L * streams * encodeSlice(cfg, batch, shape.kvHeads(), capacity) * d));
        return m;
    }

    /**
     * Rows of the device window's ring under MAPPED: the local window reaches local + interval - 1 rows before it
     * slides, so the next power of two at or above local + interval holds it (a power of two: the slot is a mask).
     */
    static int ringRows(ParisKvConfig cfg) {
        return Integer.highestOneBit(Math.max(1, cfg.local() + cfg.interval() - 1)) << 1;
    }

    /** Whether buffer {@code name} of {@link #bufferBytes} lives in host memory under {@code placement}. */
    public static boolean inHostMemory(String name, KvPlacement placement) {
        return placement.onHost() && KV_BUFFERS.contains(name) || name.equals("stagedPinned");
    }

    /** Device bytes one decoder allocates under {@code placement}. */
    public static long deviceBytes(ModelShape shape, ParisKvConfig cfg, int batch, int capacity, KvPlacement placement) {
        long n = 0;
        for (var e : bufferBytes(shape, cfg, batch, capacity, placement).entrySet()) {
            if (!inHostMemory(e.getKey(), placement)) n += e.getValue();
        }
        return n;
    }

    /** Host bytes one decoder allocates under {@code placement}: the K/V rows when on the host, the pinned staging rows. */
    public static long hostBytes(ModelShape shape, ParisKvConfig cfg, int batch, int capacity, KvPlacement placement) {
        long n = 0;
        for (var e : bufferBytes(shape, cfg, batch, capacity, placement).entrySet()) {
            if (inHostMemory(e.getKey(), placement)) n += e.getValue();
        }
        return n;
    }

    /**
     * Rows per stream of a staged step: the most a step attends. Sparse: sink + selected (at most KMAX) + local
     * window (at most local + interval - 1, the window slides by whole intervals); a sequence shorter than
     * {@link ParisKvConfig#denseBelow()} attends all its rows (below that threshold); never more than the capacity.
     */
    public static int stagedSlots(ParisKvConfig cfg, int capacity) {
        long sparse = (long) cfg.sink() + kmax(cfg) + cfg.local() + cfg.interval();
        return (int) Math.min(capacity, Math.max(sparse, cfg.denseBelow() - 1L));
    }

    /** Keys per stream one staged encodeKeys launch reads: about {@value #ENCODE_SCRATCH_ROWS} over all streams, at least one interval. */
    static int encodeSlice(ParisKvConfig cfg, int batch, int hkv, int capacity) {
        return Math.max(1, Math.min(capacity, Math.max(cfg.interval(), ENCODE_SCRATCH_ROWS / (batch * hkv))));
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

    /** Bytes of device memory this decoder holds (host-mapped K/V not included: see {@link #hostMappedBytes()}, {@link #hostBytes()}). */
    public long deviceBytes() {
        long n = 0;
        for (DeviceBuffer b : owned) if (!b.isHostMapped()) n += b.bytes();
        return n;
    }

    /**
     * Bytes of host memory the device maps at full capacity: the K/V rows when MAPPED (reserved; committed as the
     * context grows: {@link #hostKvCommittedBytes()}), the pinned staging rows when STAGED, else 0.
     */
    public long hostMappedBytes() {
        long n = 0;
        for (DeviceBuffer b : owned) if (b.isHostMapped()) n += b.bytes();
        return n + (offload ? kvStore.reservedBytes() : 0);
    }

    /** Bytes of host memory at full capacity: {@link #hostMappedBytes()} and, when staged, the K/V rows (reserved; committed as the context grows). */
    public long hostBytes() {
        return hostMappedBytes() + (staged ? kvStore.reservedBytes() : 0);
    }

    /** Bytes of the host K/V rows in use now: the segments committed so far (0 for DEVICE). */
    public long hostKvCommittedBytes() {
        return kvStore == null ? 0 : kvStore.committedBytes();
    }

    /** Host K/V segments in use (0 for DEVICE); each holds {@link #hostKvSegmentTokens()} tokens of every stream. */
    public int hostKvSegments() {
        return kvStore == null ? 0 : kvStore.segments();
    }

    /** Tokens per host K/V segment (0 for DEVICE). */
    public int hostKvSegmentTokens() {
        return kvStore == null ? 0 : kvStore.segmentTokens();
    }

    /** CUDA MAPPED: device registrations of the host K/V rows live now (one per committed (stream, segment) range of keys and of values); 0 elsewhere. */
    public int hostKvRegistrations() {
        return kvStore == null ? 0 : kvStore.registrations();
    }

    /** Whether K/V rows were placed in host memory (MAPPED or STAGED). */
    public boolean offload() {
        return placement.onHost();
    }

    public KvPlacement placement() {
        return placement;
    }

    /** The memory path the K/V rows took (device memory, CUDA registered host memory, OpenCL USE_HOST_PTR, staged host memory). */
    public MemoryKind kvMemory() {
        return staged ? MemoryKind.HOST_STAGED : keys.kind();
    }

    public int length(int seq) {
        return length[seq];
    }

    public int zoneEnd(int seq) {
        return zoneEnd[seq];
    }

    /** Per-task device time from now on (timed by device events read after each step; no CUDA graphs meanwhile). */
    public void profile(boolean on) {
        profiling = on;
        profile.clear();
        for (ExecutionPlan p : plans) p.withProfiler(on ? ProfilerMode.SILENT : ProfilerMode.OFF);
    }

    /** Summed device nanoseconds and launch counts per task since {@link #profile(boolean)}. */
    public Map<String, long[]> profileNanos() {
        Map<String, long[]> m = new LinkedHashMap<>();
        profile.forEach((k, v) -> m.put(k, v.clone()));
        return m;
    }

    /** Bulk prefill of sequence {@code seq}: rows {@code [tokens][Hkv][D]}; encodes all but the last {@code L}. */
    public void prefill(int seq, float[] k, float[] v, int tokens) {
        ensureOpen();
        if (seq < 0 || seq >= batch) throw new IllegalArgumentException("sequence " + seq + " out of range [0, " + batch + ")");
        if (tokens <= 0) throw new IllegalArgumentException("prefill of sequence " + seq + " needs at least one token, got " + tokens);
        String sh = "[" + tokens + " tokens][" + hkv + " kv heads][" + d + "]";
        InputCheck.length("keys", k, (long) tokens * hkv * d, sh);
        InputCheck.length("values", v, (long) tokens * hkv * d, sh);
        InputCheck.finite("keys", -1, k, 0, tokens, length[seq], hkv, d, "kv head");
        InputCheck.finite("values", -1, v, 0, tokens, length[seq], hkv, d, "kv head");
        if (length[seq] + tokens > capTok) throw new IllegalArgumentException("sequence " + seq + " would hold " + (length[seq] + tokens) + " tokens, capacity " + capTok);
        if (kvStore != null) kvStore.ensure(length[seq] + tokens); // refuses before anything changes
        MemorySegment hostK = staged ? hostKeys : keys.hostSegment(), hostV = staged ? hostValues : values.hostSegment();
        if (hostK != null && hostV != null) {
            // host-mapped (or staged host) rows: write them in place, no copy (after earlier kernels that may touch them)
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
            // bf16 rows of every head converted in parallel (up to PREFILL_PARALLEL_BYTES of them), then copied head by head
            long headBytes = 2L * tokens * d;
            int together = (int) Math.max(1, Math.min(hkv, PREFILL_PARALLEL_BYTES / (2 * headBytes)));
            try (Arena a = Arena.ofShared()) {
                MemorySegment rowsK = a.allocate(headBytes * together, 64), rowsV = a.allocate(headBytes * together, 64);
                for (int h0 = 0; h0 < hkv; h0 += together) {
                    int first = h0, n = Math.min(together, hkv - h0);
                    java.util.stream.IntStream range = java.util.stream.IntStream.range(0, n);
                    (n > 1 ? range.parallel() : range).forEach(i -> {
                        writeRows(rowsK, headBytes * i, k, first + i, 0, tokens);
                        writeRows(rowsV, headBytes * i, v, first + i, 0, tokens);
                    });
                    for (int i = 0; i < n; i++) {
                        long off = 2L * (((long) seq * hkv + first + i) * capTok + length[seq]) * d;
                        backend.copyIn(keys, off, rowsK.asSlice(headBytes * i, headBytes));
                        backend.copyIn(values, off, rowsV.asSlice(headBytes * i, headBytes));
                    }
                }
            }
        }
        writeWindow(seq, k, v, length[seq], tokens);
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

    /**
     * MAPPED: the prefilled rows the device window holds, uploaded there (the kernels read sink and local rows from the
     * device): tokens below the sink count to their sink rows, and the last {@link #ringRows} tokens of the sequence
     * to their ring rows ({@code window_slot}).
     */
    private void writeWindow(int seq, float[] k, float[] v, int base, int tokens) {
        int sink = ringBase.get(), r = ring.get(), end = base + tokens;
        if (r == 0) return;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment rowsK = a.allocate(2L * Math.max(sink, r) * d, 64), rowsV = a.allocate(2L * Math.max(sink, r) * d, 64);
            for (int h = 0; h < hkv; h++) {
                long first = (long) (seq * hkv + h) * (sink + r); // the stream's first window row
                for (int from = base, to = Math.min(end, sink); from < to; from = to) {
                    windowRows(rowsK, rowsV, k, v, h, from - base, to - from, first + from);
                }
                for (int from = Math.max(Math.max(base, end - r), sink); from < end; ) {
                    int slot = from & (r - 1), run = Math.min(end - from, r - slot);
                    windowRows(rowsK, rowsV, k, v, h, from - base, run, first + sink + slot);
                    from += run;
                }
            }
        }
    }

    private void windowRows(MemorySegment rowsK, MemorySegment rowsV, float[] k, float[] v, int h, int first, int count, long row) {
        writeRows(rowsK, 0, k, h, first, count);
        writeRows(rowsV, 0, v, h, first, count);
        backend.copyIn(winKeys, 2L * row * d, rowsK.asSlice(0, 2L * count * d));
        backend.copyIn(winValues, 2L * row * d, rowsV.asSlice(0, 2L * count * d));
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
        if (staged) {
            encodeStaged(from, count);
            return;
        }
        fillPlan(false);
        planEncode(from, count);
        MemorySegment.copy(planHost, 0, planSeg, ValueLayout.JAVA_INT, 0, planHost.length);
        countUpload(H_PLAN, planSeg.byteSize());
        stepEncodeRows = max;
        run(encodeStep);
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

    /**
     * One decode step for every sequence of the batch: append each sequence's new token ({@code k, v}:
     * {@code [batch][Hkv][D]}), then attend with {@code q} ({@code [batch][Hq][D]}) into {@code out}.
     * The step's inputs go up in four enqueued copies from page-locked staging, then every kernel is enqueued;
     * the host waits once, for the output.
     *
     * @param dense true for exact full attention over every token (the baseline), false for ParisKV
     */
    public void decode(float[] q, float[] k, float[] v, float[] out, boolean dense) {
        ensureOpen();
        int hq = shape.queryHeads();
        String bs = "[" + batch + " sequences]";
        InputCheck.length("queries", q, (long) batch * hq * d, bs + "[" + hq + " query heads][" + d + "]");
        InputCheck.length("keys", k, (long) batch * hkv * d, bs + "[" + hkv + " kv heads][" + d + "]");
        InputCheck.length("values", v, (long) batch * hkv * d, bs + "[" + hkv + " kv heads][" + d + "]");
        InputCheck.length("out", out, (long) batch * hq * d, bs + "[" + hq + " query heads][" + d + "]");
        for (int b = 0; b < batch; b++) { // before anything is stored or enqueued: a rejected step changes nothing
            InputCheck.finite("keys", -1, k, b * hkv * d, 1, length[b], hkv, d, "kv head");
            InputCheck.finite("values", -1, v, b * hkv * d, 1, length[b], hkv, d, "kv head");
            InputCheck.finite("queries", -1, q, b * hq * d, 1, length[b], hq, d, "query head");
        }
        beginStep(dense);
        int longest = checkCapacity();
        if (kvStore != null) kvStore.ensure(longest); // refuses before anything changes
        for (int s = 0; s < streams; s++) {
            int b = s / hkv, h = s % hkv;
            int src = (b * hkv + h) * d;
            for (int i = 0; i < d; i++) {
                newKeySeg.setAtIndex(ValueLayout.JAVA_SHORT, (long) s * d + i, Bf16.fromFloat(k[src + i]));
                newValueSeg.setAtIndex(ValueLayout.JAVA_SHORT, (long) s * d + i, Bf16.fromFloat(v[src + i]));
            }
        }
        MemorySegment.copy(q, 0, querySeg, ValueLayout.JAVA_FLOAT, 0, batch * shape.queryHeads() * d);
        Backend.Mark start = timeSteps ? backend.mark() : null;
        enqueueStep(dense, false);
        Backend.Mark end = timeSteps ? backend.mark() : null;
        backend.copyOut(outSeg, this.out); // the step's one wait
        if (start != null) {
            try (start; end) {
                lastStepDeviceNanos = start.nanosTo(end);
            }
        }
        MemorySegment.copy(outSeg, ValueLayout.JAVA_FLOAT, 0, out, 0, batch * shape.queryHeads() * d);
    }

    /**
     * Binds device-resident step inputs for {@link #decodeBound}: {@code q} ({@code [batch][Hq][D]} f32), {@code k}
     * and {@code v} ({@code [batch][Hkv][D]} f32), on this decoder's backend, e.g. a model's projections. They are
     * bound by address: what they hold when a bound step runs is what it reads. {@code flags[flag]} (an int) receives
     * the step's non-finite-input record ({@link StepInputKernels#importStep}); the caller zeroes it. Not with staged
     * K/V (there the host appends each new row itself, so it needs them on the host: use {@link #decode}).
     */
    public void bindInputs(DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer flags, int flag) {
        ensureOpen();
        if (staged) throw new IllegalStateException("device-resident step inputs need K/V rows on the device or host-mapped (--kv device|mapped); staged K/V rows are appended by the host, so use decode(float[]...)");
        if (boundStep != null) throw new IllegalStateException("this decoder's step inputs are bound already");
        int nq = batch * shape.queryHeads() * d, nkv = batch * hkv * d;
        requireBytes("q", q, 4L * nq);
        requireBytes("k", k, 4L * nkv);
        requireBytes("v", v, 4L * nkv);
        requireBytes("flags", flags, 4L * (flag + 1L));
        if (flag < 0) throw new IllegalArgumentException("flag index " + flag + " is negative");
        TaskGraph t = graph("decodeBound").upload(planSeg, plan); // the plan rows are all the host sends
        t.source(StepInputKernels.class).task("importStep", Grid.linear(Math.max(nq, nkv), 128), q, k, v, queries, newKeys, newValues,
                flags, flag, nq, nkv);
        boundStep = executionPlan(stepTasks(t), false);
    }

    /**
     * One decode step of every sequence from the bound inputs ({@link #bindInputs}): enqueued, not waited for. The
     * attention output ({@code [batch][Hq][D]} f32) is in {@link #output()} once the queue reaches it. Inputs are
     * checked on the device only (non-finite values land in the bound flag; the step has then stored them).
     */
    public void decodeBound(boolean dense) {
        ensureOpen();
        if (boundStep == null) throw new IllegalStateException("decodeBound needs bindInputs first");
        beginStep(dense);
        int longest = checkCapacity();
        if (kvStore != null) kvStore.ensure(longest);
        enqueueStep(dense, true);
    }

    /** The device buffer of a step's attention output, {@code [batch][Hq][D]} f32. */
    public DeviceBuffer output() {
        return out;
    }

    private static void requireBytes(String name, DeviceBuffer b, long bytes) {
        if (b == null) throw new IllegalArgumentException(name + " is null");
        if (b.bytes() < bytes) throw new IllegalArgumentException(name + " holds " + b.bytes() + " bytes; the step reads " + bytes);
    }

    /** Refuses a step that would overfill a sequence (before anything changes); the longest length after it. */
    private int checkCapacity() {
        int longest = 0;
        for (int b = 0; b < batch; b++) {
            if (length[b] + 1 > capTok) throw new IllegalArgumentException("sequence " + b + " is full (" + capTok + " tokens)");
            longest = Math.max(longest, length[b] + 1);
        }
        return longest;
    }

    /** The step after its inputs are staged (host rows in the staging, or bound device buffers): lengths, plan, launches. */
    private void enqueueStep(boolean dense, boolean bound) {
        for (int b = 0; b < batch; b++) length[b]++;
        if (staged) appendHost(); // K/V rows live only in host memory: no upload, no kernel
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
        if (staged) {
            if (maxEncode > 0) encodeStaged(from, count);
            fillPlan(dense);
            MemorySegment.copy(planHost, 0, planSeg, ValueLayout.JAVA_INT, 0, planHost.length);
            shapeStep(0);
            countUpload(H_NEW, newKeySeg.byteSize() + newValueSeg.byteSize()); // for the device window
            countUpload(H_PLAN, planSeg.byteSize());
            countUpload(H_QUERIES, querySeg.byteSize());
            countUpload(H_PADDING, stepInSeg.byteSize() - newKeySeg.byteSize() - newValueSeg.byteSize() - planSeg.byteSize() - querySeg.byteSize());
            run(retrieveStaged); // retrieval tasks skip themselves in an all-dense step
            attendStaged(); // gather the selected rows on the host, one copy, sparseAttentionStaged, combine
        } else {
            // one plan serves the whole step: appendTokens reads the length, encodeKeys its fields, the rest the zone
            fillPlan(dense);
            planEncode(from, count);
            MemorySegment.copy(planHost, 0, planSeg, ValueLayout.JAVA_INT, 0, planHost.length);
            shapeStep(maxEncode);
            countUpload(H_PLAN, planSeg.byteSize());
            if (!bound) {
                countUpload(H_NEW, newKeySeg.byteSize() + newValueSeg.byteSize());
                countUpload(H_QUERIES, querySeg.byteSize());
                countUpload(H_PADDING, stepInSeg.byteSize() - newKeySeg.byteSize() - newValueSeg.byteSize() - planSeg.byteSize() - querySeg.byteSize());
            }
            endStepUploads();
            run(bound ? boundStep : decodeStep); // uploads, append, encode, retrieval, attention: enqueued
        }
    }

    /**
     * From now on, time each step on the device: from the queue mark before its first upload to the one after its
     * last kernel ({@link Backend#mark()}), which leaves out the host's wait for the output. Costs two marks a step.
     */
    public void timeSteps(boolean on) {
        timeSteps = on;
        lastStepDeviceNanos = -1;
    }

    /** Device time of the last step when {@link #timeSteps timed}, else -1. */
    public long lastStepDeviceNanos() {
        return lastStepDeviceNanos;
    }

    /** Sets the step's shape from the plan rows: what the graphs' grid suppliers, parameters and conditions read. */
    private void shapeStep(int encodeRows) {
        int maxN = 0, maxCand = 0, maxAttended = 0;
        boolean anySparse = false;
        for (int s = 0; s < streams; s++) {
            int o = s * PLAN;
            if (planHost[o + P_DENSE] == 0) {
                anySparse = true;
                maxN = Math.max(maxN, planHost[o + P_N]);
                maxCand = Math.max(maxCand, planHost[o + P_CAND]);
                maxAttended = Math.max(maxAttended, planHost[o + P_SINK_END] + planHost[o + P_K] + planHost[o + P_LEN] - planHost[o + P_ZONE_END]);
            } else {
                maxAttended = Math.max(maxAttended, planHost[o + P_LEN]);
            }
        }
        stepEncodeRows = encodeRows;
        stepSparse = anySparse;
        stepMaxN = Math.max(1, maxN);
        stepMaxCand = Math.max(1, maxCand);
        int slices = (stepMaxCand + TOPK_SLICE - 1) / TOPK_SLICE;
        stepSliced = slices > 1 && maxCand > topKSliceAbove;
        slicesParam.set(slices);
        slicedCandidates.set(slices * Math.min(cfg.topk(), TOPK_SLICE));
        // small chunks spread a sparse step's ~700 tokens over many work-groups; long dense contexts use big ones
        int chunk = maxAttended <= 16 * ATT_CHUNK ? SPARSE_CHUNK : !anySparse && denseKernel ? DENSE_CHUNK : ATT_CHUNK;
        chunkParam.set(chunk);
        stepChunks = Math.max(1, (maxAttended + chunk - 1) / chunk);
    }

    // ---- the step as task graphs --------------------------------------------------------------------------

    /** A task graph over this decoder's program: {@code pariskv.c} with its defines. */
    private TaskGraph graph(String name) {
        TaskGraph t = new TaskGraph(name).source("pariskv.c");
        defines.forEach(t::define);
        return t;
    }

    /** An execution plan of {@code g} on this decoder's backend, CUDA graphs as the options say. */
    private ExecutionPlan executionPlan(TaskGraph g, boolean waitAtEnd) {
        ExecutionPlan p = new ExecutionPlan(g.snapshot()).withBackend(backend).withProfiler(ProfilerMode.OFF)
                .withCudaGraph(cudaGraphs && !DEBUG).withDependentLaunch(dependentLaunch && !DEBUG).withWait(waitAtEnd);
        if (DEBUG) p.withLaunchListener(debugListener());
        plans.add(p);
        return p;
    }

    /** Runs one plan, adding its per-task device times to the profile when profiling. */
    private void run(ExecutionPlan p) {
        ExecutionResult r = p.execute();
        if (!profiling) return;
        for (TaskProfile t : r.tasks()) {
            long[] acc = profile.computeIfAbsent(t.task(), k -> new long[2]);
            acc[0] += t.kernelNanos();
            acc[1]++;
        }
    }

    /** appendTokens: the step's new rows into the K/V rows ({@code rowsTok} tokens a stream; 0: none) and the window. */
    private TaskGraph appendTask(TaskGraph t, DeviceBuffer keyRows, DeviceBuffer valueRows, int rowsTok) {
        if (javaKernels) {
            return t.source(DecodeKernels.class).task("appendTokens", () -> Grid.groups(streams, Math.min(d, 256)), newKeys, newValues, plan,
                    keyRows, valueRows, winKeys, winValues, rowsTok, ringBase, ring, d);
        }
        return t.source("pariskv.c").task("appendTokens", a -> twins.appendTokens(a.segment(0), a.segment(1), a.segment(2), a.segment(3), a.segment(4),
                        a.segment(5), a.segment(6), a.intValue(7), a.intValue(8), a.intValue(9)),
                () -> Grid.groups(streams, Math.min(d, 256)), newKeys, newValues, plan, keyRows, valueRows, winKeys, winValues, rowsTok,
                ringBase, ring);
    }

    private ExecutionPlan decodeGraph() {
        return executionPlan(stepTasks(graph("decode").upload(stepInSeg, stepIn)), false); // inputs in one copy
    }

    /** A device-K/V step after its inputs are in place: append, encode, retrieval, attention, combine. */
    private TaskGraph stepTasks(TaskGraph t) {
        appendTask(t, keys, values, capTok);
        encodeTask(t, keys, capTok).onlyIf(() -> stepEncodeRows > 0);
        retrievalTasks(t);
        java.util.function.Supplier<Grid> attGrid = () -> new Grid(new long[] {(long) stepChunks * ATT_THREADS, streams}, new long[] {ATT_THREADS, 1});
        if (javaKernels) {
            t.source(AttentionKernels.class).task("sparseAttention", attGrid, queries, keys, values, winKeys, winValues, plan, selected,
                    selCount, pmax, psum, pacc, capTok, maxChunks, chunkParam, ringBase, ring, keys, winKeys, d, g, hkv, kmax,
                    placement.onHost(), rotScale).onlyIf(() -> stepSparse || !denseKernel);
        } else {
            t.source("pariskv.c").task("sparseAttention", a -> twins.sparseAttention(a.segment(0), a.segment(1), a.segment(2), a.segment(3), a.segment(4),
                            a.segment(5), a.segment(6), a.segment(7), a.segment(8), a.segment(9), a.segment(10), a.intValue(11),
                            a.intValue(12), a.intValue(13), a.intValue(14), a.intValue(15)),
                    attGrid, queries, keys, values, winKeys, winValues, plan, selected, selCount, pmax, psum, pacc, capTok, maxChunks, chunkParam,
                    ringBase, ring).onlyIf(() -> stepSparse || !denseKernel);
        }
        if (denseKernel) { // an all-dense step (full attention, or every sequence short): a kernel shaped for bandwidth
            t.source(AttentionKernels.class).task(DENSE.equals("rows") ? "denseAttentionRows" : "denseAttention", attGrid, queries, keys, values, plan,
                    pmax, psum, pacc, capTok, maxChunks, chunkParam, d, g, hkv, rotScale).onlyIf(() -> !stepSparse);
        }
        combine(t);
        return t;
    }

    /** encodeKeys of the step's rows ({@code stepEncodeRows} a stream) from {@code rows} ({@code rowStride} tokens a stream). */
    private TaskGraph encodeTask(TaskGraph t, DeviceBuffer rows, int rowStride) {
        int threads = Math.min(d, 256);
        java.util.function.Supplier<Grid> grid = () -> new Grid(new long[] {(long) stepEncodeRows * threads, streams}, new long[] {threads, 1});
        if (javaKernels) {
            return t.source(DecodeKernels.class).task("encodeKeys", grid, rows, rot, center, plan, codes, nibbles, weights, counts,
                    capTok, rowStride, d, hadamard, rotScale);
        }
        return t.source("pariskv.c").task("encodeKeys", a -> twins.encodeKeys(a.segment(0), a.segment(1), a.segment(2), a.segment(3), a.segment(4),
                        a.segment(5), a.segment(6), a.segment(7), a.intValue(8), a.intValue(9)),
                grid, rows, rot, center, plan, codes, nibbles, weights, counts, capTok, rowStride);
    }

    /** The retrieval tasks, from the rotated query to the selection; none runs in an all-dense step. */
    private void retrievalTasks(TaskGraph t) {
        int sq = streams * nq;
        int topThreads = gpu ? 1024 : 256; // a power of two in 32..1024 (est_boundary's bucket rows)
        int kFull = Math.min(cfg.topk(), TOPK_SLICE);
        java.util.function.BooleanSupplier sparse = () -> stepSparse;
        java.util.function.Supplier<Grid> prepareGrid = () -> new Grid(new long[] {(long) sq * 256, blocks}, new long[] {256, 1});
        java.util.function.Supplier<Grid> scoreGrid = () -> new Grid(new long[] {(long) ((stepMaxN + CS_TILE - 1) / CS_TILE) * CS_THREADS, streams},
                new long[] {CS_THREADS, 1});
        java.util.function.Supplier<Grid> selectGrid = () -> new Grid(new long[] {(long) ((stepMaxN + SEL_TILE - 1) / SEL_TILE) * 256, sq},
                new long[] {256, 1});
        java.util.function.Supplier<Grid> rerankGrid = () -> new Grid(new long[] {roundUp(stepMaxCand, 256), sq}, new long[] {256, 1});
        if (javaKernels) {
            t.source(DecodeKernels.class)
             .task("prepareQuery", prepareGrid, queries, rot, plan, counts, qhat, qnorm, tierTable, hist, tileHist, estHist, tiles, d, g, hkv,
                     nq, hadamard, rotScale).onlyIf(sparse)
             .task("collisionScores", scoreGrid, codes, codes, tierTable, plan, scores, hist, tileHist, capTok, tiles, blocks, nq).onlyIf(sparse)
             .task("candidateSelect", selectGrid, scores, hist, plan, tileHist, cand, candCount, capTok, tiles, d, nq).onlyIf(sparse)
             .task("rerank", rerankGrid, nibbles, weights, weights, qhat, qnorm, cand, candCount, est, estHist, capTok, d, nq).onlyIf(sparse);
        } else {
        t.source("pariskv.c").task("prepareQuery", a -> twins.prepareQuery(a.segment(0), a.segment(1), a.segment(2), a.segment(3), a.segment(4),
                        a.segment(5), a.segment(6), a.segment(7), a.segment(8), a.segment(9), a.intValue(10)),
                prepareGrid, queries, rot, plan, counts, qhat, qnorm, tierTable, hist, tileHist, estHist, tiles).onlyIf(sparse)
         .task("collisionScores", a -> twins.collisionScores(a.segment(0), a.segment(1), a.segment(2), a.segment(3), a.segment(4),
                        a.segment(5), a.intValue(6), a.intValue(7)),
                scoreGrid, codes, tierTable, plan, scores, hist, tileHist, capTok, tiles).onlyIf(sparse)
         .task("candidateSelect", a -> twins.candidateSelect(a.segment(0), a.segment(1), a.segment(2), a.segment(3), a.segment(4),
                        a.segment(5), a.intValue(6), a.intValue(7)),
                selectGrid, scores, hist, plan, tileHist, cand, candCount, capTok, tiles).onlyIf(sparse)
         .task("rerank", a -> twins.rerank(a.segment(0), a.segment(1), a.segment(2), a.segment(3), a.segment(4), a.segment(5),
                        a.segment(6), a.segment(7), a.intValue(8)),
                rerankGrid, nibbles, weights, qhat, qnorm, cand, candCount, est, estHist, capTok).onlyIf(sparse);
        }
        if (javaKernels) {
            t.source(TopKKernels.class)
             .task("topK", () -> Grid.groups(sq, topThreads), est, cand, candCount, estHist, plan, ranked, rankedCount, selected, selCount,
                     capTok, 0, nq, kmax).onlyIf(() -> stepSparse && !stepSliced)
             // long lists: per-slice bests in parallel, then the best of those
             .task("topKSlice", () -> new Grid(new long[] {(long) slicesParam.get() * topThreads, sq}, new long[] {topThreads, 1}),
                     est, cand, candCount, plan, partEst, partTok, partCount, capTok, slicesParam, kFull, nq).onlyIf(() -> stepSparse && stepSliced)
             .task("topK", () -> Grid.groups(sq, topThreads), partEst, partTok, partCount, estHist, plan, ranked, rankedCount, selected,
                     selCount, slicedCandidates, slicesParam, nq, kmax).onlyIf(() -> stepSparse && stepSliced);
        } else {
        t.source("pariskv.c")
             .task("topK", a -> twins.topK(a.segment(0), a.segment(1), a.segment(2), a.segment(3), a.segment(4), a.segment(5),
                            a.segment(6), a.segment(7), a.segment(8), a.intValue(9), a.intValue(10)),
                    () -> Grid.groups(sq, topThreads),
                    est, cand, candCount, estHist, plan, ranked, rankedCount, selected, selCount, capTok, 0).onlyIf(() -> stepSparse && !stepSliced)
             // long lists: per-slice bests in parallel, then the best of those
             .task("topKSlice", a -> twins.topKSlice(a.segment(0), a.segment(1), a.segment(2), a.segment(3), a.segment(4), a.segment(5),
                            a.segment(6), a.intValue(7), a.intValue(8), a.intValue(9)),
                    () -> new Grid(new long[] {(long) slicesParam.get() * topThreads, sq}, new long[] {topThreads, 1}),
                    est, cand, candCount, plan, partEst, partTok, partCount, capTok, slicesParam, kFull).onlyIf(() -> stepSparse && stepSliced)
             .task("topK", a -> twins.topK(a.segment(0), a.segment(1), a.segment(2), a.segment(3), a.segment(4), a.segment(5),
                            a.segment(6), a.segment(7), a.segment(8), a.intValue(9), a.intValue(10)),
                    () -> Grid.groups(sq, topThreads),
                    partEst, partTok, partCount, estHist, plan, ranked, rankedCount, selected, selCount, slicedCandidates, slicesParam)
                    .onlyIf(() -> stepSparse && stepSliced);
        }
        // GQA mean: topK already wrote the selection (one list per stream)
        if (nq > 1 && javaKernels) {
            t.source(DecodeKernels.class).task("mergeSelection", () -> Grid.groups(streams, 256), ranked, rankedCount, plan, selected, selCount,
                    kmax, nq).onlyIf(sparse);
        } else if (nq > 1) {
            t.source("pariskv.c").task("mergeSelection", a -> twins.mergeSelection(a.segment(0), a.segment(1), a.segment(2), a.segment(3), a.segment(4)),
                    () -> Grid.groups(streams, 256), ranked, rankedCount, plan, selected, selCount).onlyIf(sparse);
        }
    }

    /** attentionCombine: the partials of every chunk into the output rows. */
    private void combine(TaskGraph t) {
        if (javaKernels) {
            t.source(DecodeKernels.class).task("attentionCombine", () -> Grid.groups((long) streams * g, DecodeLayout.COMBINE_THREADS), plan,
                    selCount, pmax, psum, pacc, out, maxChunks, chunkParam, d, g);
            return;
        }
        t.source("pariskv.c").task("attentionCombine", a -> twins.attentionCombine(a.segment(0), a.segment(1), a.segment(2), a.segment(3), a.segment(4),
                        a.segment(5), a.intValue(6), a.intValue(7)),
                () -> Grid.groups((long) streams * g, DecodeLayout.COMBINE_THREADS), plan, selCount, pmax, psum, pacc, out, maxChunks, chunkParam);
    }

    /** encodeKeys alone after a plan upload (prefill; staged slices from the scratch rows), waiting at the end. */
    private ExecutionPlan encodeGraph(DeviceBuffer rows, int rowStride) {
        TaskGraph t = encodeTask(graph(rows == keys ? "encode" : "encodeStaged").upload(planSeg, plan), rows, rowStride);
        return executionPlan(t, true); // the next use of the plan staging rewrites it
    }

    /**
     * STAGED: the step's inputs in one copy, the new rows into the device window only (capTok 0: the host appends the
     * K/V rows; stagedRows stands in for them, untouched), then retrieval (the host reads the selection back afterwards).
     */
    private ExecutionPlan retrieveStagedGraph() {
        TaskGraph t = appendTask(graph("retrieveStaged").upload(stepInSeg, stepIn), stagedRows, stagedRows, 0);
        retrievalTasks(t);
        return executionPlan(t, false);
    }

    /** STAGED: attention over the staged rows (uploaded just before), combine, read-back. */
    private ExecutionPlan attendStagedGraph() {
        TaskGraph t = graph("attendStaged");
        java.util.function.Supplier<Grid> attGrid = () -> new Grid(new long[] {(long) stepChunks * ATT_THREADS, streams}, new long[] {ATT_THREADS, 1});
        if (javaKernels) {
            t.source(AttentionKernels.class).task("sparseAttentionStaged", attGrid, queries, stagedRows, winKeys, winValues, plan, selected,
                    selCount, pmax, psum, pacc, maxChunks, chunkParam, ringBase, ring, stagedRows, winKeys, d, g, hkv, kmax,
                    placement.onHost(), rotScale);
        } else {
            t.task("sparseAttentionStaged", a -> twins.sparseAttentionStaged(a.segment(0), a.segment(1), a.segment(2), a.segment(3),
                            a.segment(4), a.segment(5), a.segment(6), a.segment(7), a.segment(8), a.segment(9), a.intValue(10),
                            a.intValue(11), a.intValue(12), a.intValue(13)),
                    attGrid, queries, stagedRows, winKeys, winValues, plan, selected, selCount, pmax, psum, pacc, maxChunks, chunkParam,
                    ringBase, ring);
        }
        combine(t);
        return executionPlan(t, false);
    }

    /** {@code -Dpariskv.debugLaunches}: waits for every launch and logs it, so a failing kernel names itself. */
    private ExecutionPlan.LaunchListener debugListener() {
        return new ExecutionPlan.LaunchListener() {
            @Override
            public void before(String task, Grid grid, List<KernelArg> args) {
            }

            @Override
            public void after(String task, Grid grid, List<KernelArg> args) {
                backend.finish();
                System.err.println("pariskv: " + task + " " + grid + " done");
            }
        };
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

    private static long roundUp(long n, int m) {
        return (n + m - 1) / m * m;
    }

    /** Sees every launch just before it is enqueued and just after (equivalence tests of {@link DecodeTwins}). */
    interface LaunchObserver extends ExecutionPlan.LaunchListener {
    }

    /** Reports every following launch to {@code o} (null: none); launches are then not replayed from CUDA graphs. */
    void observeLaunches(LaunchObserver o) {
        for (ExecutionPlan p : plans) p.withLaunchListener(o != null ? o : DEBUG ? debugListener() : null);
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
        if (staged) {
            MemorySegment m = (keysNotValues ? hostKeys : hostValues).asSlice(2L * ((long) stream * capTok + from) * d, 2L * n * d);
            float[] out = new float[n * d];
            for (int i = 0; i < out.length; i++) out[i] = Bf16.toFloat(m.getAtIndex(ValueLayout.JAVA_SHORT, i));
            return out;
        }
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

    /** The Java kernel classes the decoder runs under {@code -Dpariskv.kernels=java} (StepInputKernels always). */
    public static List<Class<?>> kernelClasses() {
        return List.of(DecodeKernels.class, TopKKernels.class, AttentionKernels.class, StepInputKernels.class);
    }

    /** The compiled program of pariskv.c (for {@code --print-kernel}); null under {@code -Dpariskv.kernels=java}. */
    public Program program() {
        return program;
    }

    private boolean closed;

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("this DeviceDecoder is closed: its device buffers are freed");
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        backend.finish(); // nothing enqueued may still read the staging memory
        for (ExecutionPlan p : plans) p.close(); // their CUDA graphs; the buffers are this decoder's
        plans.clear();
        releaseStaged();
        for (DeviceBuffer b : owned) b.close();
        for (DeviceBuffer b : views) b.close();
        views.clear();
        owned.clear();
        try {
            if (kvStore != null) kvStore.close(); // unregisters, unmaps
        } finally {
            stagingPin.close();
            if (arena.scope().isAlive()) arena.close();
        }
    }

    // ---- KvPlacement.STAGED ---------------------------------------------------------------------------------

    /** The host views of the K/V rows ([stream][capTok][D] bf16, in {@code store}) and of the pinned staging rows. */
    private void mapStaging(HostKvStore store) {
        stagedHost = stagedPinned.hostSegment(); // CUDA: page-locked host memory
        if (stagedHost == null) {
            if (!(backend instanceof OpenClBackend ocl)) throw new IllegalStateException("no host view of the staging buffer on " + backend.device().spec());
            stagedMapping = ocl.map(stagedPinned); // CL_MEM_ALLOC_HOST_PTR mapped once: pinned memory, the fast source of copies
            stagedHost = stagedMapping;
        }
        hostKeys = store.keysHost(); // reserved address space, committed segment by segment; the gather reads it from several threads
        hostValues = store.valuesHost();
    }

    /** Unmaps the staging buffer (idempotent; also after a failed construction); the host K/V rows go with {@link #kvStore}. */
    private void releaseStaged() {
        if (stagedMapping != null) {
            ((OpenClBackend) backend).unmap(stagedPinned, stagedMapping);
            stagedMapping = null;
        }
        stagedHost = null;
        hostKeys = hostValues = null;
    }

    /** Says once per process and device which path host K/V rows take (and warns where MAPPED is no real offload). */
    private void sayKvPath() {
        String spec = backend.device().spec();
        String platform = backend.device().platform() == null ? "" : backend.device().platform();
        boolean nvidiaOpenCl = backend.device().backend() == BackendKind.OPENCL
                && platform.toUpperCase(java.util.Locale.ROOT).contains("NVIDIA");
        if (staged && SAID.add("staged " + spec)) {
            System.err.println("pariskv: K/V rows in host memory, staged: gathered on the host and copied once per step ("
                    + spec + (nvidiaOpenCl ? "; OpenCL does not read host buffers in place on NVIDIA" : "") + ")");
        }
        if (offload && SAID.add("mapped " + spec)) {
            System.err.println("pariskv: K/V rows in host memory the device reads in place: " + keys.kind().description() + " (" + spec + ")");
            if (nvidiaOpenCl) {
                System.err.println("pariskv: warning: NVIDIA's OpenCL keeps a device copy of host-pointer buffers (CL_MEM_ALLOC_HOST_PTR measured on an H100,"
                        + " profiles/results/2026-11-22-h100-offload; the CL_MEM_USE_HOST_PTR buffer used now is expected to behave the same):"
                        + " mapped K/V is no real offload there; use --kv staged");
            }
        }
    }

    /** Starts a step's byte count; refuses full attention over staged K/V before anything changes. */
    private void beginStep(boolean dense) {
        if (dense && staged) throw new IllegalArgumentException(DENSE_STAGED_REFUSAL);
        System.arraycopy(h2dTotal, 0, h2dStepStart, 0, h2dTotal.length);
        lastAttendedRows = -1;
        attendPlan = null;
    }

    /** Ends a step's byte count (the attention's inputs are all uploaded) and keeps its plan for {@link #attendedRowBytes()}. */
    private void endStepUploads() {
        for (int i = 0; i < h2dTotal.length; i++) h2dLast[i] = h2dTotal[i] - h2dStepStart[i];
        attendPlan = planHost.clone();
    }

    /** Counts an upload a graph makes from the pinned step staging. */
    private void countUpload(int category, long bytes) {
        h2dTotal[category] += bytes;
    }

    private void upload(DeviceBuffer dst, long offset, MemorySegment src, int category) {
        backend.copyIn(dst, offset, src);
        h2dTotal[category] += src.byteSize();
    }

    private void profileHost(String task, long ns) {
        long[] acc = profile.computeIfAbsent(task, k -> new long[2]);
        acc[0] += ns;
        acc[1]++;
    }

    /** STAGED append: the step's rows (bf16 in newKeySeg / newValueSeg) become token length - 1 of every stream. */
    private void appendHost() {
        for (int s = 0; s < streams; s++) {
            long dst = 2L * ((long) s * capTok + length[s / hkv] - 1) * d;
            MemorySegment.copy(newKeySeg, 2L * s * d, hostKeys, dst, 2L * d);
            MemorySegment.copy(newValueSeg, 2L * s * d, hostValues, dst, 2L * d);
        }
    }

    /**
     * STAGED encodeKeys: the keys are on the host only, so each launch first uploads at most {@link #encSlice} of
     * them per stream into the device scratch (stream s at rows [s·encSlice, ...)). encodeKeys runs unchanged: the
     * plan row's zone start becomes minus the slice's first zone index, so the kernel's token (zone start + zone
     * index) is the scratch row, and its row stride is encSlice; codes, nibbles, weights and counts are addressed
     * by zone index as always.
     */
    private void encodeStaged(int[] from, int[] count) {
        int[] done = new int[batch];
        while (true) {
            fillPlan(false);
            int max = 0;
            for (int b = 0; b < batch; b++) {
                int n = Math.min(encSlice, count[b] - done[b]), first = from[b] + done[b];
                max = Math.max(max, n);
                for (int h = 0; h < hkv; h++) {
                    int s = b * hkv + h, o = s * PLAN;
                    if (n > 0) {
                        long src = 2L * ((long) s * capTok + planHost[o + P_ZONE_START] + first) * d;
                        upload(encodeScratch, 2L * s * encSlice * d, hostKeys.asSlice(src, 2L * n * d), H_ENCODE);
                    }
                    planHost[o + P_ENC_FROM] = first;
                    planHost[o + P_ENC_COUNT] = n;
                    planHost[o + P_ZONE_START] = -first;
                }
            }
            if (max == 0) return;
            MemorySegment.copy(planHost, 0, planSeg, ValueLayout.JAVA_INT, 0, planHost.length);
            countUpload(H_PLAN, planSeg.byteSize());
            stepEncodeRows = max;
            run(encodeStagedStep);
            for (int b = 0; b < batch; b++) done[b] += Math.min(encSlice, count[b] - done[b]);
        }
    }

    /**
     * STAGED attention: reads back the merged selection, gathers every stream's selected rows (its sink and local rows
     * are in the device window; all rows of a stream below the dense threshold) from host memory into the pinned staging rows
     * (stream after stream: its keys, then its values), copies them to the device in one copy and launches
     * sparseAttentionStaged. Profiled as "gatherRows" (read-back and gather) and "stagingCopy".
     */
    private void attendStaged() {
        long t0 = System.nanoTime();
        boolean anySparse = false;
        for (int s = 0; s < streams; s++) anySparse |= planHost[s * PLAN + P_DENSE] == 0;
        int[] sel = null;
        if (anySparse) {
            System.arraycopy(readInts(selCount, 0, streams), 0, selCountHost, 0, streams);
            sel = readInts(selected, 0, streams * kmax);
        }
        long[] base = new long[streams];
        int[] n = new int[streams];
        long rows = 0; // K rows; the buffer holds as many V rows
        for (int s = 0; s < streams; s++) {
            int o = s * PLAN;
            // staged_count: the top-k rows of a sparse stream (its sink and local rows are in the device window)
            n[s] = planHost[o + P_DENSE] != 0 ? planHost[o + P_LEN] : selCountHost[s];
            if (n[s] > slots) throw new IllegalStateException("stream " + s + " attends " + n[s] + " rows, the staging holds " + slots);
            base[s] = 2 * rows;
            rows += n[s];
        }
        int[] selF = sel;
        java.util.stream.IntStream range = java.util.stream.IntStream.range(0, streams);
        if (rows > PARALLEL_GATHER_ROWS) range = range.parallel();
        range.forEach(s -> gatherStream(s, base[s], n[s], selF));
        long t1 = System.nanoTime();
        long bytes = 2 * rows * 2L * d;
        if (bytes > 0) upload(stagedRows, 0, stagedHost.asSlice(0, bytes), H_STAGED);
        long t2 = System.nanoTime();
        if (profiling) {
            profileHost("gatherRows", t1 - t0);
            profileHost("stagingCopy", t2 - t1);
        }
        endStepUploads();
        run(attendStagedStep);
    }

    /**
     * Stream {@code s}'s {@code n} staged rows to staging rows [base, base+n) (K) and [base+n, base+2n) (V): every row
     * of a dense stream, else its selected rows in ascending order (its sink and local rows are in the device window).
     */
    private void gatherStream(int s, long base, int n, int[] sel) {
        int o = s * PLAN;
        long src = (long) s * capTok;
        if (planHost[o + P_DENSE] != 0) {
            copyRows(src, base, n, n);
            return;
        }
        // the top-k rows only: the sink and local rows are in the device window
        int zs = planHost[o + P_ZONE_START], selN = selCountHost[s];
        for (int j = 0, i = 0; j < selN; ) { // ascending zone indices: copy runs of neighbours at once
            int first = sel[s * kmax + j], run = 1;
            while (j + run < selN && sel[s * kmax + j + run] == first + run) run++;
            copyRows(src + zs + first, base + i, n, run);
            i += run;
            j += run;
        }
    }

    /** {@code count} K and V rows from host row {@code srcRow} to staging row {@code dstRow} (values {@code n} rows further). */
    private void copyRows(long srcRow, long dstRow, int n, int count) {
        if (count <= 0) return;
        long rowBytes = 2L * d;
        MemorySegment.copy(hostKeys, srcRow * rowBytes, stagedHost, dstRow * rowBytes, count * rowBytes);
        MemorySegment.copy(hostValues, srcRow * rowBytes, stagedHost, (dstRow + n) * rowBytes, count * rowBytes);
    }

    // ---- bytes moved per step ----------------------------------------------------------------------------

    /**
     * Host→device bytes of the last decode step, from its start to the attention launch, by category:
     * {@code queries}, {@code newTokens} (the appended K/V rows; 0 when staged), {@code plan} (plan rows),
     * {@code stagedRows} (the gathered K/V rows; STAGED only), {@code encodeRows} (keys re-encoded when the window
     * slid; STAGED only, the other placements read them on the device).
     */
    public Map<String, Long> lastStepHostToDevice() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (int i = 0; i < H2D.size(); i++) m.put(H2D.get(i), h2dLast[i]);
        return m;
    }

    /** The sum of {@link #lastStepHostToDevice()}. */
    public long lastStepHostToDeviceBytes() {
        long n = 0;
        for (long v : h2dLast) n += v;
        return n;
    }

    /** Host→device bytes copied through this decoder since construction (prefill and steps). */
    public long hostToDeviceBytes() {
        long n = 0;
        for (long v : h2dTotal) n += v;
        return n;
    }

    /** Gathered K/V row bytes copied to the device since construction (0 unless STAGED). */
    public long stagedBytes() {
        return h2dTotal[H_STAGED];
    }

    /**
     * Bytes of the K/V rows the last step's attention read: over all streams, (sink + selected + local window, or
     * every row of a stream that attended densely) × D × 2 B × 2 (K and V). STAGED: exactly the rows copied;
     * MAPPED: what the kernel reads in place over the bus (analytic); DEVICE: what it reads from device memory.
     * For MAPPED and DEVICE the first call after a step reads the selection counts back from the device.
     */
    public long attendedRowBytes() {
        if (lastAttendedRows < 0 && attendPlan != null) {
            int[] sc = null;
            long rows = 0;
            for (int s = 0; s < streams; s++) {
                int o = s * PLAN;
                if (attendPlan[o + P_DENSE] != 0) {
                    rows += attendPlan[o + P_LEN];
                } else {
                    if (sc == null) sc = readInts(selCount, 0, streams);
                    rows += attendPlan[o + P_SINK_END] + sc[s] + attendPlan[o + P_LEN] - attendPlan[o + P_ZONE_END];
                }
            }
            lastAttendedRows = rows;
        }
        return Math.max(0, lastAttendedRows) * 2L * d * 2;
    }
}
