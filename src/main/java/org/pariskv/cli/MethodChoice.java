package org.pariskv.cli;

import java.util.Locale;
import java.util.TreeSet;
import org.pariskv.ParisKvConfig;
import org.pariskv.method.Methods;
import org.pariskv.method.RetrievalMethod;

/**
 * A method name as every command takes it: a registered method, or {@code pariskv-ref} (alias
 * {@code pariskv-reference}), ParisKV under {@link ParisKvConfig#reference()} (group-mean GQA, no key centring).
 */
record MethodChoice(String label, String registered, boolean reference) {

    static MethodChoice parse(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        if (n.equals("pariskv-ref") || n.equals("pariskv-reference")) return new MethodChoice("pariskv-ref", "pariskv", true);
        if (n.isEmpty()) throw new IllegalArgumentException("empty method name");
        if (!Methods.names().contains(n)) {
            throw new IllegalArgumentException("unknown method '" + name + "' (expected one of " + String.join(", ", new TreeSet<>(Methods.names()))
                    + ", pariskv-ref)");
        }
        return new MethodChoice(n, n, false);
    }

    RetrievalMethod create() {
        return Methods.byName(registered);
    }

    /** The config this method runs under: {@code cfg} itself, or the reference config with cfg's budget (adaptive included) and windows. */
    ParisKvConfig config(ParisKvConfig cfg) {
        return reference ? ParisKvConfig.reference().withTopk(cfg.topk()).withWindow(cfg.sink(), cfg.local())
                .withAdaptiveMass(cfg.adaptiveMass()).withTopkRange(cfg.topkMin(), cfg.topkMax()) : cfg;
    }
}
