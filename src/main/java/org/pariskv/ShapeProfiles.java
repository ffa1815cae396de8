package org.pariskv;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Properties;

/** Named model shapes from {@code profiles/<name>.properties} (packaged in the jar). */
public final class ShapeProfiles {
    private ShapeProfiles() {}

    public static final List<String> NAMES = List.of("llama3-8b", "qwen3-8b", "small");

    public static ModelShape byName(String name) {
        try (InputStream in = ShapeProfiles.class.getResourceAsStream("/profiles/" + name + ".properties")) {
            if (in == null) throw new IllegalArgumentException("unknown shape profile '" + name + "' (expected one of " + String.join(", ", NAMES) + ")");
            Properties p = new Properties();
            p.load(in);
            return new ModelShape(intProp(p, name, "layers"), intProp(p, name, "queryHeads"), intProp(p, name, "kvHeads"), intProp(p, name, "headDim"));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot read shape profile " + name, e);
        }
    }

    private static int intProp(Properties p, String profile, String key) {
        String v = p.getProperty(key);
        if (v == null) throw new IllegalArgumentException("shape profile " + profile + " lacks '" + key + "'");
        return Integer.parseInt(v.trim());
    }
}
