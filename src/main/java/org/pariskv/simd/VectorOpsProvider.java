package org.pariskv.simd;

import java.util.logging.Logger;

/**
 * Picks the {@link VectorOps} implementation once per JVM: Panama when {@code jdk.incubator.vector} is
 * resolved and the preferred float vector has at least 8 lanes, otherwise the scalar loops. The choice is
 * logged, never silent; {@code -Dpariskv.vector=scalar|panama} forces one.
 */
final class VectorOpsProvider {
    private VectorOpsProvider() {}

    private static final Logger LOG = Logger.getLogger(VectorOpsProvider.class.getName());

    static final VectorOps INSTANCE = choose();

    private static VectorOps choose() {
        String forced = System.getProperty("pariskv.vector", "auto");
        if (forced.equals("scalar")) return new ScalarOps();
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            LOG.warning("jdk.incubator.vector is not resolved (run with --add-modules jdk.incubator.vector): using scalar loops");
            return new ScalarOps();
        }
        try {
            VectorOps panama = new PanamaOps();
            int lanes = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length();
            if (lanes < 8 && !forced.equals("panama")) {
                LOG.warning("preferred float vector has " + lanes + " lanes (< 8): using scalar loops");
                return new ScalarOps();
            }
            return panama;
        } catch (LinkageError e) {
            LOG.warning("Vector API unavailable (" + e + "): using scalar loops");
            return new ScalarOps();
        }
    }
}
