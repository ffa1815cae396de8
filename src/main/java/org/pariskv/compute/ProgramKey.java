package org.pariskv.compute;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Cache keys for compiled programs: SHA-256 over the parts that change the binary. */
final class ProgramKey {
    private ProgramKey() {}

    static String of(String... parts) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String p : parts) {
                md.update(p.getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code [-DA=1, -DB=2]} in name order (so equal maps give equal keys and options). */
    static List<String> defineOptions(Map<String, String> defines) {
        List<String> out = new ArrayList<>();
        new TreeMap<>(defines).forEach((k, v) -> {
            if (!k.matches("[A-Za-z_][A-Za-z0-9_]*")) throw new IllegalArgumentException("bad macro name '" + k + "'");
            if (v != null && !v.matches("\\S*")) throw new IllegalArgumentException("macro " + k + " has whitespace in its value");
            out.add("-D" + k + (v == null || v.isEmpty() ? "" : "=" + v));
        });
        return out;
    }
}
