package org.pariskv.trace;

import org.pariskv.ModelShape;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * {@code llm}: LLM-like post-RoPE statistics with planted relevant keys (see {@code docs/traces.md}).
 *
 * <p>Keys of KV head {@code h}: {@code k = S ⊙ (keyOffset·sqrt(D)·μ + U z + σ ε)} — a large common
 * offset direction {@code μ} (key-key cosine around 0.8), a rank-{@code keyRank} random subspace
 * carrying {@code keyLowRankShare} of the per-coordinate variance, and {@code keyOutliers} heavy
 * channels scaled by U[{@code keyOutlierMin}, {@code keyOutlierMax}].
 *
 * <p>Queries are out of distribution: each query head has its own base distribution with offset
 * direction {@code -queryAntiAlign·μ + sqrt(1-queryAntiAlign²)·ν} (ν ⟂ μ, so partly anti-aligned with
 * the key offset), its own subspace and {@code queryOutliers} outlier channels distinct from the keys'.
 * The base is rescaled to a background logit spread of {@code baseLogitStd}, then pushed towards the
 * step's targets (see {@link PlantedEngine}): {@code plantedPerHead} planted earlier tokens per query
 * head, of which {@code sharedPerGroup} are shared by the GQA group and the rest differ per head (so a
 * group-mean query loses mass), plus {@code recentPerHead} tokens from the last {@code recentWindow}
 * (weight {@code recentWeight}, shared by the group when {@code recentShared}). Targets persist from
 * step to step with probability {@code persistence}. Heads of a group share {@code groupQueryShare} of
 * their query structure.
 *
 * <p>Attention sinks: tokens {@code [0, sinkTokens)} have keys with an extra component along a
 * per-head direction and every query head aligns with it (StreamingLLM, Xiao et al. 2023: the first
 * tokens draw tens of percent of the attention beyond the first layers).
 *
 * <p>The push is calibrated so the sinks carry {@code sinkMass} and the targets {@code targetMass} of
 * the softmax mass at scale 1/sqrt(D); the rest ({@code 1 - sinkMass - targetMass}, 0.1 by default)
 * spreads over the keys sharing the targets' subspace component and the Gaussian background, so that
 * exact top-100 + sinks + a 512-token window hold about 0.96 of the mass (H2O, Quest, SnapKV: a few
 * percent of tokens plus sinks and a recent window hold more than 90% in most heads).
 */
public final class LlmTraceGenerator implements TraceGenerator {

    /**
     * Parameters of the {@code llm} generator; {@link #defaults()} documents every default.
     *
     * @param keyOffset         key offset norm in units of sqrt(D) (default 2.0)
     * @param keyRank           rank of the per-head key subspace (default 8)
     * @param keyLowRankShare   share of per-coordinate key variance in the subspace (default 0.5)
     * @param keyOutliers       heavy key channels per head (default 4)
     * @param keyOutlierMin     smallest outlier scale (default 5)
     * @param keyOutlierMax     largest outlier scale (default 10)
     * @param queryOffset       query base offset norm in units of sqrt(D) (default 2.0)
     * @param queryAntiAlign    cosine of the query offset with minus the key offset (default 0.5)
     * @param queryRank         rank of each query head's own subspace (default 8)
     * @param queryLowRankShare share of query variance in that subspace (default 0.5)
     * @param queryOutliers     query outlier channels per group, disjoint from the key ones (default 4)
     * @param queryOutlierMin   smallest query outlier scale (default 2)
     * @param queryOutlierMax   largest query outlier scale (default 4)
     * @param valueOffset       value offset norm in units of sqrt(D) (default 0.25)
     * @param valueRank         rank of the value subspace (default 8)
     * @param valueLowRankShare share of value variance in it (default 0.5)
     * @param baseLogitStd      std of the base query's logits over the context keys (default 1.0)
     * @param plantedPerHead    planted targets per query head and step (default 4)
     * @param sharedPerGroup    of which shared by all heads of the GQA group (default 3)
     * @param recentPerHead     recent-token targets per head and step (default 2)
     * @param recentWindow      window the recent targets are drawn from (default 64)
     * @param recentWeight      logit weight of a recent target relative to a planted one (default 0.5)
     * @param persistence       probability a planted slot keeps its token at the next step (default 0.5)
     * @param targetMass        softmax mass share of all targets together (default 0.6; with the sinks'
     *                          0.3 this leaves 0.1 to the background, a realistic concentration)
     * @param targetWhitening   how far the push towards a target whitens the key subspace: 0 pushes
     *                          along the target's whole deviation (lifting every key sharing its
     *                          subspace component), 1 along its whitened deviation (default 0.5)
     * @param sinkTokens        attention-sink tokens {@code [0, sinkTokens)} (default 4, StreamingLLM's
     *                          choice and the eval's sink budget; 0 disables sinks)
     * @param sinkMass          softmax mass share of the sinks for every query head (default 0.3: tens
     *                          of percent in most heads beyond the first layers, StreamingLLM Fig. 2,
     *                          Sun et al. 2024; must leave {@code targetMass + sinkMass < 1})
     * @param sinkKeyOffset     extra component of sink keys along a per-KV-head direction orthogonal to
     *                          the key offset, units of sqrt(D) (default 2.0, the size of the key
     *                          offset): the first token's key is a geometric outlier in real models, so
     *                          attending it costs queries little background variance
     * @param groupQueryShare   share of query structure common to a GQA group: offset direction and
     *                          per-step deviation (default 0.8)
     * @param recentShared      whether the recent targets are the same tokens for the whole group
     *                          (default true; with 3 of 4 planted targets shared this gives 0.3-0.5
     *                          exact top-100 overlap between heads of a group, 7-15% before)
     */
    public record Params(double keyOffset, int keyRank, double keyLowRankShare, int keyOutliers,
                         double keyOutlierMin, double keyOutlierMax,
                         double queryOffset, double queryAntiAlign, int queryRank, double queryLowRankShare,
                         int queryOutliers, double queryOutlierMin, double queryOutlierMax,
                         double valueOffset, int valueRank, double valueLowRankShare,
                         double baseLogitStd, int plantedPerHead, int sharedPerGroup, int recentPerHead,
                         int recentWindow, double recentWeight, double persistence, double targetMass,
                         double targetWhitening, int sinkTokens, double sinkMass, double sinkKeyOffset,
                         double groupQueryShare, boolean recentShared) {

        public Params {
            if (keyRank < 0 || queryRank < 0 || valueRank < 0) {
                throw new IllegalArgumentException("ranks must be >= 0");
            }
            share("keyLowRankShare", keyLowRankShare);
            share("queryLowRankShare", queryLowRankShare);
            share("valueLowRankShare", valueLowRankShare);
            share("persistence", persistence);
            share("targetWhitening", targetWhitening);
            share("groupQueryShare", groupQueryShare);
            if (!(targetMass > 0 && targetMass < 1)) {
                throw new IllegalArgumentException("targetMass must be in (0, 1), got " + targetMass);
            }
            if (sinkTokens < 0 || !(sinkMass >= 0 && sinkMass < 1) || !(sinkKeyOffset >= 0)) {
                throw new IllegalArgumentException("need sinkTokens >= 0 (" + sinkTokens + "), sinkMass in [0, 1) ("
                        + sinkMass + ") and sinkKeyOffset >= 0 (" + sinkKeyOffset + ")");
            }
            if (!(targetMass + sinkMass < 1)) {
                throw new IllegalArgumentException("targetMass + sinkMass must be < 1 (the rest is the background), got "
                        + targetMass + " + " + sinkMass);
            }
            if (queryAntiAlign < -1 || queryAntiAlign > 1) {
                throw new IllegalArgumentException("queryAntiAlign must be in [-1, 1], got " + queryAntiAlign);
            }
            if (plantedPerHead < 0 || sharedPerGroup < 0 || sharedPerGroup > plantedPerHead || recentPerHead < 0) {
                throw new IllegalArgumentException("need 0 <= sharedPerGroup (" + sharedPerGroup
                        + ") <= plantedPerHead (" + plantedPerHead + ") and recentPerHead >= 0 (" + recentPerHead + ")");
            }
            if (recentWindow < 1) {
                throw new IllegalArgumentException("recentWindow must be >= 1, got " + recentWindow);
            }
            if (baseLogitStd <= 0) {
                throw new IllegalArgumentException("baseLogitStd must be positive, got " + baseLogitStd);
            }
        }

        private static void share(String name, double v) {
            if (!(v >= 0 && v <= 1)) {
                throw new IllegalArgumentException(name + " must be in [0, 1], got " + v);
            }
        }

        /** The documented defaults. */
        public static Params defaults() {
            return new Params(2.0, 8, 0.5, 4, 5, 10,
                    2.0, 0.5, 8, 0.5, 4, 2, 4,
                    0.25, 8, 0.5,
                    1.0, 4, 3, 2, 64, 0.5, 0.5, 0.6, 0.5,
                    4, 0.3, 2.0, 0.8, true);
        }

        /** These parameters with another sink mass (and sink token count). */
        public Params withSinks(int tokens, double mass) {
            return new Params(keyOffset, keyRank, keyLowRankShare, keyOutliers, keyOutlierMin, keyOutlierMax,
                    queryOffset, queryAntiAlign, queryRank, queryLowRankShare, queryOutliers, queryOutlierMin,
                    queryOutlierMax, valueOffset, valueRank, valueLowRankShare, baseLogitStd, plantedPerHead,
                    sharedPerGroup, recentPerHead, recentWindow, recentWeight, persistence, targetMass,
                    targetWhitening, tokens, mass, sinkKeyOffset, groupQueryShare, recentShared);
        }

        /** These parameters with another background spread and in-group query share. */
        public Params withBackground(double logitStd, double queryShare) {
            return new Params(keyOffset, keyRank, keyLowRankShare, keyOutliers, keyOutlierMin, keyOutlierMax,
                    queryOffset, queryAntiAlign, queryRank, queryLowRankShare, queryOutliers, queryOutlierMin,
                    queryOutlierMax, valueOffset, valueRank, valueLowRankShare, logitStd, plantedPerHead,
                    sharedPerGroup, recentPerHead, recentWindow, recentWeight, persistence, targetMass,
                    targetWhitening, sinkTokens, sinkMass, sinkKeyOffset, queryShare, recentShared);
        }

        /** These parameters with another target mass. */
        public Params withTargetMass(double mass) {
            return new Params(keyOffset, keyRank, keyLowRankShare, keyOutliers, keyOutlierMin, keyOutlierMax,
                    queryOffset, queryAntiAlign, queryRank, queryLowRankShare, queryOutliers, queryOutlierMin,
                    queryOutlierMax, valueOffset, valueRank, valueLowRankShare, baseLogitStd, plantedPerHead,
                    sharedPerGroup, recentPerHead, recentWindow, recentWeight, persistence, mass, targetWhitening,
                    sinkTokens, sinkMass, sinkKeyOffset, groupQueryShare, recentShared);
        }

        /** These parameters with other planted counts. */
        public Params withPlanted(int perHead, int sharedPerGroup) {
            return new Params(keyOffset, keyRank, keyLowRankShare, keyOutliers, keyOutlierMin, keyOutlierMax,
                    queryOffset, queryAntiAlign, queryRank, queryLowRankShare, queryOutliers, queryOutlierMin,
                    queryOutlierMax, valueOffset, valueRank, valueLowRankShare, baseLogitStd, perHead,
                    sharedPerGroup, recentPerHead, recentWindow, recentWeight, persistence, targetMass,
                    targetWhitening, sinkTokens, sinkMass, sinkKeyOffset, groupQueryShare, recentShared);
        }
    }

    /** The random model of one (layer, KV head) group: key/value distributions and query bases. */
    record Models(float[] keyDir, float[] keyBasis, float[] keyScale, int[] keyOutlierChannels,
                  GaussianHead keys, GaussianHead values, GaussianHead[] queryBases, GaussianHead querySharedDev,
                  float[] sinkKeyDir) {

        /** The engine group of these models with a key schedule, a target policy and a target mass. */
        PlantedEngine.Group group(Params p, PlantedEngine.KeySchedule schedule, PlantedEngine.TargetPolicy policy,
                                  double targetMass) {
            return new PlantedEngine.Group(schedule, values, queryBases, querySharedDev, p.groupQueryShare(), policy,
                    targetMass, p.baseLogitStd(), p.targetWhitening(), p.sinkTokens(), p.sinkMass(), sinkKeyDir,
                    p.sinkKeyOffset());
        }

        static Models draw(Params p, int d, int groupSize, SplittableRandom rng) {
            double sqrtD = Math.sqrt(d);
            float[] mu = Synth.unit(rng, d);
            float[] ub = Synth.gaussian(rng, d * p.keyRank(), 1);
            int[] kc = Synth.distinctChannels(rng, d, p.keyOutliers(), null);
            float[] ks = Synth.channelScales(rng, d, kc, p.keyOutlierMin(), p.keyOutlierMax());
            GaussianHead keys = GaussianHead.of(mu, p.keyOffset() * sqrtD, ub, p.keyRank(), p.keyLowRankShare(), ks);

            float[] vdir = Synth.unit(rng, d);
            float[] ones = new float[d];
            java.util.Arrays.fill(ones, 1f);
            GaussianHead values = GaussianHead.of(vdir, p.valueOffset() * sqrtD,
                    Synth.gaussian(rng, d * p.valueRank(), 1), p.valueRank(), p.valueLowRankShare(), ones);

            int[] qc = Synth.distinctChannels(rng, d, p.queryOutliers(), kc);
            GaussianHead[] bases = new GaussianHead[groupSize];
            double rho = p.queryAntiAlign();
            double gq = p.groupQueryShare();
            float[] nuShared = Synth.unitOrthogonal(rng, d, mu);
            GaussianHead sharedDev = GaussianHead.of(nuShared, 0, Synth.gaussian(rng, d * p.queryRank(), 1),
                    p.queryRank(), p.queryLowRankShare(),
                    Synth.channelScales(rng, d, qc, p.queryOutlierMin(), p.queryOutlierMax()));
            float[] sinkDir = Synth.unitOrthogonal(rng, d, mu);
            for (int g = 0; g < groupSize; g++) {
                float[] own = Synth.unitOrthogonal(rng, d, mu);
                float[] nu = new float[d];
                for (int c = 0; c < d; c++) {
                    nu[c] = (float) (Math.sqrt(gq) * nuShared[c] + Math.sqrt(1 - gq) * own[c]);
                }
                nu = Synth.unitOrthogonal(nu, mu);
                float[] qdir = new float[d];
                for (int c = 0; c < d; c++) {
                    qdir[c] = (float) (-rho * mu[c] + Math.sqrt(1 - rho * rho) * nu[c]);
                }
                float[] qs = Synth.channelScales(rng, d, qc, p.queryOutlierMin(), p.queryOutlierMax());
                bases[g] = GaussianHead.of(qdir, p.queryOffset() * sqrtD, Synth.gaussian(rng, d * p.queryRank(), 1),
                        p.queryRank(), p.queryLowRankShare(), qs);
            }
            return new Models(mu, ub, ks, kc, keys, values, bases, sharedDev, sinkDir);
        }
    }

    private final Params params;

    public LlmTraceGenerator(Params params) {
        this.params = params;
    }

    /** The default-parameter generator. */
    public LlmTraceGenerator() {
        this(Params.defaults());
    }

    public Params params() {
        return params;
    }

    @Override
    public String name() {
        return "llm";
    }

    @Override
    public Trace generate(ModelShape shape, int promptTokens, int steps, long seed) {
        Params p = params;
        int d = shape.headDim();
        int gs = shape.groupSize();
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("generator", "llm");
        meta.put("seed", Long.toString(seed));
        meta.put("params", p.toString());
        return PlantedEngine.generate("llm", shape, promptTokens, steps, seed, (layer, kvHead, rng) -> {
            Models m = Models.draw(p, d, gs, rng);
            SlotPolicy policy = new SlotPolicy(gs, p.plantedPerHead(), p.sharedPerGroup(), p.recentPerHead(),
                    p.recentWindow(), p.recentWeight(), p.persistence(), p.recentShared(),
                    (r, context) -> SlotPolicy.uniformBeforeWindow(r, context, p.recentWindow(), p.sinkTokens()));
            return m.group(p, t -> m.keys(), policy, p.targetMass());
        }, meta);
    }
}
