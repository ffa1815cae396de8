package org.pariskv.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/** {@code --model}'s folder, checked the same way by every command that loads a model. */
final class ModelFolder {
    private ModelFolder() {}

    /** {@code dir} itself, or a one-line reason: it does not exist, or it is a file (e.g. model.safetensors) and not the folder. */
    static Path require(Path dir) {
        if (Files.isDirectory(dir)) return dir;
        if (Files.exists(dir)) {
            throw new IllegalArgumentException("--model " + dir + " is a file; give the model's folder (config.json + model.safetensors, or a sharded index)");
        }
        throw new IllegalArgumentException("--model " + dir + ": no such folder (a model folder holds config.json + model.safetensors)");
    }
}
