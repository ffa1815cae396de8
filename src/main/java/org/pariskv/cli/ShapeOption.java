package org.pariskv.cli;

import picocli.CommandLine.Option;

/**
 * {@code --shape NAME}: the head geometry from profiles/, the same name in every command. Bench and plan once
 * called it {@code --profile}; that spelling still works there with a warning on stderr ({@link #name(String)}),
 * since {@code --profile} now means per-task timing (console or json) only.
 */
final class ShapeOption {

    static final String DEFAULT = "llama3-8b";

    @Option(names = "--shape", description = "Head geometry from profiles/ (llama3-8b, qwen3-8b, small; default: " + DEFAULT + ").")
    String shape;

    /** The shape named, given the value of a command's deprecated {@code --profile} (null when absent). */
    String name(String deprecatedProfile) {
        if (deprecatedProfile == null) return shape == null ? DEFAULT : shape;
        if (shape != null) throw new IllegalArgumentException("--profile is the old name of --shape: give --shape only");
        if (deprecatedProfile.equals("console") || deprecatedProfile.equals("json")) {
            throw new IllegalArgumentException("--profile " + deprecatedProfile + " (per-task timing) is for eval and demo; here the model shape is --shape NAME");
        }
        System.err.println("pariskv: warning: --profile NAME is deprecated for the model shape; use --shape " + deprecatedProfile);
        return deprecatedProfile;
    }
}
