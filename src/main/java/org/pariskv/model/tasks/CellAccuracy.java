package org.pariskv.model.tasks;

/** Accuracy of one method on one task at one context: {@code correct} of {@code total} instances. */
public record CellAccuracy(String task, int context, String method, int correct, int total) {
    public double accuracy() {
        return correct / (double) total;
    }
}
