package org.pariskv.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.pariskv.eval.EvalResult;

/**
 * PNG plots of {@code pariskv compare} (xchart, headless): per context, recall@k, output error and time per
 * step against the budget (one line per method); per (context, budget), recall@k over the decode steps
 * (oracle left out: 1 by definition). Series with no value are left out; a chart with no series is not written.
 */
final class ComparePlots {
    private ComparePlots() {}

    static final int WIDTH = 720, HEIGHT = 440;

    /** Writes the budget plots of every context; returns the files written. */
    static List<Path> budgetPlots(List<EvalResult> results, Path dir) {
        headless();
        List<Path> files = new ArrayList<>();
        for (int ctx : results.stream().mapToInt(EvalResult::context).distinct().toArray()) {
            List<EvalResult> rs = results.stream().filter(r -> r.context() == ctx).toList();
            String trace = rs.getFirst().trace();
            boolean logX = rs.stream().mapToInt(EvalResult::topk).distinct().count() > 1;
            add(files, chart(rs, dir.resolve("recall-vs-budget-c" + ctx + ".png"), "recall@k vs budget (" + trace + ", context " + ctx + ")",
                    "recall@k", logX, true, r -> r.recallAtK().mean()));
            add(files, chart(rs, dir.resolve("error-vs-budget-c" + ctx + ".png"), "output error vs budget (" + trace + ", context " + ctx + ")",
                    "||o - o_full|| / ||o_full||", logX, false, r -> r.outputRelError().mean()));
            add(files, chart(rs, dir.resolve("time-vs-budget-c" + ctx + ".png"), "time per step vs budget (" + trace + ", context " + ctx + ")",
                    "ms / step (median)", logX, false, EvalResult::msPerStep));
        }
        return files;
    }

    /** Recall@k over decode steps, one file per (context, budget); oracle is skipped. */
    static List<Path> stepPlots(List<EvalResult> results, Path dir) {
        headless();
        List<Path> files = new ArrayList<>();
        Map<String, List<EvalResult>> groups = new LinkedHashMap<>();
        for (EvalResult r : results) groups.computeIfAbsent(r.context() + "-" + r.topk(), k -> new ArrayList<>()).add(r);
        for (List<EvalResult> rs : groups.values()) {
            EvalResult first = rs.getFirst();
            XYChart c = base("recall@k over generation (" + first.trace() + ", prompt " + (first.context() - first.steps())
                    + ", budget " + first.topk() + ")", "generated tokens (decode step)", "recall@k");
            c.getStyler().setYAxisMin(0.0).setYAxisMax(1.0);
            c.getStyler().setMarkerSize(3);
            int series = 0;
            for (EvalResult r : rs) {
                if (r.method().equals("oracle")) continue;
                double[] s = r.recallPerStep();
                List<Double> x = new ArrayList<>(), y = new ArrayList<>();
                for (int i = 0; i < s.length; i++) {
                    if (!Double.isNaN(s[i])) {
                        x.add((double) i);
                        y.add(s[i]);
                    }
                }
                if (x.isEmpty()) continue;
                XYSeries xs = c.addSeries(r.method(), x, y);
                xs.setMarker(x.size() > 200 ? SeriesMarkers.NONE : SeriesMarkers.CIRCLE);
                series++;
            }
            if (series > 0) add(files, save(c, dir.resolve("recall-steps-c" + first.context() + "-k" + first.topk() + ".png")));
        }
        return files;
    }

    private static Path chart(List<EvalResult> rs, Path file, String title, String yTitle, boolean logX, boolean unitY,
                              java.util.function.ToDoubleFunction<EvalResult> metric) {
        XYChart c = base(title, "budget (tokens per KV head)", yTitle);
        c.getStyler().setXAxisLogarithmic(logX);
        if (unitY) c.getStyler().setYAxisMin(0.0).setYAxisMax(1.0);
        int series = 0;
        Map<String, List<EvalResult>> byMethod = new LinkedHashMap<>();
        for (EvalResult r : rs) byMethod.computeIfAbsent(r.method(), k -> new ArrayList<>()).add(r);
        for (Map.Entry<String, List<EvalResult>> e : byMethod.entrySet()) {
            List<Double> x = new ArrayList<>(), y = new ArrayList<>();
            e.getValue().stream().sorted(java.util.Comparator.comparingInt(EvalResult::topk)).forEach(r -> {
                double v = metric.applyAsDouble(r);
                if (Double.isFinite(v)) {
                    x.add((double) r.topk());
                    y.add(v);
                }
            });
            if (x.isEmpty()) continue;
            c.addSeries(e.getKey(), x, y).setMarker(SeriesMarkers.CIRCLE);
            series++;
        }
        return series == 0 ? null : save(c, file);
    }

    private static XYChart base(String title, String xTitle, String yTitle) {
        XYChart c = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        c.getStyler().setChartTitleFont(c.getStyler().getChartTitleFont().deriveFont(13f));
        c.getStyler().setMarkerSize(7);
        return c;
    }

    private static Path save(XYChart c, Path file) {
        try {
            BitmapEncoder.saveBitmap(c, file.toString(), BitmapEncoder.BitmapFormat.PNG);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private static void add(List<Path> files, Path p) {
        if (p != null) files.add(p);
    }

    private static void headless() {
        System.setProperty("java.awt.headless", "true");
    }
}
