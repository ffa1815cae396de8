package org.pariskv.examples;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * README's Java snippets marked {@code <!-- compiled by ReadmeSnippetsTest -->} compile against the API as they
 * are written (imports at the top, statements after) and run: each becomes a static method whose parameters are
 * the inputs the snippet's comments describe ({@link #GIVEN}), then is called with small inputs.
 */
class ReadmeSnippetsTest {

    static final String MARK = "<!-- compiled by ReadmeSnippetsTest -->";

    /** The inputs a snippet may use without declaring them, with the small values the run passes. */
    static final Map<String, String> GIVEN = new LinkedHashMap<>();
    static {
        GIVEN.put("promptTokens", "int promptTokens");
        GIVEN.put("promptK", "float[][] promptK");
        GIVEN.put("promptV", "float[][] promptV");
        GIVEN.put("q", "float[][] q");
        GIVEN.put("k", "float[][] k");
        GIVEN.put("v", "float[][] v");
        GIVEN.put("prompt", "String prompt");
    }

    @TempDir
    Path classes;

    static List<String> snippets() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        List<String> out = new ArrayList<>();
        Matcher m = Pattern.compile(Pattern.quote(MARK) + "\\s*\\n```java\\n(.*?)\\n```", Pattern.DOTALL).matcher(readme);
        while (m.find()) out.add(m.group(1));
        return out;
    }

    @Test
    void readmeSnippetsCompileAndRun() throws Exception {
        List<String> snippets = snippets();
        assertTrue(snippets.size() >= 2, "README's Java snippets carry the mark " + MARK);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        List<List<String>> params = new ArrayList<>();
        List<String> args = new ArrayList<>(List.of("--add-modules", "jdk.incubator.vector", "-proc:none", "-d", classes.toString(),
                "-cp", System.getProperty("java.class.path")));
        for (int i = 0; i < snippets.size(); i++) {
            StringBuilder imports = new StringBuilder(), body = new StringBuilder();
            for (String line : snippets.get(i).split("\n")) (line.startsWith("import ") ? imports : body).append(line).append('\n');
            List<String> used = new ArrayList<>();
            GIVEN.forEach((name, decl) -> {
                if (Pattern.compile("\\b" + name + "\\b").matcher(body).find()) used.add(name);
            });
            params.add(used);
            String src = imports + "\npublic class Snippet" + i + " {\n    public static void run(" + String.join(", ", used.stream().map(GIVEN::get).toList())
                    + ") throws Exception {\n" + body + "    }\n}\n";
            args.add(Files.writeString(classes.resolve("Snippet" + i + ".java"), src).toString());
        }
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(0, javac.run(null, null, err, args.toArray(String[]::new)), "README's Java snippets do not compile:\n" + err);

        PrintStream old = System.out;
        try (URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()}, getClass().getClassLoader())) {
            System.setOut(new PrintStream(new ByteArrayOutputStream(), true));
            for (int i = 0; i < snippets.size(); i++) {
                Method run = java.util.Arrays.stream(loader.loadClass("Snippet" + i).getMethods()).filter(x -> x.getName().equals("run")).findFirst().orElseThrow();
                run.invoke(null, params.get(i).stream().map(ReadmeSnippetsTest::value).toArray());
            }
        } finally {
            System.setOut(old);
        }
    }

    /** A small input of the llama3-8b shape: 64 prompt tokens, 32 layers, 8 KV and 32 query heads of 128. */
    private static Object value(String name) {
        int tokens = 64, layers = 32, kv = 8 * 128, qn = 32 * 128;
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(1);
        return switch (name) {
            case "promptTokens" -> tokens;
            case "promptK", "promptV" -> random(rnd, layers, tokens * kv);
            case "q" -> random(rnd, layers, qn);
            case "k", "v" -> random(rnd, layers, kv);
            case "prompt" -> "The pass key is 4217. Remember it. What is the pass key?";
            default -> throw new IllegalArgumentException(name);
        };
    }

    private static float[][] random(java.util.SplittableRandom rnd, int rows, int n) {
        float[][] a = new float[rows][n];
        for (float[] r : a) for (int i = 0; i < n; i++) r[i] = (float) rnd.nextGaussian();
        return a;
    }
}
