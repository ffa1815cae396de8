package org.pariskv.device;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.pariskv.GqaMode;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.compute.Backend;
import org.pariskv.compute.Backends;
import org.pariskv.compute.Grid;
import org.pariskv.compute.KernelArg;
import org.pariskv.compute.KernelSource;
import org.pariskv.compute.OpenClTestSupport;

/**
 * {@link DecodeTwins} against the kernels of {@code tasks/pariskv.c}: a {@link DeviceDecoder} on OpenCL (PoCL on CI)
 * prefills and decodes; every launch of the observed steps is replayed by its twin on host copies of the launch's
 * input buffers, and every buffer argument afterwards is compared with the device's.
 */
class DecodeTwinsTest {

    /** Kernel parameter names (pariskv.c) per task, and which of them the kernel writes. */
    record Spec(List<String> params, List<String> outputs) {}

    static final Map<String, Spec> SPECS = new LinkedHashMap<>();

    static {
        spec("appendTokens", "newKeys newValues plan keys values winKeys winValues capTok ringBase ring", "keys values winKeys winValues");
        spec("encodeKeys", "keys rot center plan codes nibbles weights counts cap capTok", "codes nibbles weights counts");
        spec("prepareQuery", "queries rot plan counts qhat qnorm tierTable hist tileHist estHist tiles", "qhat qnorm tierTable hist tileHist estHist");
        spec("collisionScores", "codes tierTable plan scores hist tileHist cap tiles", "scores hist tileHist");
        spec("candidateSelect", "scores hist plan tileHist cand candCount cap tiles", "cand candCount");
        spec("rerank", "nibbles weights qhat qnorm cand candCount est estHist cap", "est estHist");
        spec("topKSlice", "est cand candCount plan partEst partTok partCount cap slices kFull", "partEst partTok partCount");
        spec("topK", "est cand counts estHist plan ranked rankedCount selected selCount stride slices", "ranked rankedCount selected selCount");
        spec("mergeSelection", "ranked rankedCount plan selected selCount", "selected selCount");
        spec("sparseAttention", "queries keys values winKeys winValues plan selected selCount pmax psum pacc capTok maxChunks chunk ringBase ring", "pmax psum pacc");
        spec("sparseAttentionStaged", "queries staged winKeys winValues plan selected selCount pmax psum pacc maxChunks chunk ringBase ring", "pmax psum pacc");
        spec("attentionCombine", "plan selCount pmax psum pacc out maxChunks chunk", "out");
    }

    static void spec(String task, String params, String outputs) {
        SPECS.put(task, new Spec(List.of(params.split(" ")), List.of(outputs.split(" "))));
    }

    /** Every kernel of the decode step has a twin with its parameter list: GLOBAL pointers as MemorySegment, ints as int. */
    @Test
    void twinsHaveTheKernelsSignatures() {
        String src = KernelSource.resource("pariskv.c").text();
        Matcher m = Pattern.compile("KERNEL void (\\w+)\\(([^)]*)\\)").matcher(src);
        Map<String, Method> twins = new LinkedHashMap<>();
        for (Method t : DecodeTwins.class.getDeclaredMethods()) {
            if (Modifier.isPublic(t.getModifiers()) && !Modifier.isStatic(t.getModifiers())) twins.put(t.getName(), t);
        }
        List<String> kernels = new ArrayList<>();
        while (m.find()) {
            String name = m.group(1);
            kernels.add(name);
            List<String> params = Arrays.stream(m.group(2).split(",")).map(String::strip).toList();
            Method twin = twins.get(name);
            assertNotNull(twin, "no twin for kernel " + name);
            assertEquals(params.size(), twin.getParameterCount(), "parameters of " + name);
            for (int i = 0; i < params.size(); i++) {
                String p = params.get(i);
                Class<?> expected = p.startsWith("GLOBAL ") ? MemorySegment.class : p.startsWith("int ") ? int.class : null;
                assertNotNull(expected, "unexpected parameter kind in " + name + ": " + p);
                assertEquals(expected, twin.getParameterTypes()[i], name + " parameter " + i + " (" + p + ")");
                assertEquals(p.substring(p.lastIndexOf(' ') + 1).replace("*", ""), SPECS.get(name).params().get(i), "spec of " + name);
            }
        }
        assertEquals(Set.copyOf(DeviceDecoder.TASKS), Set.copyOf(kernels), "the decoder launches exactly the kernels of pariskv.c");
        assertEquals(SPECS.keySet(), Set.copyOf(kernels), "a spec per kernel");
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of(GqaMode.MEAN, 64, false),
                Arguments.of(GqaMode.MEAN, 64, true),
                Arguments.of(GqaMode.PER_HEAD, 64, false),
                Arguments.of(GqaMode.PER_HEAD, 64, true),
                Arguments.of(GqaMode.MEAN, 128, false), // D = 128: the 16-byte code and nibble-row paths
                Arguments.of(GqaMode.PER_HEAD, 128, true),
                Arguments.of(GqaMode.PER_HEAD, 96, true)); // not a power of two: dense rotation matrix (HADAMARD 0)
    }

    /**
     * Batch of two sequences of 2000 and 9101 prompt tokens (the second: three 4096-key tiles, 2242 candidates, two
     * top-k slices when {@code twoStage}). Observed: both prefills (encodeKeys), the 32nd decode step (the window slides,
     * so all twelve kernels run) and a dense step (full attention, 256-token chunks).
     */
    @ParameterizedTest(name = "{0} D={1} two-stage top-k={2}")
    @MethodSource("cases")
    void everyLaunchOfTheDecodeStepMatchesItsTwin(GqaMode mode, int headDim, boolean twoStage) {
        Backend backend = Backends.open(OpenClTestSupport.openClDevice());
        ModelShape shape = new ModelShape(1, 8, 2, headDim);
        ParisKvConfig cfg = ParisKvConfig.defaults().withGqa(mode).withWindow(4, 128).withInterval(32).withMinSparseTokens(0).withTopk(50);
        int kv = shape.kvHeads() * headDim, qn = shape.queryHeads() * headDim;
        int[] prompts = {2000, 9101};
        // data of its own per case: a freed decoder's buffers, reused, must not already hold what a launch writes
        SplittableRandom rnd = new SplittableRandom(1000L * mode.ordinal() + 10L * headDim + (twoStage ? 1 : 0));
        DeviceDecoder.Options options = DeviceDecoder.Options.defaults().withTopKSliceAbove(twoStage ? 1000 : 1 << 30);
        try (DeviceDecoder dev = new DeviceDecoder(backend, shape, cfg, 2, 9200, options)) {
            TwinCheck check = new TwinCheck(backend, new DecodeTwins(dev.twinShape()));
            dev.observeLaunches(check);
            for (int b = 0; b < 2; b++) {
                dev.prefill(b, DeviceDecoderTest.random(rnd, prompts[b] * kv, 2.5f), DeviceDecoderTest.random(rnd, prompts[b] * kv, 0f), prompts[b]);
            }
            assertEquals(List.of("encodeKeys", "encodeKeys"), check.tasks(), "prefill encodes each prompt");
            check.clear();
            float[] out = new float[2 * qn];
            for (int step = 1; step <= 32; step++) {
                dev.observeLaunches(step == 32 ? check : null);
                dev.decode(DeviceDecoderTest.random(rnd, 2 * qn, 0f), DeviceDecoderTest.random(rnd, 2 * kv, 2.5f),
                        DeviceDecoderTest.random(rnd, 2 * kv, 0f), out, false);
            }
            List<String> expected = new ArrayList<>(DeviceDecoder.TASKS);
            if (!twoStage) expected.remove("topKSlice");
            expected.remove("sparseAttentionStaged"); // K/V on the device: StagedKvTest covers the staged placement
            if (mode == GqaMode.MEAN) expected.remove("mergeSelection"); // topK writes the selection of a single list
            assertEquals(expected, check.tasks(), "the sparse step with a sliding window");
            assertEquals(twoStage ? 2 : 0, check.intArg("topK", "slices"), "top-k stages");
            int nq = dev.retrievalQueriesPerStream();
            for (int s = 0; s < 4; s++) {
                assertEquals(50, dev.selected(s).length, "top-50 selection of stream " + s);
                for (int h = 0; h < nq; h++) {
                    int candidates = dev.candidates(s * nq + h).length;
                    assertTrue(s < 2 || candidates > 2048, "long candidate list of stream " + s + ": " + candidates);
                }
            }
            check.clear();
            dev.decode(DeviceDecoderTest.random(rnd, 2 * qn, 0f), DeviceDecoderTest.random(rnd, 2 * kv, 2.5f),
                    DeviceDecoderTest.random(rnd, 2 * kv, 0f), out, true);
            // with DeviceDecoder's dense kernel (a Java kernel, no C twin: DenseAttentionTest checks it) the step's twinned
            // launches are appendTokens and attentionCombine; without it (head dims it does not take) sparseAttention too
            boolean denseKernel = !check.tasks().contains("sparseAttention");
            assertEquals(denseKernel ? List.of("appendTokens", "attentionCombine") : List.of("appendTokens", "sparseAttention", "attentionCombine"),
                    check.tasks(), "the dense step");
            assertEquals(256, check.intArg("attentionCombine", "chunk"), "long dense contexts attend in 256-token chunks");
        }
    }

    /** Replays each launch with its twin and compares every buffer argument; records what it checked. */
    /**
     * The host placements' launches against their twins at a sparse step: the device window (appendTokens writes it,
     * the attention reads the sink and local rows there) and, for STAGED, the rows the host packed.
     */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.EnumSource(value = KvPlacement.class, names = {"STAGED", "MAPPED"})
    void theHostPlacementsMatchTheirTwins(KvPlacement placement) {
        Backend backend = Backends.open(OpenClTestSupport.openClDevice());
        ModelShape shape = new ModelShape(1, 8, 2, 64);
        ParisKvConfig cfg = ParisKvConfig.defaults().withGqa(GqaMode.MEAN).withWindow(4, 128).withInterval(32).withMinSparseTokens(0).withTopk(50);
        int kv = shape.kvHeads() * 64, qn = shape.queryHeads() * 64;
        SplittableRandom rnd = new SplittableRandom(77);
        try (DeviceDecoder dev = new DeviceDecoder(backend, shape, cfg, 2, 4000, DeviceDecoder.Options.defaults().withPlacement(placement))) {
            int[] prompts = {1500, 3000};
            for (int b = 0; b < 2; b++) {
                dev.prefill(b, DeviceDecoderTest.random(rnd, prompts[b] * kv, 2.5f), DeviceDecoderTest.random(rnd, prompts[b] * kv, 0f), prompts[b]);
            }
            TwinCheck check = new TwinCheck(backend, new DecodeTwins(dev.twinShape()));
            dev.observeLaunches(check);
            dev.decode(DeviceDecoderTest.random(rnd, 2 * qn, 0f), DeviceDecoderTest.random(rnd, 2 * kv, 2.5f),
                    DeviceDecoderTest.random(rnd, 2 * kv, 0f), new float[2 * qn], false);
            assertTrue(check.tasks().contains("appendTokens"), "the new rows go to the window: " + check.tasks());
            assertTrue(check.intArg("appendTokens", "ring") > 0, "a window");
            boolean staged = placement == KvPlacement.STAGED;
            assertEquals(staged, check.tasks().contains("sparseAttentionStaged"), "launched: " + check.tasks());
            assertEquals(!staged, check.tasks().contains("sparseAttention"), "K/V read in place only when mapped");
        }
    }

    static final class TwinCheck implements DeviceDecoder.LaunchObserver {
        private final Backend backend;
        private final DecodeTwins twins;
        private final List<String> tasks = new ArrayList<>();
        private final Map<String, List<Object>> lastArgs = new LinkedHashMap<>();
        private Arena arena;
        private List<Object> in;

        TwinCheck(Backend backend, DecodeTwins twins) {
            this.backend = backend;
            this.twins = twins;
        }

        List<String> tasks() {
            return tasks;
        }

        void clear() {
            tasks.clear();
        }

        int intArg(String task, String param) {
            return (Integer) lastArgs.get(task).get(SPECS.get(task).params().indexOf(param));
        }

        @Override
        public void before(String task, Grid grid, List<KernelArg> args) {
            if (task.startsWith("denseAttention")) return; // Java-only kernels without a C twin: DenseAttentionTest checks them
            arena = Arena.ofConfined();
            in = snapshot(args);
        }

        @Override
        public void after(String task, Grid grid, List<KernelArg> args) {
            if (task.startsWith("denseAttention")) return;
            try (Arena a = arena) {
                Spec spec = SPECS.get(task);
                assertNotNull(spec, "unknown task " + task);
                assertEquals(spec.params().size(), args.size(), task + " arguments");
                List<Object> device = snapshot(args);
                Map<String, MemorySegment> before = new LinkedHashMap<>();
                for (String o : spec.outputs()) before.put(o, a.allocate(seg(in, spec, o).byteSize(), 64).copyFrom(seg(in, spec, o)));
                run(task, in);
                boolean changed = false;
                for (int i = 0; i < args.size(); i++) {
                    if (!(in.get(i) instanceof MemorySegment twin)) continue;
                    String name = spec.params().get(i);
                    MemorySegment dev = (MemorySegment) device.get(i);
                    compare(task, name, spec, twin, dev);
                    if (spec.outputs().contains(name)) changed |= before.get(name).mismatch(dev) >= 0;
                }
                assertTrue(changed, task + " wrote nothing: a vacuous comparison");
                tasks.add(task);
                lastArgs.put(task, in);
            }
        }

        private List<Object> snapshot(List<KernelArg> args) {
            backend.finish();
            List<Object> out = new ArrayList<>();
            for (KernelArg arg : args) {
                switch (arg) {
                    case KernelArg.Buffer b -> {
                        MemorySegment m = arena.allocate(b.buffer().bytes(), 64);
                        backend.copyOut(m, b.buffer());
                        out.add(m);
                    }
                    case KernelArg.Int i -> out.add(i.value());
                    default -> fail("unexpected argument " + arg);
                }
            }
            return out;
        }

        private void compare(String task, String name, Spec spec, MemorySegment twin, MemorySegment dev) {
            String what = task + "." + name;
            switch (spec.outputs().contains(name) ? name : "input") {
                case "weights" -> { // KeyEncoder vs kernel: one bf16 step at most (as EncodeStepTest, DeviceDecoderTest)
                    short[] t = twin.toArray(ValueLayout.JAVA_SHORT), d = dev.toArray(ValueLayout.JAVA_SHORT);
                    for (int i = 0; i < t.length; i++) assertTrue(Math.abs(t[i] - d[i]) <= 1, what + "[" + i + "]: " + t[i] + " vs " + d[i]);
                }
                case "pmax", "psum", "pacc" -> comparePartials(what, name, spec, twin, dev);
                case "out" -> {
                    int dim = twins.shape().headDim();
                    for (int row = 0; row < twin.byteSize() / (4L * dim); row++) {
                        float[] t = floats(twin, (long) row * dim, dim), d = floats(dev, (long) row * dim, dim);
                        assertTrue(relError(t, d) <= 1e-5, what + " row " + row + ": relative error " + relError(t, d));
                    }
                }
                default -> {
                    long at = twin.mismatch(dev);
                    assertEquals(-1L, at, what + " differs from byte " + at + " (int " + (at / 4) + ")");
                }
            }
        }

        /** Partials of the chunks a stream's tokens fill; those past them are scratch attentionCombine never reads. */
        private void comparePartials(String what, String name, Spec spec, MemorySegment twin, MemorySegment dev) {
            int dim = twins.shape().headDim(), g = twins.shape().group();
            int[] plan = seg(in, spec, "plan").toArray(ValueLayout.JAVA_INT);
            MemorySegment selCount = seg(in, spec, "selCount");
            int maxChunks = (Integer) in.get(spec.params().indexOf("maxChunks")), chunk = (Integer) in.get(spec.params().indexOf("chunk"));
            int width = name.equals("pacc") ? dim : 1;
            for (int s = 0; s < plan.length / DecodeLayout.PLAN_STRIDE; s++) {
                int o = s * DecodeLayout.PLAN_STRIDE;
                boolean dense = plan[o + DecodeLayout.P_DENSE] != 0;
                int attended = dense ? plan[o + DecodeLayout.P_LEN]
                        : plan[o + DecodeLayout.P_SINK_END] + selCount.getAtIndex(ValueLayout.JAVA_INT, s) + plan[o + DecodeLayout.P_LEN] - plan[o + DecodeLayout.P_ZONE_END];
                for (int h = 0; h < g; h++) {
                    for (int c = 0; c < (attended + chunk - 1) / chunk; c++) {
                        long part = ((long) s * g + h) * maxChunks + c;
                        float[] t = floats(twin, part * width, width), d = floats(dev, part * width, width);
                        String at = what + " stream " + s + " head " + h + " chunk " + c;
                        if (name.equals("pmax")) assertEquals(d[0], t[0], at + ": the same logits"); // no exp yet
                        else assertTrue(relError(t, d) <= 1e-5, at + ": relative error " + relError(t, d));
                    }
                }
            }
        }

        private void run(String task, List<Object> a) {
            DecodeTwins t = twins;
            switch (task) {
                case "appendTokens" -> t.appendTokens(m(a, 0), m(a, 1), m(a, 2), m(a, 3), m(a, 4), m(a, 5), m(a, 6), i(a, 7), i(a, 8), i(a, 9));
                case "encodeKeys" -> t.encodeKeys(m(a, 0), m(a, 1), m(a, 2), m(a, 3), m(a, 4), m(a, 5), m(a, 6), m(a, 7), i(a, 8), i(a, 9));
                case "prepareQuery" -> t.prepareQuery(m(a, 0), m(a, 1), m(a, 2), m(a, 3), m(a, 4), m(a, 5), m(a, 6), m(a, 7), m(a, 8), m(a, 9), i(a, 10));
                case "collisionScores" -> t.collisionScores(m(a, 0), m(a, 1), m(a, 2), m(a, 3), m(a, 4), m(a, 5), i(a, 6), i(a, 7));
                case "candidateSelect" -> t.candidateSelect(m(a, 0), m(a, 1), m(a, 2), m(a, 3), m(a, 4), m(a, 5), i(a, 6), i(a, 7));
                case "rerank" -> t.rerank(m(a, 0), m(a, 1), m(a, 2), m(a, 3), m(a, 4), m(a, 5), m(a, 6), m(a, 7), i(a, 8));
                case "topKSlice" -> t.topKSlice(m(a, 0), m(a, 1), m(a, 2), m(a, 3), m(a, 4), m(a, 5), m(a, 6), i(a, 7), i(a, 8), i(a, 9));
                case "topK" -> t.topK(m(a, 0), m(a, 1), m(a, 2), m(a, 3), m(a, 4), m(a, 5), m(a, 6), m(a, 7), m(a, 8), i(a, 9), i(a, 10));
                case "mergeSelection" -> t.mergeSelection(m(a, 0), m(a, 1), m(a, 2), m(a, 3), m(a, 4));
                case "sparseAttention" -> t.sparseAttention(m(a, 0), m(a, 1), m(a, 2), m(a, 3), m(a, 4), m(a, 5), m(a, 6), m(a, 7), m(a, 8), m(a, 9), m(a, 10), i(a, 11), i(a, 12), i(a, 13), i(a, 14), i(a, 15));
                case "sparseAttentionStaged" -> t.sparseAttentionStaged(m(a, 0), m(a, 1), m(a, 2), m(a, 3), m(a, 4), m(a, 5), m(a, 6), m(a, 7), m(a, 8), m(a, 9), i(a, 10), i(a, 11), i(a, 12), i(a, 13));
                case "attentionCombine" -> t.attentionCombine(m(a, 0), m(a, 1), m(a, 2), m(a, 3), m(a, 4), m(a, 5), i(a, 6), i(a, 7));
                default -> fail("no twin for " + task);
            }
        }

        private static MemorySegment m(List<Object> a, int i) {
            return (MemorySegment) a.get(i);
        }

        private static int i(List<Object> a, int i) {
            return (Integer) a.get(i);
        }

        private static MemorySegment seg(List<Object> a, Spec spec, String name) {
            return (MemorySegment) a.get(spec.params().indexOf(name));
        }
    }

    static float[] floats(MemorySegment m, long index, int n) {
        return m.asSlice(4 * index, 4L * n).toArray(ValueLayout.JAVA_FLOAT);
    }

    static double relError(float[] a, float[] ref) {
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - ref[i]) * (double) (a[i] - ref[i]);
            den += ref[i] * (double) ref[i];
        }
        return num == 0 ? 0 : Math.sqrt(num / den);
    }
}
