package org.pariskv.cache;

/**
 * What one decode step attended for one sequence of one layer: per KV head the token positions (sink,
 * retrieved and local, ascending) and whether the layer was dense (below the sparse threshold or a
 * full-attention method).
 */
public record Attended(int[][] tokensPerKvHead, int[][] retrievedPerKvHead, boolean dense, int length) {}
