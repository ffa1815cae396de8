package org.pariskv.peers;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.cache.Attended;
import org.pariskv.cache.KvCache;
import org.pariskv.method.Methods;
import org.pariskv.method.RetrievalMethod;

class PeersTest {

    static final ModelShape SHAPE = new ModelShape(2, 8, 2, 64);

    @Test
    void everyPeerIsRegisteredByName() {
        assertTrue(Methods.names().containsAll(Peers.NAMES), Methods.names().toString());
        for (String name : Peers.NAMES) {
            RetrievalMethod m = Methods.byName(name);
            assertEquals(name, m.name());
            assertTrue(m.sparse());
        }
        assertInstanceOf(LouisKv.class, Methods.byName("louiskv"));
        assertInstanceOf(MagicPig.class, Methods.byName("magicpig"));
        assertInstanceOf(PqCache.class, Methods.byName("pqcache"));
        assertInstanceOf(Quest.class, Methods.byName("quest"));
        assertEquals(new MagicPig.Params(10, 150, 2), ((MagicPig) Methods.byName("magicpig")).params());
        assertEquals(new PqCache.Params(2, 6, 10), ((PqCache) Methods.byName("pqcache")).params());
        assertEquals(16, ((Quest) Methods.byName("quest")).params().pageSize());
        assertEquals(0.7, ((LouisKv) Methods.byName("louiskv")).params().tau());
    }

    /** Prefill + decode steps (the zone grows by intervals meanwhile) on every layer; returns all outputs. */
    static float[] run(RetrievalMethod m, ParisKvConfig cfg, long seed) {
        int prompt = 600, steps = 40;
        int qn = SHAPE.queryHeads() * SHAPE.headDim(), kv = SHAPE.kvHeads() * SHAPE.headDim();
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] all = new float[steps * SHAPE.layers() * qn];
        try (KvCache cache = PeerFixture.prefilled(SHAPE, cfg, m, prompt, rnd)) {
            int zoneAfterPrefill = cache.layer(0).zoneEnd(0);
            float[] out = new float[qn];
            for (int s = 0; s < steps; s++) {
                for (int l = 0; l < SHAPE.layers(); l++) {
                    Attended[] a = cache.layer(l).decode(new int[] {0}, PeerFixture.random(rnd, qn), PeerFixture.random(rnd, kv), PeerFixture.random(rnd, kv), out);
                    assertFalse(a[0].dense(), m.name());
                    for (int[] r : a[0].retrievedPerKvHead()) {
                        for (int i = 0; i < r.length; i++) {
                            assertTrue(r[i] >= PeerFixture.SINK && r[i] < cache.layer(l).zoneEnd(0), m.name() + ": token outside the zone");
                            if (i > 0) assertTrue(r[i] > r[i - 1], m.name() + ": not ascending/unique");
                        }
                    }
                    for (float x : out) assertTrue(Float.isFinite(x), m.name() + ": non-finite output");
                    System.arraycopy(out, 0, all, (s * SHAPE.layers() + l) * qn, qn);
                }
            }
            assertTrue(cache.layer(0).zoneEnd(0) > zoneAfterPrefill, "the zone grew while decoding");
        }
        return all;
    }

    static RetrievalMethod[] peers() {
        return new RetrievalMethod[] {new LouisKv(), new MagicPig(MagicPig.Params.of(6, 24)), new PqCache(), new Quest()};
    }

    @Test
    void everyPeerDecodesThroughTheCacheAndIsDeterministicForASeed() {
        ParisKvConfig cfg = PeerFixture.smallConfig(64);
        RetrievalMethod[] a = peers(), b = peers();
        for (int i = 0; i < a.length; i++) {
            float[] x = run(a[i], cfg, 61), y = run(b[i], cfg, 61);
            assertArrayEquals(x, y, a[i].name() + " is not deterministic");
        }
    }

    @Test
    void theConfigurationSeedDrivesTheRandomisedPeers() {
        ParisKvConfig cfg = PeerFixture.smallConfig(64);
        // same data, different method seed: randomised parts (k-means seeding, hyperplanes) change the output
        for (RetrievalMethod m : new RetrievalMethod[] {new MagicPig(MagicPig.Params.of(6, 24)), new PqCache()}) {
            float[] x = run(m, cfg, 62);
            float[] y = run(m instanceof MagicPig ? new MagicPig(MagicPig.Params.of(6, 24)) : new PqCache(), cfg.withSeed(7), 62);
            assertFalse(java.util.Arrays.equals(x, y), m.name() + " ignores the seed");
        }
    }
}
