package org.pariskv.method;

import org.pariskv.ModelShape;
import org.pariskv.ParisKvConfig;
import org.pariskv.rotate.Rotation;

/** Where a per-head retriever lives: model shape, configuration, layer, KV head and the shared rotation. */
public record HeadContext(ModelShape shape, ParisKvConfig config, int layer, int kvHead, Rotation rotation) {}
