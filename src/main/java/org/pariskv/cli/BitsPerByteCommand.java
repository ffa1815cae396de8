package org.pariskv.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.pariskv.ParisKvConfig;
import org.pariskv.model.BundledModel;
import org.pariskv.model.LlamaModel;
import org.pariskv.model.tasks.BitsPerByte;
import org.pariskv.model.tasks.SharedPrefill;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code pariskv bpb}: bits per byte of held-out text over a long generation, each method in every layer. */
@Command(name = "bpb", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Bits per byte of held-out text: prefill --prefill bytes, then score and feed --steps bytes one decode step at a time "
                + "through each method's attention; prints bits per byte per method and its gap to full attention.")
final class BitsPerByteCommand implements Callable<Integer> {

    @Option(names = "--methods", split = ",", defaultValue = "pariskv,full", description = "Attention methods (default: ${DEFAULT-VALUE}).")
    List<String> methods;

    @Option(names = "--prefill", defaultValue = "8192", description = "Bytes prefilled before scoring (default: ${DEFAULT-VALUE}).")
    int prefill;

    @Option(names = "--steps", defaultValue = "2048", description = "Bytes scored, one decode step each (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--text", description = "A text file (default: the bundled model's held-out text, Python 3.12 standard library files).")
    Path text;

    @Option(names = "--model", description = "Model folder (default: the bundled model).")
    Path model;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE}).")
    String format;

    @Override
    public Integer call() {
        JsonOut.checkFormat(format);
        for (String m : methods) MethodChoice.parse(m); // fail fast on a name
        byte[] bytes;
        try {
            bytes = text != null ? Files.readAllBytes(text) : BundledModel.heldOutText();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + text + ": " + e.getMessage(), e);
        }
        Path dir = model != null ? ModelFolder.require(model) : BundledModel.directory();
        SharedPrefill shared = new SharedPrefill();
        List<Map<String, Object>> rows = new ArrayList<>();
        Double fullBpb = null;
        for (String m : methods) {
            BitsPerByte.Result r;
            try (Progress p = new Progress("bpb " + m, 1, format.equals("text") && System.console() != null);
                 LlamaModel lm = LlamaModel.load(dir, MethodChoice.parse(m).registered(), MethodChoice.parse(m).config(ParisKvConfig.defaults()))) {
                r = BitsPerByte.measure(lm, bytes, prefill, steps, shared);
                p.stepper().accept(1);
            }
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("method", MethodChoice.parse(m).label());
            row.put("bits_per_byte", r.bitsPerByte());
            row.put("first_half", r.firstHalf());
            row.put("second_half", r.secondHalf());
            row.put("ms_per_step", r.msPerStep());
            rows.add(row);
            if (m.equals("full")) fullBpb = r.bitsPerByte();
        }
        for (Map<String, Object> row : rows) {
            row.put("vs_full", fullBpb == null ? null : (Double) row.get("bits_per_byte") / fullBpb - 1);
        }
        if (format.equals("json")) {
            Map<String, Object> top = new LinkedHashMap<>();
            top.put("model", dir.toString());
            top.put("text", text == null ? "bundled held-out text" : text.toString());
            top.put("prefill", prefill);
            top.put("steps", steps);
            top.put("methods", rows);
            System.out.println(JsonOut.write(top));
            return 0;
        }
        System.out.printf(Locale.ROOT, "bits per byte: %d bytes prefilled, the next %d scored and fed one decode step at a time%n%n", prefill, steps);
        System.out.printf(Locale.ROOT, "%-10s %10s %12s %12s %10s %10s%n", "method", "bits/byte", "first half", "second half", "vs full", "ms/step");
        for (Map<String, Object> r : rows) {
            Object vs = r.get("vs_full");
            System.out.printf(Locale.ROOT, "%-10s %10.4f %12.4f %12.4f %10s %10.2f%n", r.get("method"), r.get("bits_per_byte"), r.get("first_half"),
                    r.get("second_half"), vs == null ? "-" : String.format(Locale.ROOT, "%+.2f%%", 100 * (Double) vs), r.get("ms_per_step"));
        }
        return 0;
    }
}
