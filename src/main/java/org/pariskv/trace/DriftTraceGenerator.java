package org.pariskv.trace;

import org.pariskv.ModelShape;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code drift}: the prompt is an {@code llm} trace; during generation the key distribution moves away
 * from the prompt's (see {@code docs/traces.md}).
 *
 * <p>With {@code ramp(t)} going linearly from 0 at the first generated token to 1 at the last (updated
 * every {@code blockTokens} tokens), the keys of generated token {@code t} have
 * <ul>
 *   <li>offset direction {@code cos(a)·μ0 + sin(a)·ω}, {@code a = ramp·offsetRotationDeg} (ω ⟂ μ0);</li>
 *   <li>subspace {@code cos(b)·U0 + sin(b)·U1}, {@code b = ramp·basisRotationDeg} (U1 a fresh basis);</li>
 *   <li>{@code newOutliers} further channels whose scale grows from 1 to {@code newOutlierScale}.</li>
 * </ul>
 * Queries keep the {@code llm} out-of-distribution base (anti-aligned with the prompt offset μ0, which
 * slightly favours drifted keys) and follow the recent keys: a planted target is drawn from the
 * generated tokens (before the recent window) with probability {@code generatedTargetShare}, else from
 * the prompt. A retriever whose structures were fitted on the prompt keys sees its codes drift.
 */
public final class DriftTraceGenerator implements TraceGenerator {

    /**
     * @param base                 the {@code llm} parameters of prompt keys, values and queries
     * @param offsetRotationDeg    final rotation of the key offset direction, degrees (default 60)
     * @param basisRotationDeg     final rotation of the key subspace, degrees (default 60)
     * @param newOutliers          key channels that turn into outliers during generation (default 4)
     * @param newOutlierScale      their final scale (default 6)
     * @param generatedTargetShare probability that a planted target is a generated token (default 0.75)
     * @param blockTokens          tokens per drift update (default 64)
     */
    public record Params(LlmTraceGenerator.Params base, double offsetRotationDeg, double basisRotationDeg,
                         int newOutliers, double newOutlierScale, double generatedTargetShare, int blockTokens) {

        public Params {
            if (base == null) {
                throw new IllegalArgumentException("base parameters must not be null");
            }
            if (!(generatedTargetShare >= 0 && generatedTargetShare <= 1)) {
                throw new IllegalArgumentException("generatedTargetShare must be in [0, 1], got " + generatedTargetShare);
            }
            if (blockTokens < 1) {
                throw new IllegalArgumentException("blockTokens must be >= 1, got " + blockTokens);
            }
            if (newOutliers < 0 || newOutlierScale <= 0) {
                throw new IllegalArgumentException("newOutliers must be >= 0 and newOutlierScale > 0, got "
                        + newOutliers + " and " + newOutlierScale);
            }
        }

        /** The documented defaults. */
        public static Params defaults() {
            return new Params(LlmTraceGenerator.Params.defaults(), 60, 60, 4, 6, 0.75, 64);
        }
    }

    private final Params params;

    public DriftTraceGenerator(Params params) {
        this.params = params;
    }

    public DriftTraceGenerator() {
        this(Params.defaults());
    }

    public Params params() {
        return params;
    }

    @Override
    public String name() {
        return "drift";
    }

    @Override
    public Trace generate(ModelShape shape, int promptTokens, int steps, long seed) {
        Params p = params;
        LlmTraceGenerator.Params b = p.base();
        int d = shape.headDim();
        int gs = shape.groupSize();
        int block = p.blockTokens();
        int blocks = (steps + block - 1) / block;
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("generator", "drift");
        meta.put("seed", Long.toString(seed));
        meta.put("params", p.toString());
        return PlantedEngine.generate("drift", shape, promptTokens, steps, seed, (layer, kvHead, rng) -> {
            LlmTraceGenerator.Models m = LlmTraceGenerator.Models.draw(b, d, gs, rng);
            float[] omega = Synth.unitOrthogonal(rng, d, m.keyDir());
            float[] u1 = Synth.gaussian(rng, d * b.keyRank(), 1);
            int[] fresh = Synth.distinctChannels(rng, d, p.newOutliers(), m.keyOutlierChannels());
            GaussianHead[] cache = new GaussianHead[blocks];
            PlantedEngine.KeySchedule schedule = t -> {
                if (t < promptTokens) {
                    return m.keys();
                }
                int bi = (t - promptTokens) / block;
                GaussianHead hd = cache[bi];
                if (hd == null) {
                    double ramp = Math.min(1.0, (double) (bi + 1) * block / steps);
                    hd = drifted(m, omega, u1, fresh, ramp, p, b, d);
                    cache[bi] = hd;
                }
                return hd;
            };
            SlotPolicy policy = new SlotPolicy(gs, b.plantedPerHead(), b.sharedPerGroup(), b.recentPerHead(),
                    b.recentWindow(), b.recentWeight(), b.persistence(), b.recentShared(), (r, context) -> {
                        int end = context - b.recentWindow();
                        if (end > promptTokens && r.nextDouble() < p.generatedTargetShare()) {
                            return promptTokens + r.nextInt(end - promptTokens);
                        }
                        int promptEnd = Math.min(promptTokens, Math.max(1, end));
                        int lo = promptEnd > b.sinkTokens() ? b.sinkTokens() : 0;
                        return lo + r.nextInt(promptEnd - lo);
                    });
            return m.group(b, schedule, policy, b.targetMass());
        }, meta);
    }

    private static GaussianHead drifted(LlmTraceGenerator.Models m, float[] omega, float[] u1, int[] fresh,
                                        double ramp, Params p, LlmTraceGenerator.Params b, int d) {
        double a = Math.toRadians(p.offsetRotationDeg()) * ramp;
        double bb = Math.toRadians(p.basisRotationDeg()) * ramp;
        float[] dir = new float[d];
        for (int c = 0; c < d; c++) {
            dir[c] = (float) (Math.cos(a) * m.keyDir()[c] + Math.sin(a) * omega[c]);
        }
        float[] basis = new float[m.keyBasis().length];
        for (int i = 0; i < basis.length; i++) {
            basis[i] = (float) (Math.cos(bb) * m.keyBasis()[i] + Math.sin(bb) * u1[i]);
        }
        float[] scale = m.keyScale().clone();
        for (int c : fresh) {
            scale[c] = (float) (1 + (p.newOutlierScale() - 1) * ramp);
        }
        return GaussianHead.of(dir, b.keyOffset() * Math.sqrt(d), basis, b.keyRank(), b.keyLowRankShare(), scale);
    }
}
