package org.pariskv.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pariskv.compute.OpenClTestSupport;
import org.pariskv.trace.Json;

/** {@code pariskv bench --kv}: staged K/V on OpenCL (PoCL on CI): bytes per step in the JSON, full attention skipped. */
class BenchCommandTest {

    static CliRun run(String... args) {
        return CliRun.of(args);
    }

    static Map<?, ?> point(Path dir) throws Exception {
        Map<?, ?> json = (Map<?, ?>) Json.parse(Files.readString(dir.resolve("bench.json")));
        return (Map<?, ?>) ((List<?>) json.get("points")).getFirst();
    }

    @Test
    void stagedBenchReportsBytesPerStepAndSkipsFullAttention(@TempDir Path tmp) throws Exception {
        String device = OpenClTestSupport.openClDevice().spec();
        String[] common = {"bench", "--device", device, "--shape", "small", "--context", "3000", "--batch", "1", "--steps", "3", "--warmup", "2", "--topk", "50"};
        CliRun staged = run(concat(common, "--kv", "staged", "--out", tmp.resolve("staged").toString()));
        assertEquals(0, staged.code(), staged.err());
        assertTrue(staged.err().contains("full attention skipped"), staged.err());
        assertTrue(staged.out().contains("| skipped |"), staged.out());
        Map<?, ?> p = point(tmp.resolve("staged"));
        assertEquals("HOST_STAGED", p.get("kv_memory"));
        // one segment (3020 tokens < 65536) of K and V rows, 2 KV heads × D 64 × bf16, in use at the end
        assertEquals(2L * 2 * 2 * 3020 * 64, ((Number) p.get("host_kv_committed_bytes")).longValue());
        assertNull(p.get("full_attention_ms"));
        double h2d = ((Number) p.get("h2d_bytes_per_step")).doubleValue(), rows = ((Number) p.get("attended_row_bytes_per_step")).doubleValue();
        assertTrue(rows > 0, "attended rows " + rows);
        // no re-transfers: the sink and local rows stay in the device window, so a step copies its top-k rows
        // (2 KV heads x 50 x K and V x D 64 x bf16) and its inputs, a fraction of the rows it attends
        long topk = 2L * 50 * 2 * 64 * 2;
        assertTrue(h2d >= topk && h2d < 0.25 * rows, "h2d " + h2d + " vs top-k rows " + topk + " and attended rows " + rows);
        Map<?, ?> tasks = (Map<?, ?>) p.get("pariskv_task_us");
        assertTrue(tasks.containsKey("gatherRows") && tasks.containsKey("stagingCopy") && tasks.containsKey("sparseAttentionStaged"), tasks.toString());
        assertFalse(tasks.containsKey("sparseAttention"), tasks.toString());

        CliRun mapped = run(concat(common, "--offload", "--out", tmp.resolve("mapped").toString()));
        assertEquals(0, mapped.code(), mapped.err());
        Map<?, ?> m = point(tmp.resolve("mapped"));
        assertNotNull(m.get("full_attention_ms"));
        assertEquals("OPENCL_USE_HOST_PTR", m.get("kv_memory"));
        assertEquals(2L * 2 * 2 * 3020 * 64, ((Number) m.get("host_kv_committed_bytes")).longValue());
        assertEquals(rows, ((Number) m.get("attended_row_bytes_per_step")).doubleValue(), 1e-6 * rows, "mapped: the same rows read in place");
        assertTrue(((Number) m.get("h2d_bytes_per_step")).doubleValue() < 0.2 * rows, "mapped copies no rows");

        CliRun bad = run(concat(common, "--kv", "staged", "--offload"));
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--offload means --kv mapped"), bad.err());
        CliRun unknown = run(concat(common, "--kv", "nowhere"));
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("unknown --kv 'nowhere'"), unknown.err());
    }

    static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
