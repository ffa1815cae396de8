package org.pariskv.trace;

import org.pariskv.ModelShape;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code needle}: an {@code llm} haystack with one needle token at a random depth of the prompt
 * (see {@code docs/traces.md}). The needle position is the same for every layer and head; at every
 * decode step the query heads of the needle groups target the needle (weight 1) plus
 * {@code recentPerHead} recent tokens (weight {@code recentWeight}), calibrated so that the targets
 * carry about {@code needleMass} of the softmax mass; exact attention ranks the needle first.
 * {@link LayerTrace#planted()} holds {@code {needle}} for every step; the metadata key
 * {@code needle_position} holds it too.
 */
public final class NeedleTraceGenerator implements TraceGenerator {

    /**
     * @param base       the {@code llm} parameters of the haystack and the base queries
     * @param needleMass approximate softmax mass share of the needle and recent targets (default 0.9)
     * @param minDepth   smallest needle depth as a fraction of the prompt (default 0.05)
     * @param maxDepth   largest needle depth (default 0.95)
     * @param allGroups  whether every KV group looks for the needle (default true); when false only
     *                   KV head 0 of each layer does, the others attend recent tokens only
     */
    public record Params(LlmTraceGenerator.Params base, double needleMass, double minDepth, double maxDepth,
                         boolean allGroups) {

        public Params {
            if (base == null) {
                throw new IllegalArgumentException("base parameters must not be null");
            }
            if (!(needleMass > 0 && needleMass < 1)) {
                throw new IllegalArgumentException("needleMass must be in (0, 1), got " + needleMass);
            }
            if (!(needleMass + base.sinkMass() < 1)) {
                throw new IllegalArgumentException("needleMass + sinkMass must be < 1, got " + needleMass + " + "
                        + base.sinkMass());
            }
            if (!(minDepth >= 0 && minDepth <= maxDepth && maxDepth <= 1)) {
                throw new IllegalArgumentException("need 0 <= minDepth <= maxDepth <= 1, got " + minDepth
                        + " and " + maxDepth);
            }
        }

        /** The documented defaults. */
        public static Params defaults() {
            return new Params(LlmTraceGenerator.Params.defaults(), 0.65, 0.05, 0.95, true);
        }
    }

    private final Params params;

    public NeedleTraceGenerator(Params params) {
        this.params = params;
    }

    public NeedleTraceGenerator() {
        this(Params.defaults());
    }

    public Params params() {
        return params;
    }

    @Override
    public String name() {
        return "needle";
    }

    /** The needle position this generator puts in a prompt of {@code promptTokens} for {@code seed}. */
    public int needlePosition(int promptTokens, long seed) {
        double depth = params.minDepth() + (params.maxDepth() - params.minDepth())
                * Synth.stream(seed, Synth.STREAM_GLOBAL, 0, 0).nextDouble();
        return Math.min(promptTokens - 1, Math.max(0, (int) Math.floor(depth * promptTokens)));
    }

    @Override
    public Trace generate(ModelShape shape, int promptTokens, int steps, long seed) {
        Params p = params;
        LlmTraceGenerator.Params b = p.base();
        int d = shape.headDim();
        int gs = shape.groupSize();
        int needle = needlePosition(Math.max(1, promptTokens), seed);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("generator", "needle");
        meta.put("seed", Long.toString(seed));
        meta.put("needle_position", Integer.toString(needle));
        meta.put("params", p.toString());
        return PlantedEngine.generate("needle", shape, promptTokens, steps, seed, (layer, kvHead, rng) -> {
            LlmTraceGenerator.Models m = LlmTraceGenerator.Models.draw(b, d, gs, rng);
            boolean looks = p.allGroups() || kvHead == 0;
            PlantedEngine.TargetPolicy policy = (step, context, r, perHead) -> {
                for (PlantedEngine.Targets t : perHead) {
                    t.clear();
                    if (looks) {
                        t.add(needle, 1.0, true);
                    }
                    int lo = Math.max(0, context - b.recentWindow());
                    for (int i = 0; i < b.recentPerHead(); i++) {
                        t.add(lo + r.nextInt(context - lo), b.recentWeight(), false);
                    }
                }
            };
            return m.group(b, t -> m.keys(), policy, looks ? p.needleMass() : b.targetMass());
        }, meta);
    }
}
