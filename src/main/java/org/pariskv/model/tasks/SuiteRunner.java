package org.pariskv.model.tasks;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Runs a {@link SuitePlan}: one {@link Answerer} per method from {@code answerers}, all open for the run; every
 * instance is answered by each method in turn (so a {@link SharedPrefill} serves them all), then accuracy is counted
 * per cell. Answerers are closed at the end, in method order.
 */
public final class SuiteRunner {
    private SuiteRunner() {}

    public static SuiteResult run(SuitePlan plan, Function<String, Answerer> answerers, SuiteListener listener) {
        List<InstanceResult> all = new ArrayList<>();
        List<Answerer> open = new ArrayList<>();
        try {
            for (String method : plan.methods()) open.add(answerers.apply(method));
            for (LongContextTask task : plan.tasks()) {
                for (int context : plan.contexts()) {
                    List<TaskInstance> instances = plan.instances(task, context);
                    for (int i = 0; i < instances.size(); i++) {
                        for (int m = 0; m < open.size(); m++) {
                            String method = plan.methods().get(m);
                            if (i == 0) listener.starting(method, task.name(), context);
                            InstanceResult r = answer(open.get(m), method, i, instances.get(i));
                            all.add(r);
                            listener.answered(r);
                        }
                    }
                }
            }
        } finally {
            RuntimeException failure = null;
            for (Answerer a : open) {
                try {
                    a.close();
                } catch (RuntimeException e) {
                    if (failure == null) failure = e;
                }
            }
            if (failure != null) throw failure;
        }
        return new SuiteResult(plan, cells(plan, all), all);
    }

    private static InstanceResult answer(Answerer answerer, String method, int index, TaskInstance t) {
        byte[] prompt = t.prompt();
        long t0 = System.nanoTime();
        String generated = answerer.answer(prompt, AnswerScore.MAX_ANSWER_BYTES);
        double ms = (System.nanoTime() - t0) / 1e6;
        String got = AnswerScore.answerOf(generated == null ? "" : generated);
        return new InstanceResult(t.task(), t.target(), method, index, t.context(), t.answerDepth(), t.expected(), got,
                got.equals(t.expected()), ms);
    }

    private static List<CellAccuracy> cells(SuitePlan plan, List<InstanceResult> all) {
        List<CellAccuracy> cells = new ArrayList<>();
        for (LongContextTask task : plan.tasks()) {
            for (int context : plan.contexts()) {
                for (String method : plan.methods()) {
                    int ok = 0, n = 0;
                    for (InstanceResult r : all) {
                        if (r.task().equals(task.name()) && r.target() == context && r.method().equals(method)) {
                            n++;
                            if (r.correct()) ok++;
                        }
                    }
                    cells.add(new CellAccuracy(task.name(), context, method, ok, n));
                }
            }
        }
        return cells;
    }
}
