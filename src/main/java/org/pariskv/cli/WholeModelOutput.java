package org.pariskv.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.pariskv.bench.WholeModelBench;
import org.pariskv.trace.Json;

/**
 * {@code bench --model}'s report: a markdown table of ms/token and tokens/s for ParisKV and our full attention with
 * the split between the weights and attention, an optional baseline measured elsewhere ({@code --baseline}, e.g.
 * {@code profiles/gpu/hf_baseline.py}'s JSON: {@code {"name": ..., "points": [{"context", "batch", "ms_per_token"}]}}),
 * and a PNG of ms/token against context, one line a method.
 */
final class WholeModelOutput {
    private WholeModelOutput() {}

    /** A baseline's ms/token by (batch, context). */
    record Baseline(String name, Map<Integer, Map<Integer, Double>> msByBatchContext) {
        double ms(int batch, int context) {
            Map<Integer, Double> m = msByBatchContext.get(batch);
            Double v = m == null ? null : m.get(context);
            return v == null ? Double.NaN : v;
        }
    }

    /** {@code file}'s JSON, or a one-line reason naming {@code option} and the file: missing, a directory, not UTF-8 text, not JSON. */
    static Object readJson(String option, Path file) throws IOException {
        if (Files.isDirectory(file)) throw new IllegalArgumentException(option + " " + file + " is a directory, not a JSON file");
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(option + " " + file + ": no such file");
        String text;
        try {
            text = Files.readString(file);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalArgumentException(option + " " + file + " is not JSON (not UTF-8 text)", e);
        }
        try {
            return Json.parse(text);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(option + " " + file + " is not JSON: " + e.getMessage(), e);
        }
    }

    static Baseline readBaseline(Path file) throws IOException {
        Object parsed = readJson("--baseline", file);
        if (!(parsed instanceof Map<?, ?> root) || !(root.get("points") instanceof List<?> points)) {
            throw new IllegalArgumentException("--baseline " + file + ": expected {\"name\": ..., \"points\": [{\"context\", \"batch\", \"ms_per_token\"}, ...]}");
        }
        Map<Integer, Map<Integer, Double>> ms = new TreeMap<>();
        for (Object o : points) {
            if (!(o instanceof Map<?, ?> p) || !(p.get("context") instanceof Number c) || !(p.get("batch") instanceof Number b)
                    || !(p.get("ms_per_token") instanceof Number t)) {
                throw new IllegalArgumentException("--baseline " + file + ": a point without numeric context, batch and ms_per_token: " + o);
            }
            ms.computeIfAbsent(b.intValue(), k -> new TreeMap<>()).put(c.intValue(), t.doubleValue());
        }
        return new Baseline(root.get("name") instanceof String n ? n : "baseline", ms);
    }

    /** The points of a {@code bench --model} bench.json (to draw its plot again elsewhere: {@code --replot}). */
    static List<WholeModelBench.Point> readPoints(Path benchJson) throws IOException {
        if (!Files.exists(benchJson)) throw new IllegalArgumentException("--replot: no " + benchJson + " (give the --out directory of a bench --model run)");
        if (!(readJson("--replot", benchJson) instanceof Map<?, ?> root) || !(root.get("points") instanceof List<?> ps) || ps.isEmpty()) {
            throw new IllegalArgumentException("--replot: " + benchJson + " holds no points of bench --model");
        }
        List<WholeModelBench.Point> out = new ArrayList<>();
        for (Object o : ps) {
            if (!(o instanceof Map<?, ?> m) || !(m.get("pariskv_ms_per_token") instanceof Number) || !(m.get("model") instanceof String)) {
                throw new IllegalArgumentException("--replot: " + benchJson + " is not a bench --model result (a point without pariskv_ms_per_token or model)");
            }
            out.add(new WholeModelBench.Point((String) m.get("model"), num(m, "context").intValue(), num(m, "batch").intValue(), num(m, "steps").intValue(),
                    num(m, "pariskv_ms_per_token").doubleValue(), num(m, "pariskv_best_ms").doubleValue(), num(m, "full_ms_per_token").doubleValue(),
                    num(m, "full_best_ms").doubleValue(), num(m, "non_attention_ms").doubleValue(), num(m, "weight_bytes").longValue(),
                    num(m, "device_bytes").longValue(), num(m, "weight_floor_ms").doubleValue() > 0
                            ? num(m, "weight_bytes").doubleValue() / (num(m, "weight_floor_ms").doubleValue() * 1e-3) : 0, num(m, "prefill_s").doubleValue(),
                    m.get("pariskv_host_enqueue_ms") instanceof Number h ? h.doubleValue() : Double.NaN,
                    m.get("full_host_enqueue_ms") instanceof Number f ? f.doubleValue() : Double.NaN, taskUs(m.get("non_attention_task_us")),
                    taskUs(m.get("pariskv_attention_task_us")), taskUs(m.get("full_attention_task_us"))));
        }
        return out;
    }

    private static Map<String, Double> taskUs(Object o) {
        Map<String, Double> out = new java.util.LinkedHashMap<>();
        if (o instanceof Map<?, ?> m) m.forEach((k, v) -> { if (v instanceof Number n) out.put(String.valueOf(k), n.doubleValue()); });
        return out;
    }

    private static Number num(Map<?, ?> m, String key) {
        if (!(m.get(key) instanceof Number n)) throw new IllegalArgumentException("--replot: a point without a numeric " + key);
        return n;
    }

    static String markdown(String device, List<WholeModelBench.Point> points, Baseline baseline) {
        StringBuilder sb = new StringBuilder();
        WholeModelBench.Point first = points.getFirst();
        sb.append(String.format(Locale.ROOT, "device: %s%nmodel: %s (random bf16 weights generated on the device, %.1f GB read a step); "
                        + "ParisKV and full attention alternate token by token over the same caches%n%n",
                device, first.model(), first.weightBytes() / 1e9));
        sb.append("| context | batch | ParisKV ms/token | ParisKV tokens/s | full ms/token | full tokens/s | speedup | without attention (ms) | weights GB/s | weights at peak (ms) |");
        if (baseline != null) sb.append(' ').append(baseline.name()).append(" ms/token | ParisKV vs it |");
        sb.append('\n').append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        if (baseline != null) sb.append("---:|---:|");
        sb.append('\n');
        for (WholeModelBench.Point p : points) {
            sb.append(String.format(Locale.ROOT, "| %d | %d | %.3f | %.1f | %.3f | %.1f | %.2fx | %.3f | %.0f | %.2f |", p.context(), p.batch(), p.parisMs(),
                    p.parisTokensPerSec(), p.fullMs(), p.fullTokensPerSec(), p.speedup(), p.nonAttentionMs(), p.weightGBps(), p.weightFloorMs()));
            if (baseline != null) {
                double b = baseline.ms(p.batch(), p.context());
                sb.append(Double.isNaN(b) ? " - | - |" : String.format(Locale.ROOT, " %.3f | %.2fx |", b, b / p.parisMs()));
            }
            sb.append('\n');
        }
        sb.append("\nHost enqueue (ms, ParisKV / full): ");
        for (WholeModelBench.Point p : points) {
            sb.append(String.format(Locale.ROOT, "%d x %d: %.2f / %.2f; ", p.context(), p.batch(), p.parisEnqueueMs(), p.fullEnqueueMs()));
        }
        sb.append("the host's time in a step before it waits for the logits.\n");
        for (WholeModelBench.Point p : points) {
            if (p.nonAttentionTaskUs().isEmpty()) continue;
            sb.append(String.format(Locale.ROOT, "%nWithout attention, by kernel and grid, device µs a step (context %d, batch %d, profiled launch by launch):%n", p.context(), p.batch()));
            p.nonAttentionTaskUs().forEach((k, v) -> sb.append(String.format(Locale.ROOT, "- %s: %.1f%n", k, v)));
        }
        for (WholeModelBench.Point p : points) {
            if (p.parisTaskUs().isEmpty() && p.fullTaskUs().isEmpty()) continue;
            sb.append(String.format(Locale.ROOT, "%nAttention, by decoder task, device µs a step summed over the layers (context %d, batch %d, "
                    + "one step of each method profiled launch by launch):%n%n| task | ParisKV | full |%n|---|---:|---:|%n", p.context(), p.batch()));
            java.util.Set<String> names = new java.util.LinkedHashSet<>(p.parisTaskUs().keySet());
            names.addAll(p.fullTaskUs().keySet());
            double ps = 0, fs = 0;
            for (String k : names) {
                Double a = p.parisTaskUs().get(k), b = p.fullTaskUs().get(k);
                ps += a == null ? 0 : a;
                fs += b == null ? 0 : b;
                sb.append(String.format(Locale.ROOT, "| %s | %s | %s |%n", k, a == null ? "-" : String.format(Locale.ROOT, "%.1f", a),
                        b == null ? "-" : String.format(Locale.ROOT, "%.1f", b)));
            }
            sb.append(String.format(Locale.ROOT, "| **sum** | %.1f | %.1f |%n", ps, fs));
        }
        sb.append("\nms/token: median host time of a token step (every sequence of the batch advances one token), logits read back. "
                + "Without attention: the same graphs with no decoder between them.\n");
        return sb.toString();
    }

    /** {@code ms-per-token.png}: ms/token against context for each batch size and method. */
    static Path plot(List<WholeModelBench.Point> points, Baseline baseline, Path dir) {
        System.setProperty("java.awt.headless", "true");
        XYChart c = new XYChartBuilder().width(ComparePlots.WIDTH).height(ComparePlots.HEIGHT)
                .title(points.getFirst().model() + ": decode ms/token against context").xAxisTitle("context (tokens)").yAxisTitle("ms per token").build();
        c.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        c.getStyler().setMarkerSize(7);
        List<Integer> batches = points.stream().map(WholeModelBench.Point::batch).distinct().sorted().toList();
        List<Integer> contexts = points.stream().map(WholeModelBench.Point::context).distinct().sorted().toList();
        c.getStyler().setXAxisLogarithmic(contexts.size() > 1 && contexts.getLast() >= 4 * contexts.getFirst());
        for (int b : batches) {
            List<WholeModelBench.Point> ps = points.stream().filter(p -> p.batch() == b).sorted(java.util.Comparator.comparingInt(WholeModelBench.Point::context)).toList();
            List<Double> x = new ArrayList<>(), paris = new ArrayList<>(), full = new ArrayList<>(), base = new ArrayList<>(), bx = new ArrayList<>();
            for (WholeModelBench.Point p : ps) {
                x.add((double) p.context());
                paris.add(p.parisMs());
                full.add(p.fullMs());
                if (baseline != null && !Double.isNaN(baseline.ms(b, p.context()))) {
                    bx.add((double) p.context());
                    base.add(baseline.ms(b, p.context()));
                }
            }
            String suffix = batches.size() > 1 ? ", batch " + b : "";
            c.addSeries("ParisKV" + suffix, x, paris).setMarker(SeriesMarkers.CIRCLE);
            c.addSeries("our full attention" + suffix, x, full).setMarker(SeriesMarkers.SQUARE);
            if (!bx.isEmpty()) c.addSeries(baseline.name() + suffix, bx, base).setMarker(SeriesMarkers.DIAMOND);
        }
        Path file = dir.resolve("ms-per-token.png");
        try {
            BitmapEncoder.saveBitmap(c, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
        return file;
    }
}
