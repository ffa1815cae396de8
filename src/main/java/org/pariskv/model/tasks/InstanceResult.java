package org.pariskv.model.tasks;

/**
 * One answered instance.
 *
 * @param target      the context asked for (the table's row); {@code promptBytes} is the prompt's actual length
 * @param index       the instance's number within its (task, context)
 * @param depth       the depth of the needle the answer comes from
 * @param got         the scored answer (up to the first {@code \n}, at most 32 bytes)
 * @param ms          wall time of the {@link Answerer#answer} call
 */
public record InstanceResult(String task, int target, String method, int index, int promptBytes, double depth, String expected,
                             String got, boolean correct, double ms) {}
