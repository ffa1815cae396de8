package org.pariskv.metrics;

import java.util.Arrays;

/**
 * Collects the values of one metric (one per decode step, head, ...) and summarises them.
 * Keeps every value (a double each) so that percentiles are exact. Not thread-safe.
 */
public final class RunningStats {
    private double[] values = new double[64];
    private int count;
    private double sum;

    /** Adds one value; NaN is rejected because it would poison every statistic. */
    public void add(double v) {
        if (Double.isNaN(v)) {
            throw new IllegalArgumentException("RunningStats: NaN value at index " + count);
        }
        if (count == values.length) {
            values = Arrays.copyOf(values, count * 2);
        }
        values[count++] = v;
        sum += v;
    }

    /** Adds every value of another collector. */
    public void addAll(RunningStats other) {
        for (int i = 0; i < other.count; i++) {
            add(other.values[i]);
        }
    }

    public int count() {
        return count;
    }

    public double mean() {
        return count == 0 ? Double.NaN : sum / count;
    }

    /** Mean, min, p50, p95, max; {@link MetricSummary#empty()} when no value was added. */
    public MetricSummary summary() {
        if (count == 0) {
            return MetricSummary.empty();
        }
        double[] s = Arrays.copyOf(values, count);
        Arrays.sort(s);
        return new MetricSummary(count, sum / count, s[0], nearestRank(s, 50), nearestRank(s, 95), s[count - 1]);
    }

    /** Nearest-rank percentile of a sorted, non-empty array. */
    static double nearestRank(double[] sorted, double p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }
}
