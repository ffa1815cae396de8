package org.pariskv.model;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.pariskv.trace.Json;

/**
 * The hand-made fixtures of src/test/resources/tokenizers (make_fixtures.py there): byte b has id b, merge i makes
 * 256 + i (0 Ġt, 1 he, 2 Ġthe, 3 ll, 4 el, 5 llo, 6 hello, 7 34, 8 12, 9 123, 10 ĠĠ, 11 's, 12 é, 13 ĊĊ, 14 er, 15 Ġw),
 * "Ġworld" = 272 is reachable by no merge, added tokens from 273. The expected ids are derived by hand from those
 * rules (and agree with tokenizers 0.23.2 / transformers 5.17 on the same files).
 */
class BpeTokenizerTest {

    @TempDir
    Path dir;

    static Path fixture(String name) {
        try {
            return Path.of(BpeTokenizerTest.class.getResource("/tokenizers/" + name + ".json").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static final BpeTokenizer LLAMA = BpeTokenizer.read(fixture("llama3-mini"));
    static final BpeTokenizer QWEN = BpeTokenizer.read(fixture("qwen2-mini"));
    static final BpeTokenizer GPT2 = BpeTokenizer.read(fixture("gpt2-mini"));

    private static void ids(BpeTokenizer t, String text, int... expected) {
        assertArrayEquals(expected, t.encode(text), () -> Json.quote(text));
    }

    @Test
    void mergesByRankNotByPosition() {
        ids(LLAMA, "hell", 257, 259);      // he (rank 1) first, then ll (3)
        ids(LLAMA, "ell", 101, 259);       // ll (3) beats the leftmost el (4)
        ids(LLAMA, "yell", 121, 101, 259);
        ids(GPT2, "1234", 32, 264, 263);   // " 1234" one pre-token: 34 (7) before 12 (8), then no 12+34
    }

    @Test
    void ignoreMergesEmitsAWholeVocabWord() {
        ids(LLAMA, "hello world", 262, 272);              // " world" is in the vocab: taken whole
        ids(GPT2, "hello world", 32, 262, 271, 111, 114, 108, 100); // no ignore_merges: Ġw + o r l d; prefix space before hello
        ids(LLAMA, " the", 258);
    }

    @Test
    void contractionsAreCaseInsensitiveOnlyInLlamaAndQwen() {
        ids(LLAMA, "he's", 257, 267);
        ids(LLAMA, "HE'S", 72, 69, 39, 83);
        ids(QWEN, "HE'S", 72, 69, 39, 83);
        ids(GPT2, "he's", 32, 257, 267);
        ids(GPT2, "HE'S", 32, 72, 69, 39, 83);
        ids(LLAMA, "The CAT'S 'LL ok'd", 84, 257, 32, 67, 65, 84, 39, 83, 32, 39, 76, 76, 32, 111, 107, 39, 100);
    }

    @Test
    void digitsGroupInThreesForLlamaAndOneByOneForQwen() {
        ids(LLAMA, "12345", 265, 52, 53);
        ids(LLAMA, "1234", 265, 52);
        ids(QWEN, "1234", 49, 50, 51, 52);
    }

    @Test
    void whitespaceRunsAndNewlines() {
        ids(LLAMA, "a  b", 97, 32, 32, 98);       // \s+(?!\S) leaves the last space to " b"
        ids(LLAMA, "a   b", 97, 266, 32, 98);
        ids(LLAMA, "a  ", 97, 266);
        ids(LLAMA, "a\n\nb", 97, 269, 98);
        ids(LLAMA, "a \n b", 97, 32, 10, 32, 98);  // \s*[\r\n]+ takes " \n"
        ids(LLAMA, "a\tb", 97, 9, 98);            // a tab joins the next word like a space
        ids(LLAMA, "a\r\nb", 97, 13, 10, 98);
        ids(QWEN, "a  b", 97, 32, 32, 98);
        ids(GPT2, "a  b", 32, 97, 32, 32, 98);
    }

    @Test
    void nonAsciiGoesThroughTheByteAlphabet() {
        ids(LLAMA, "é", 268);
        ids(LLAMA, "café", 99, 97, 102, 268);
        ids(LLAMA, "漢字", 230, 188, 162, 229, 173, 151);
        ids(LLAMA, "😀", 240, 159, 152, 128);
        ids(LLAMA, "e\u0301", 101, 204, 129); // no normalizer: e + combining acute
        ids(QWEN, "e\u0301", 268);            // NFC: é
    }

    @Test
    void addedTokensAreCutOutFirstLongestFirst() {
        ids(LLAMA, "hello<|eot_id|>world", 262, 274, 119, 111, 114, 108, 100);
        ids(LLAMA, "a<|res|>_1b", 97, 276, 98);
        ids(LLAMA, "a<|res|>_2", 97, 275, 95, 50);
        ids(LLAMA, "x<tool>y", 120, 277, 121); // not special: still matched
        ids(QWEN, "<|im_start|>hello<|im_end|>", 274, 262, 275);
        ids(GPT2, "a<|endoftext|>b", 32, 97, 273, 32, 98); // the prefix space goes before each piece
    }

    @Test
    void addedTokensWithLstripAndRstripTakeTheWhitespaceAround() throws IOException {
        String plain = "\"content\": \"<tool>\",\n   \"single_word\": false,\n   \"lstrip\": false,\n   \"rstrip\": false";
        BpeTokenizer t = BpeTokenizer.read(variant("llama3-mini", plain, plain.replace("false", "true").replaceFirst("true", "false")));
        assertEquals(List.of(new BpeTokenizer.AddedToken("<tool>", 277, false, true, true, false)),
                t.addedTokens().stream().filter(a -> a.content().equals("<tool>")).toList());
        ids(t, "x  \t<tool>\n\ny", 120, 277, 121); // as tokenizers 0.23.2
        ids(t, "a <tool><tool> b", 97, 277, 277, 98);
        refused(variant("llama3-mini", plain, plain.replaceFirst("false", "true")), "added_tokens[4].single_word");
    }

    @Test
    void decodeSkipsSpecialTokensButKeepsOtherAddedOnes() {
        assertEquals("hello<tool> world", LLAMA.decode(new int[] {273, 262, 277, 274, 272}));
        assertEquals("", LLAMA.decode(new int[] {273, 280, 100_000})); // BOS, and ids without a token
        assertThrows(IllegalArgumentException.class, () -> LLAMA.decode(new int[] {-1}));
        assertEquals("\uFFFD", LLAMA.decode(new int[] {230, 188})); // half a character
    }

    @Test
    void bosAndVocabSize() {
        assertEquals(273, LLAMA.bos());
        assertArrayEquals(new int[] {273, 262}, LLAMA.encodeWithBos("hello"));
        assertEquals(-1, QWEN.bos());
        assertEquals(-1, GPT2.bos());
        assertEquals(278, LLAMA.vocabSize());
        assertEquals(276, QWEN.vocabSize());
        assertEquals(274, GPT2.vocabSize());
    }

    @Test
    void randomUnicodeRoundTrips() {
        Random rnd = new Random(7);
        int[][] ranges = {{0x20, 0x7e}, {0x09, 0x0d}, {0xa0, 0x17f}, {0x300, 0x36f}, {0x4e00, 0x4e80}, {0x1f600, 0x1f64f}, {0x2000, 0x200a}, {0x30, 0x39}};
        for (int k = 0; k < 500; k++) {
            StringBuilder b = new StringBuilder();
            int len = rnd.nextInt(40);
            for (int i = 0; i < len; i++) {
                int[] r = ranges[rnd.nextInt(ranges.length)];
                b.appendCodePoint(r[0] + rnd.nextInt(r[1] - r[0] + 1));
            }
            String s = b.toString();
            for (BpeTokenizer t : new BpeTokenizer[] {LLAMA, GPT2}) {
                String back = t.decode(t.encode(s));
                assertEquals(t == GPT2 && !s.isEmpty() && !s.startsWith(" ") ? " " + s : s, back, () -> Json.quote(s)); // GPT-2's prefix space stays
            }
            assertEquals(Normalizer.normalize(s, Normalizer.Form.NFC), QWEN.decode(QWEN.encode(s)), () -> Json.quote(s));
        }
    }

    @Test
    @Timeout(60)
    void longInputsAreNotQuadratic() {
        String word = "hel".repeat(100_000) + "l";          // one 300K-byte pre-token: the heap, not rescans
        int[] ids = LLAMA.encode(word);
        assertEquals(word, LLAMA.decode(ids));
        assertEquals(257, ids[0]);
        String spaces = " ".repeat(200_000) + "x\n".repeat(50_000); // long runs through \s+(?!\S) and \s*[\r\n]+
        assertEquals(spaces, LLAMA.decode(LLAMA.encode(spaces)));
        StringBuilder prose = new StringBuilder();
        Random rnd = new Random(1);
        String[] words = {"hello", "world", "the", "yell", "café", "1234567", "漢字", "he's", "<|eot_id|>", "\n\n", "  "};
        while (prose.length() < 600_000) prose.append(words[rnd.nextInt(words.length)]).append(' ');
        long t0 = System.nanoTime();
        int[] p = LLAMA.encode(prose.toString());
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(p.length > 128_000, "tokens " + p.length);
        assertEquals(prose.toString().replace("<|eot_id|>", ""), LLAMA.decode(p));
        System.out.println("BpeTokenizerTest: " + p.length + " tokens of " + prose.length() + " chars in " + ms + " ms");
    }

    // ---- refused files

    private Path variant(String fixture, String from, String to) throws IOException {
        String text = Files.readString(fixture(fixture));
        assertTrue(text.contains(from), from);
        Path p = dir.resolve("tokenizer.json");
        Files.writeString(p, text.replace(from, to));
        return p;
    }

    private void refused(Path file, String... inMessage) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> BpeTokenizer.read(file));
        assertEquals(file, e.file());
        assertTrue(e.getMessage().startsWith("tokenizer.json: "), e.getMessage());
        for (String s : inMessage) assertTrue(e.getMessage().contains(s), () -> "'" + s + "' not in: " + e.getMessage());
    }

    @Test
    void refusesMalformedFiles() throws IOException {
        Path p = dir.resolve("tokenizer.json");
        Files.writeString(p, Files.readString(fixture("llama3-mini")).substring(0, 500));
        refused(p, "not valid JSON");
        refused(dir.resolve("absent").resolve("tokenizer.json"), "file not found");
        Files.writeString(p, "[1, 2]");
        refused(p, "not a JSON object");
        refused(variant("llama3-mini", "\"vocab\": {", "\"vocab\": 3, \"x\": {"), "model.vocab", "not an object");
    }

    @Test
    void refusesOtherModelTypes() throws IOException {
        for (String type : new String[] {"WordPiece", "Unigram", "WordLevel"}) {
            refused(variant("llama3-mini", "\"type\": \"BPE\"", "\"type\": \"" + type + "\""), "model.type", type);
        }
    }

    @Test
    void refusesUnknownPreTokenizersNormalizersAndDecoders() throws IOException {
        refused(variant("llama3-mini", "\"type\": \"Split\"", "\"type\": \"Whitespace\""), "pre_tokenizer.pretokenizers[0].type", "Whitespace");
        refused(variant("llama3-mini", "\"behavior\": \"Isolated\"", "\"behavior\": \"Removed\""), "pre_tokenizer.pretokenizers[0].behavior");
        refused(variant("llama3-mini", "\"pattern\": {\n     \"Regex\": \"", "\"pattern\": {\n     \"Regex\": \"(unclosed"), "pre_tokenizer.pretokenizers[0].pattern.Regex");
        refused(variant("gpt2-mini", "\"pre_tokenizer\": {\n  \"type\": \"ByteLevel\"", "\"pre_tokenizer\": {\n  \"type\": \"Metaspace\""), "pre_tokenizer.type", "Metaspace");
        refused(variant("llama3-mini", "\"normalizer\": null", "\"normalizer\": {\"type\": \"Lowercase\"}"), "normalizer.type", "Lowercase");
        refused(variant("qwen2-mini", "\"type\": \"NFC\"", "\"type\": \"NFKC\""), "normalizer.type", "NFKC");
        refused(variant("llama3-mini", "\"decoder\": {\n  \"type\": \"ByteLevel\"", "\"decoder\": {\n  \"type\": \"WordPiece\""), "decoder", "WordPiece");
    }

    @Test
    void refusesMergesOutsideTheVocab() throws IOException {
        refused(variant("llama3-mini", "\"Ġ t\"", "\"Ġ zz\""), "model.merges[0]", "\"zz\" is not in model.vocab");
        refused(variant("llama3-mini", "\"h e\"", "\"h e x\""), "model.merges[1]", "two tokens");
        refused(variant("qwen2-mini", "[\n    \"h\",\n    \"e\"\n   ]", "[\n    \"h\",\n    \"zz\"\n   ]"), "model.merges[1]", "\"zz\" is not in model.vocab");
        refused(variant("llama3-mini", "\"Ġworld\": 272", "\"Ġworld\": 272, \"qq\": -4"), "model.vocab[\"qq\"]", "not a token id");
    }

    @Test
    void refusesByteFallbackWhenBytesAreMissing() throws IOException {
        Path p = variant("llama3-mini", "\"byte_fallback\": false", "\"byte_fallback\": true");
        assertEquals(LLAMA.encode("é漢").length, BpeTokenizer.read(p).encode("é漢").length); // all bytes present: never needed
        Files.writeString(p, Files.readString(p).replace("\"Ā\": 0,", ""));
        refused(p, "model.byte_fallback", "not supported");
    }

    // ---- Tokenizer.forModel

    private static LlamaConfig config(int vocab) {
        return LlamaConfig.fromJson((Map<?, ?>) Json.parse("""
                {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
                 "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": %d, "max_position_embeddings": 512}""".formatted(vocab)));
    }

    @Test
    void forModelUsesTokenizerJsonWhenPresent() throws IOException {
        assertInstanceOf(ByteTokenizer.class, Tokenizer.forModel(dir, config(256)));
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> Tokenizer.forModel(dir, config(1000)));
        assertTrue(none.getMessage().contains("no tokenizer.json"), none.getMessage());
        Files.copy(fixture("llama3-mini"), dir.resolve("tokenizer.json"));
        Tokenizer t = Tokenizer.forModel(dir, config(300));
        assertArrayEquals(new int[] {273, 262, 272}, t.encodeWithBos("hello world"));
        ModelFormatException small = assertThrows(ModelFormatException.class, () -> Tokenizer.forModel(dir, config(256)));
        assertTrue(small.getMessage().contains("vocab_size = 256"), small.getMessage());
    }
}
