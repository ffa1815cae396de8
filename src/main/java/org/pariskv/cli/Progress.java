package org.pariskv.cli;

import java.util.function.IntConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** A progress bar on stderr for long runs; silent when disabled (JSON output, tests). */
final class Progress implements AutoCloseable {
    private final ProgressBar bar;

    Progress(String task, long total, boolean enabled) {
        this.bar = enabled && interactive() ? new ProgressBarBuilder().setTaskName(task).setInitialMax(total)
                .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250).continuousUpdate().build() : null;
    }

    /** Only a terminal gets a live bar; logs and pipes would fill with redraws. */
    private static boolean interactive() {
        java.io.Console c = System.console();
        return c != null && c.isTerminal();
    }

    IntConsumer stepper() {
        return i -> {
            if (bar != null) bar.step();
        };
    }

    /** Moves the bar to {@code n} done (of the total). */
    IntConsumer stepTo() {
        return n -> {
            if (bar != null) bar.stepTo(n);
        };
    }

    void extra(String message) {
        if (bar != null) bar.setExtraMessage(message);
    }

    @Override
    public void close() {
        if (bar != null) bar.close();
    }
}
