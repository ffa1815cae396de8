package org.pariskv.model.tasks;

import java.util.Arrays;
import org.pariskv.model.PrefillRecord;
import org.pariskv.model.Session;

/**
 * One prefill for every method of a suite run. Prefill is full causal attention whatever the retrieval method, so
 * the first answerer to see a prompt runs it and records the K/V, and the others replay that record (their own index
 * built from the same rows). Only the last prompt's record is kept (f32 K/V of all layers: 128 MiB at 16K tokens for
 * the bundled model), which suffices when every method answers an instance before the next one starts.
 */
public final class SharedPrefill {
    private PrefillRecord last;

    /** Prefills {@code session} with {@code tokens}: a replay when the last prompt was the same, else a recorded prefill. */
    public synchronized void prefill(Session session, int[] tokens) {
        if (last != null && Arrays.equals(last.tokens(), tokens)) {
            try {
                session.prefill(last);
                return;
            } catch (IllegalArgumentException otherModel) {
                // a different checkpoint: prefill it for real below and keep its record instead
            }
        }
        last = null; // free the old record before the new prefill allocates
        last = session.prefillRecorded(tokens);
    }
}
