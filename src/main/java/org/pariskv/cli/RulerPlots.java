package org.pariskv.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.pariskv.model.tasks.LongContextTask;
import org.pariskv.model.tasks.SuiteResult;

/** PNG plots of {@code pariskv ruler} (xchart, headless): per task, accuracy against context, one line per method. */
final class RulerPlots {
    private RulerPlots() {}

    /** Writes {@code accuracy-<task>.png} for every task; returns the files. */
    static List<Path> accuracyPlots(SuiteResult r, Path dir) {
        System.setProperty("java.awt.headless", "true");
        List<Path> files = new ArrayList<>();
        List<Integer> contexts = r.plan().contexts().stream().sorted().toList();
        for (LongContextTask t : r.plan().tasks()) {
            XYChart c = new XYChartBuilder().width(ComparePlots.WIDTH).height(ComparePlots.HEIGHT)
                    .title(t.name() + ": accuracy vs context (" + r.plan().samples() + " per point)")
                    .xAxisTitle("context (bytes = tokens)").yAxisTitle("accuracy").build();
            c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
            c.getStyler().setChartTitleFont(c.getStyler().getChartTitleFont().deriveFont(13f));
            c.getStyler().setMarkerSize(7);
            c.getStyler().setYAxisMin(0.0).setYAxisMax(1.0);
            // contexts usually double: a log axis spaces them evenly
            c.getStyler().setXAxisLogarithmic(contexts.size() > 1 && contexts.getLast() >= 4 * contexts.getFirst());
            for (String m : r.plan().methods()) {
                List<Double> x = new ArrayList<>(), y = new ArrayList<>();
                for (int ctx : contexts) {
                    x.add((double) ctx);
                    y.add(r.cell(t.name(), ctx, m).accuracy());
                }
                c.addSeries(m, x, y).setMarker(SeriesMarkers.CIRCLE);
            }
            Path file = dir.resolve("accuracy-" + t.name() + ".png");
            try {
                BitmapEncoder.saveBitmap(c, file.toString(), BitmapEncoder.BitmapFormat.PNG);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
            }
            files.add(file);
        }
        return files;
    }
}
