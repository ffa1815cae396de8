package org.pariskv.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import org.junit.jupiter.api.Tag;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A device run over several layers says each thing about the device once, not once per layer or per plan. */
@Tag("slow") // three device runs (9 s); ./pariskv test --fast leaves it out
class DeviceLinesOnceTest {

    @ParameterizedTest
    @ValueSource(strings = {"device", "mapped", "staged"})
    void eachStderrLineOnce(String kv) {
        String device = org.pariskv.compute.OpenClTestSupport.openClDevice().spec();
        CliRun r = CliRun.of("eval", "--shape", "small", "--layers", "4", "--context", "2700", "--steps", "2", "--topk", "64",
                "--device", device, "--kv", kv, "--format", "json");
        assertEquals(0, r.code(), r.err());
        Map<String, Long> counts = Arrays.stream(r.err().split("\\R")).filter(l -> !l.isBlank())
                .collect(Collectors.groupingBy(Function.identity(), Collectors.counting()));
        counts.forEach((line, n) -> assertEquals(1L, n, "said " + n + " times: " + line));
    }
}
