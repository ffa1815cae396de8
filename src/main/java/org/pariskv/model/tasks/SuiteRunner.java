package org.pariskv.model.tasks;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Runs a {@link SuitePlan}: per method, one {@link Answerer} from {@code answerers} answers every instance and is
 * closed (methods one at a time, so only one model is held), then accuracy is counted per cell.
 */
public final class SuiteRunner {
    private SuiteRunner() {}

    public static SuiteResult run(SuitePlan plan, Function<String, Answerer> answerers, SuiteListener listener) {
        List<InstanceResult> all = new ArrayList<>();
        for (String method : plan.methods()) {
            try (Answerer answerer = answerers.apply(method)) {
                for (LongContextTask task : plan.tasks()) {
                    for (int context : plan.contexts()) {
                        listener.starting(method, task.name(), context);
                        List<TaskInstance> instances = plan.instances(task, context);
                        for (int i = 0; i < instances.size(); i++) {
                            InstanceResult r = answer(answerer, method, i, instances.get(i));
                            all.add(r);
                            listener.answered(r);
                        }
                    }
                }
            }
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
