package org.pariskv.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.pariskv.trace.Json;

/** {@code pariskv demo}: the bundled model finds the pass key with ParisKV and with full attention, and says what it cost. */
class DemoCommandTest {

    @Test
    void bothMethodsFindThePassKeyAndReportTheirCost() {
        // 2500 bytes: above the dense threshold (2000), so ParisKV's decode steps are sparse
        CliRun r = CliRun.of("demo", "--context", "2500", "--depth", "0.3", "--format", "json", "--device", "java");
        assertEquals(0, r.code(), r.err());
        Map<?, ?> top = (Map<?, ?>) Json.parse(r.out().trim());
        List<?> rows = (List<?>) top.get("methods");
        assertEquals(2, rows.size());
        for (Object o : rows) {
            Map<?, ?> m = (Map<?, ?>) o;
            assertEquals(m.get("expected"), m.get("answer"), m.toString());
            assertEquals(Boolean.TRUE, m.get("correct"));
            assertTrue(((Number) m.get("ms_per_token")).doubleValue() > 0, m.toString());
            assertTrue(((Number) m.get("prefill_tokens_per_s")).doubleValue() > 0, m.toString());
            assertTrue(((Number) m.get("kv_mib")).doubleValue() > 0, m.toString());
        }
        double pariskv = ((Number) ((Map<?, ?>) rows.get(0)).get("attended_share")).doubleValue();
        double full = ((Number) ((Map<?, ?>) rows.get(1)).get("attended_share")).doubleValue();
        assertEquals(1.0, full, 1e-9);
        // sink 4 + top-100 + local 512 (+ the step's own token) of ~2500 per KV head
        assertTrue(pariskv > 0.15 && pariskv < 0.35, "ParisKV attended share " + pariskv);
    }

    @Test
    void badArgumentsExitTwoWithOneLine() {
        for (String[] args : new String[][] {{"demo", "--methods", "nope"}, {"demo", "--format", "xml"}, {"demo", "--context", "100"},
                {"demo", "--depth", "2"}}) {
            CliRun r = CliRun.of(args);
            assertEquals(2, r.code(), String.join(" ", args) + ": " + r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
        }
    }
}
