package org.pariskv.cli;

/** Entry point of the {@code pariskv} command line. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        System.out.println("pariskv: command line under construction");
    }
}
