package org.pariskv.cli;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/** {@code pariskv plan}: the budget table, exit 0/1 on fit, exit 2 with one line on bad arguments. */
class PlanCommandTest {

    static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void printsTheBudgetAndFits() {
        CliRun r = run("plan", "--shape", "llama3-8b", "--context", "1048576", "--offload", "--device-memory", "70G", "--host-memory", "200G");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("| K/V rows (host-mapped) | 0.00 MiB | 4.00 GiB | 0.00 MiB | 128.00 GiB |"), r.out());
        assertTrue(r.out().contains("index: 112 B per key per KV head"), r.out());
        assertTrue(r.out().contains("host K/V rows: 128.00 GiB reserved up front (address space), committed in segments of 65536 tokens"
                + " as the context grows (each segment page-locked once); fits below is for the full context"), r.out());
        assertTrue(r.out().contains("fits: yes"), r.out());
    }

    @Test
    void anUnknownDeviceBudgetIsNotAFit() {
        CliRun r = run("plan", "--context", "131072", "--host-memory", "200G");
        assertEquals(0, r.code(), r.err());
        assertFalse(r.out().contains("fits: yes"), r.out());
        assertTrue(r.out().contains("fits: not known: the device budget unknown, so not checked (give --device or --device-memory)"), r.out());
    }

    @Test
    void aWholeModelAddsItsWeightsAndTakesThePlacementThatFits() {
        CliRun r = run("plan", "--model", "llama3-8b", "--context", "131072", "--device-memory", "139G", "--host-memory", "125G");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("K/V: device"), r.out());
        assertTrue(r.out().contains("| weights | 14.96 GiB | - |"), r.out());
        assertTrue(r.out().contains("fits: yes"), r.out());
        // 128K x 8 on the device does not fit beside the weights: with 200G of host memory the K/V go there
        CliRun b8 = run("plan", "--model", "llama3-8b", "--context", "131072", "--batch", "8", "--device-memory", "139G", "--host-memory", "200G");
        assertEquals(0, b8.code(), b8.err());
        assertTrue(b8.out().contains("K/V: mapped"), b8.out());
        // 1M: neither side alone holds 128 GiB of K/V beside the rest
        CliRun m = run("plan", "--model", "llama3-8b", "--context", "1048576", "--device-memory", "139G", "--host-memory", "125G");
        assertEquals(1, m.code(), m.err());
        assertTrue(m.out().contains("with --kv mapped: llama3-8b at context 1048576, batch 1, K/V mapped needs 128.00 GiB of host memory"), m.out());
        assertTrue(m.out().contains("tiered placement"), m.out());
        CliRun unknown = run("plan", "--model", "llama3-8b", "--context", "131072", "--host-memory", "125G");
        assertTrue(unknown.out().contains("fits: not known"), unknown.out());
        CliRun bad = run("plan", "--model", "llama3-9b", "--context", "131072");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--model llama3-9b: unknown"), bad.err());
        CliRun both = run("plan", "--model", "llama3-8b", "--shape", "small", "--context", "131072");
        assertEquals(2, both.code());
        assertTrue(both.err().contains("leave out --shape"), both.err());
    }

    @Test
    void doesNotFitWithoutOffload() {
        CliRun r = run("plan", "--context", "1048576", "--device-memory", "70G", "--host-memory", "200G");
        assertEquals(1, r.code());
        assertTrue(r.out().contains("fits: no: not enough device memory"), r.out());
        assertTrue(r.out().contains("pass --offload"), r.out());
    }

    @Test
    void badArgumentsExit2WithOneLine() {
        for (String[] args : new String[][] {
                {"plan", "--context", "abc"},
                {"plan"},
                {"plan", "--context", "100", "--device-memory", "7X"},
                {"plan", "--context", "-5"},
                {"plan", "--context", "100", "--shape", "nope"},
                {"plan", "--context", "100", "--gqa", "sideways"}}) {
            CliRun r = run(args);
            assertEquals(2, r.code(), String.join(" ", args) + ": " + r.err());
            String[] lines = r.err().strip().lines().filter(l -> !l.startsWith("WARNING")).toArray(String[]::new);
            assertEquals(1, lines.length, String.join(" ", args) + ": " + r.err());
            assertTrue(lines[0].startsWith("pariskv: "), lines[0]);
        }
    }
}
