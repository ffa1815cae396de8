package org.pariskv.model;

import java.util.List;

/**
 * What a prefill left in the cache: each chunk's post-RoPE keys and values per layer ({@code [n][Hkv][D]}) and the
 * logits after the last token. Prefill is full causal attention whatever the retrieval method, so its K/V do not
 * depend on the method: {@link Session#prefill(PrefillRecord)} replays a record into another method's session,
 * building that method's index from the same rows, without running the model again.
 *
 * @param source the checkpoint folder of the model that made it (a replay into another checkpoint is refused)
 * @param config that model's configuration
 * @param tokens the prompt
 * @param chunks the chunks in prompt order
 * @param logits the next-token logits after the last prompt token
 */
public record PrefillRecord(java.nio.file.Path source, LlamaConfig config, int[] tokens, List<Chunk> chunks, float[] logits) {

    /** One chunk of {@code n} tokens: {@code keys[layer]} and {@code values[layer]}, each {@code [n][Hkv][D]}. */
    public record Chunk(int n, float[][] keys, float[][] values) {}

    /** Bytes the record holds (f32 K/V), for callers that keep several. */
    public long bytes() {
        long b = 0;
        for (Chunk c : chunks) for (float[] k : c.keys()) b += 8L * k.length;
        return b;
    }
}
