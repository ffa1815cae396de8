package org.pariskv.metrics;

/**
 * Summary of one metric over decode steps (or any sample).
 * Percentiles use the nearest-rank definition on the sorted sample: {@code p-th} percentile is the
 * value at 1-based rank {@code ceil(p/100 · n)}.
 *
 * @param count number of values
 * @param mean  arithmetic mean
 * @param min   smallest value
 * @param p50   median (nearest rank)
 * @param p95   95th percentile (nearest rank)
 * @param max   largest value
 */
public record MetricSummary(long count, double mean, double min, double p50, double p95, double max) {

    /** Summary of no values: count 0, every statistic NaN. */
    public static MetricSummary empty() {
        return new MetricSummary(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "mean %.4f  min %.4f  p50 %.4f  p95 %.4f  max %.4f  (n=%d)",
                mean, min, p50, p95, max, count);
    }
}
