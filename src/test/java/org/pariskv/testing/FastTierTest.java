package org.pariskv.testing;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The two tiers: {@code ./pariskv test} is the full suite (only the soak tests left out), {@code ./pariskv test --fast}
 * the Maven profile {@code fast}, which also leaves out {@code @Tag("slow")} and runs two forks.
 */
class FastTierTest {

    static String profile(String pom, String id) {
        Matcher m = Pattern.compile("<profile>\\s*(?:<!--.*?-->\\s*)?<id>" + id + "</id>(.*?)</profile>", Pattern.DOTALL).matcher(pom);
        assertTrue(m.find(), "pom.xml has a profile " + id);
        return m.group(1);
    }

    @Test
    void fastProfileLeavesOutSlowTestsAndForks() throws Exception {
        String pom = Files.readString(Path.of("pom.xml"));
        String fast = profile(pom, "fast");
        assertTrue(fast.contains("<surefire.excludedGroups>soak,slow</surefire.excludedGroups>"), fast);
        assertTrue(fast.contains("<surefire.forkCount>2</surefire.forkCount>"), fast);
        // the default (what CI runs) leaves out the soak tests only, in one JVM
        String props = pom.substring(pom.indexOf("<properties>"), pom.indexOf("</properties>"));
        assertTrue(props.contains("<surefire.excludedGroups>soak</surefire.excludedGroups>"), props);
        assertTrue(props.contains("<surefire.forkCount>1</surefire.forkCount>"), props);
        Matcher excluded = Pattern.compile("<exclude>\\*\\*/(\\S+)\\.java</exclude>").matcher(fast);
        while (excluded.find()) assertTrue(Files.exists(Path.of("src/test/java/org/pariskv", excluded.group(1) + ".java")), "excluded class exists: " + excluded.group(1));
    }

    @Test
    void launcherMapsFastToTheProfile() throws Exception {
        String launcher = Files.readString(Path.of("pariskv"));
        assertTrue(launcher.contains("if [ \"${1:-}\" = \"--fast\" ]; then shift; set -- -Pfast \"$@\"; fi"), "./pariskv test --fast runs -Pfast");
    }
}
