package org.pariskv.eval;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.pariskv.ParisKvConfig;
import org.pariskv.ShapeProfiles;
import org.pariskv.method.Methods;
import org.pariskv.trace.Trace;
import org.pariskv.trace.TraceGenerators;

/** A run reports its prefill layer by layer before the first decode step, so a progress bar is not stuck at 0. */
class PrefillProgressTest {

    @Test
    void prefillIsReportedPerLayerBeforeTheSteps() {
        Trace t = TraceGenerators.byName("llm").generate(ShapeProfiles.byName("small").withLayers(3), 2600, 2, 1);
        List<String> events = new ArrayList<>();
        Evaluation.Options options = Evaluation.Options.defaults().withPrefillProgress(l -> events.add("prefill " + l));
        EvalResult r = Evaluation.run(t, Methods.byName("pariskv"), ParisKvConfig.defaults().withTopk(64), "java", s -> events.add("step " + s), options);
        assertEquals(List.of("prefill 0", "prefill 1", "prefill 2", "prefill 3", "step 0", "step 1"), events);
        assertEquals(2, r.steps());
    }

    @Test
    void withoutAListenerNothingChanges() {
        Trace t = TraceGenerators.byName("llm").generate(ShapeProfiles.byName("small"), 2600, 2, 1);
        ParisKvConfig cfg = ParisKvConfig.defaults().withTopk(64);
        EvalResult a = Evaluation.run(t, Methods.byName("pariskv"), cfg, "java", null);
        EvalResult b = Evaluation.run(t, Methods.byName("pariskv"), cfg, "java", null, Evaluation.Options.defaults().withPrefillProgress(l -> { }));
        assertEquals(a.recallAtK().mean(), b.recallAtK().mean());
        assertEquals(a.outputRelError().mean(), b.outputRelError().mean());
    }
}
