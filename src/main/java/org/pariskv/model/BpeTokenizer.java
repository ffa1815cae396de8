package org.pariskv.model;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.pariskv.trace.Json;

/**
 * The byte-level BPE of a Hugging Face {@code tokenizer.json} (Llama-3, Qwen2/Qwen3, GPT-2), encoding as
 * {@code tokenizers} does with {@code add_special_tokens=False}: added tokens are cut out of the text first
 * (leftmost, longest), the rest is NFC-normalized when the file says so, split by the pre-tokenizer's regexes,
 * mapped through GPT-2's bytes-to-unicode alphabet and merged by rank. What this class does not implement
 * (another model type, normalizer or pre-tokenizer) is refused when the file is read, never approximated.
 */
public final class BpeTokenizer implements Tokenizer {

    /** The split of {@code ByteLevel} with {@code use_regex: true}, as in the {@code tokenizers} source. */
    static final String GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    private static final char[] BYTE_CHAR = new char[256];
    private static final int[] CHAR_BYTE = new int[512];
    private static final int CACHE_MAX = 1 << 17, CACHE_WORD_MAX = 64;

    static { // GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the others for U+0100 on
        Arrays.fill(CHAR_BYTE, -1);
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE;
            BYTE_CHAR[b] = (char) (printable ? b : 256 + n++);
            CHAR_BYTE[BYTE_CHAR[b]] = b;
        }
    }

    /** An entry of {@code added_tokens}; {@code normalized} ones are matched after the normalizer. */
    record AddedToken(String content, int id, boolean special, boolean lstrip, boolean rstrip, boolean normalized) {}

    private final Map<String, Integer> vocab;
    private final int[] byteId = new int[256];
    private final int unk;
    private final boolean ignoreMerges;
    private final Merges merges;
    private final List<AddedToken> added;
    private final Map<Character, AddedToken[]> rawAdded, normalizedAdded;
    private final boolean nfc;
    private final List<Pattern> splits; // Split steps, then ByteLevel's own regex when use_regex
    private final boolean prefixSpace;
    private final int byteLevelStep; // the index in splits where ByteLevel begins (its regex, or the end)
    private final int bos, vocabSize;
    private final byte[][] text; // the bytes each id decodes to; null: not text (special, or no token)
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    /** Reads a {@code tokenizer.json}; every problem is a {@link ModelFormatException} naming the file and field. */
    public static BpeTokenizer read(Path file) {
        if (!Files.isRegularFile(file)) throw new ModelFormatException(file, "file not found (" + file + ")");
        Object parsed;
        try {
            parsed = Json.parse(Files.readString(file));
        } catch (IOException e) {
            throw new ModelFormatException(file, "cannot read: " + e, e);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file, "not valid JSON: " + e.getMessage(), e);
        }
        if (!(parsed instanceof Map<?, ?> root)) throw new ModelFormatException(file, "not a JSON object");
        try {
            return new BpeTokenizer(file, root);
        } catch (ModelFormatException e) {
            throw e;
        } catch (IllegalArgumentException | ClassCastException | NullPointerException e) {
            throw new ModelFormatException(file, "malformed: " + e, e);
        }
    }

    private BpeTokenizer(Path file, Map<?, ?> root) {
        Reader r = new Reader(file);
        Map<?, ?> model = r.map(root.get("model"), "model");
        if (!"BPE".equals(model.get("type"))) {
            throw r.fail("model.type", "'" + model.get("type") + "' is not supported (only BPE, the byte-level BPE of Llama-3, Qwen2 and GPT-2)");
        }
        if (model.get("dropout") instanceof Number d && d.doubleValue() > 0) throw r.fail("model.dropout", d + " is not supported (encoding is deterministic here)");
        for (String affix : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
            if (model.get(affix) instanceof String s && !s.isEmpty()) throw r.fail("model." + affix, "'" + s + "' is not supported (byte-level BPE has none)");
        }
        ignoreMerges = r.flag(model, "ignore_merges", false, "model");
        boolean byteFallback = r.flag(model, "byte_fallback", false, "model");

        Map<?, ?> v = r.map(model.get("vocab"), "model.vocab");
        vocab = new HashMap<>(v.size() * 2);
        int maxId = -1;
        for (Map.Entry<?, ?> e : v.entrySet()) {
            int id = r.id(e.getValue(), "model.vocab[" + Json.quote((String) e.getKey()) + "]");
            vocab.put((String) e.getKey(), id);
            maxId = Math.max(maxId, id);
        }
        for (int b = 0; b < 256; b++) byteId[b] = vocab.getOrDefault(String.valueOf(BYTE_CHAR[b]), -1);
        boolean bytesMissing = Arrays.stream(byteId).anyMatch(id -> id < 0);
        if (byteFallback && bytesMissing) throw r.fail("model.byte_fallback", "true, and the vocab lacks byte symbols: byte fallback is not supported");
        unk = model.get("unk_token") instanceof String u ? vocab.getOrDefault(u, -1) : -1;

        List<?> m = r.list(model.get("merges"), "model.merges");
        merges = new Merges(m.size());
        for (int i = 0; i < m.size(); i++) {
            String field = "model.merges[" + i + "]";
            String a, b;
            if (m.get(i) instanceof String s) { // "a b": tokens hold no space (it is Ġ in the byte alphabet)
                String[] parts = s.split(" ", -1);
                if (parts.length != 2) throw r.fail(field, Json.quote(s) + " is not two tokens separated by one space");
                a = parts[0];
                b = parts[1];
            } else if (m.get(i) instanceof List<?> pair && pair.size() == 2 && pair.get(0) instanceof String x && pair.get(1) instanceof String y) {
                a = x;
                b = y;
            } else {
                throw r.fail(field, "neither \"a b\" nor [\"a\", \"b\"]");
            }
            merges.put(r.token(vocab, a, field), r.token(vocab, b, field), i, r.token(vocab, a + b, field));
        }

        added = new ArrayList<>();
        if (root.get("added_tokens") != null) {
            List<?> list = r.list(root.get("added_tokens"), "added_tokens");
            for (int i = 0; i < list.size(); i++) {
                String field = "added_tokens[" + i + "]";
                Map<?, ?> t = r.map(list.get(i), field);
                if (!(t.get("content") instanceof String content) || content.isEmpty()) throw r.fail(field + ".content", "missing or empty");
                if (r.flag(t, "single_word", false, field)) throw r.fail(field + ".single_word", "true is not supported");
                boolean special = r.flag(t, "special", false, field);
                added.add(new AddedToken(content, r.id(t.get("id"), field + ".id"), special, r.flag(t, "lstrip", false, field),
                        r.flag(t, "rstrip", false, field), r.flag(t, "normalized", !special, field)));
                maxId = Math.max(maxId, added.getLast().id());
            }
        }
        rawAdded = byFirstChar(added, false);
        normalizedAdded = byFirstChar(added, true);

        nfc = normalizer(r, root.get("normalizer"), "normalizer");

        splits = new ArrayList<>();
        Object pre = root.get("pre_tokenizer");
        boolean sequence = pre instanceof Map<?, ?> p && "Sequence".equals(p.get("type"));
        List<?> steps = sequence ? r.list(((Map<?, ?>) pre).get("pretokenizers"), "pre_tokenizer.pretokenizers") : pre == null ? List.of() : List.of(pre);
        Boolean prefix = null;
        int byteLevel = 0;
        for (int i = 0; i < steps.size(); i++) {
            String field = sequence ? "pre_tokenizer.pretokenizers[" + i + "]" : "pre_tokenizer";
            Map<?, ?> s = r.map(steps.get(i), field);
            if (prefix != null) throw r.fail(field, "a step after ByteLevel is not supported (ByteLevel must come last)");
            switch (String.valueOf(s.get("type"))) {
                case "Split" -> {
                    if (!"Isolated".equals(s.get("behavior"))) throw r.fail(field + ".behavior", "'" + s.get("behavior") + "' is not supported (only Isolated)");
                    if (r.flag(s, "invert", false, field)) throw r.fail(field + ".invert", "true is not supported");
                    Map<?, ?> pat = r.map(s.get("pattern"), field + ".pattern");
                    if (pat.get("Regex") instanceof String re) splits.add(r.regex(re, field + ".pattern.Regex"));
                    else if (pat.get("String") instanceof String lit) splits.add(Pattern.compile(Pattern.quote(lit)));
                    else throw r.fail(field + ".pattern", "neither {\"Regex\": ...} nor {\"String\": ...}");
                }
                case "ByteLevel" -> {
                    byteLevel = splits.size();
                    prefix = r.flag(s, "add_prefix_space", true, field); // the defaults of tokenizers' ByteLevel
                    if (r.flag(s, "use_regex", true, field)) splits.add(r.regex(GPT2_PATTERN, field));
                }
                default -> throw r.fail(field + ".type", "'" + s.get("type") + "' is not supported (only ByteLevel, Split, and a Sequence of them)");
            }
        }
        if (prefix == null) throw r.fail("pre_tokenizer", "no ByteLevel step: only byte-level BPE is supported");
        prefixSpace = prefix;
        byteLevelStep = byteLevel;

        Object dec = root.get("decoder");
        if (!(dec instanceof Map<?, ?> d && "ByteLevel".equals(d.get("type")))) {
            throw r.fail("decoder", (dec instanceof Map<?, ?> d ? "'" + d.get("type") + "'" : String.valueOf(dec)) + " is not supported (only ByteLevel)");
        }
        bos = bos(r, root.get("post_processor"), "post_processor");

        vocabSize = maxId + 1;
        text = new byte[vocabSize][];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) text[e.getValue()] = byteLevelDecode(e.getKey());
        for (AddedToken t : added) text[t.id()] = t.special() ? null : t.content().getBytes(StandardCharsets.UTF_8);
    }

    private static Map<Character, AddedToken[]> byFirstChar(List<AddedToken> added, boolean normalized) {
        Map<Character, List<AddedToken>> lists = new HashMap<>();
        for (AddedToken t : added) {
            if (t.normalized() == normalized) lists.computeIfAbsent(t.content().charAt(0), c -> new ArrayList<>()).add(t);
        }
        Map<Character, AddedToken[]> out = new HashMap<>();
        lists.forEach((c, l) -> out.put(c, l.stream().sorted(Comparator.comparingInt((AddedToken t) -> -t.content().length())).toArray(AddedToken[]::new)));
        return out;
    }

    /** True for NFC; null and an empty Sequence are no normalizer; anything else is refused. */
    private static boolean normalizer(Reader r, Object n, String field) {
        if (n == null) return false;
        Map<?, ?> m = r.map(n, field);
        if ("NFC".equals(m.get("type"))) return true;
        if ("Sequence".equals(m.get("type"))) {
            List<?> l = r.list(m.get("normalizers"), field + ".normalizers");
            boolean any = false;
            for (int i = 0; i < l.size(); i++) any |= normalizer(r, l.get(i), field + ".normalizers[" + i + "]");
            return any;
        }
        throw r.fail(field + ".type", "'" + m.get("type") + "' is not supported (only null and NFC)");
    }

    /** The id the single-sequence template starts with, or -1: TemplateProcessing, possibly inside a Sequence. */
    private static int bos(Reader r, Object p, String field) {
        if (p == null) return -1;
        Map<?, ?> m = r.map(p, field);
        switch (String.valueOf(m.get("type"))) {
            case "ByteLevel": return -1; // offsets only
            case "Sequence": {
                List<?> l = r.list(m.get("processors"), field + ".processors");
                int bos = -1;
                for (int i = 0; i < l.size(); i++) bos = Math.max(bos, bos(r, l.get(i), field + ".processors[" + i + "]"));
                return bos;
            }
            case "TemplateProcessing": {
                List<?> single = r.list(m.get("single"), field + ".single");
                if (single.isEmpty() || !(single.getFirst() instanceof Map<?, ?> first) || !(first.get("SpecialToken") instanceof Map<?, ?> st)) return -1;
                Map<?, ?> specials = r.map(m.get("special_tokens"), field + ".special_tokens");
                String f = field + ".special_tokens[" + Json.quote(String.valueOf(st.get("id"))) + "].ids";
                List<?> ids = r.list(r.map(specials.get(st.get("id")), f).get("ids"), f);
                if (ids.size() != 1) throw r.fail(f, ids.size() + " ids; a BOS must be one token");
                return r.id(ids.getFirst(), f);
            }
            default: throw r.fail(field + ".type", "'" + m.get("type") + "' is not supported (only TemplateProcessing, ByteLevel, and a Sequence of them)");
        }
    }

    private static byte[] byteLevelDecode(String token) {
        byte[] out = new byte[token.length()];
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (c >= CHAR_BYTE.length || CHAR_BYTE[c] < 0) return token.getBytes(StandardCharsets.UTF_8); // not byte-level: as tokenizers' decoder
            out[i] = (byte) CHAR_BYTE[c];
        }
        return out;
    }

    @Override
    public int[] encode(String input) {
        Ids out = new Ids(input.length() / 3 + 16);
        splitAdded(input, rawAdded, out, piece -> {
            String p = nfc ? Normalizer.normalize(piece, Normalizer.Form.NFC) : piece;
            splitAdded(p, normalizedAdded, out, q -> pretokenize(q, 0, out));
        });
        return out.toArray();
    }

    /** Emits the added tokens of {@code s} (leftmost, longest first) and hands the text between them to {@code plain}. */
    private static void splitAdded(String s, Map<Character, AddedToken[]> table, Ids out, Consumer<String> plain) {
        if (table.isEmpty()) {
            plain.accept(s);
            return;
        }
        int start = 0, i = 0;
        scan:
        while (i < s.length()) {
            AddedToken[] candidates = table.get(s.charAt(i));
            if (candidates != null) {
                for (AddedToken t : candidates) {
                    if (!s.startsWith(t.content(), i)) continue;
                    int from = i, to = i + t.content().length();
                    if (t.lstrip()) while (from > start && whitespace(s.charAt(from - 1))) from--;
                    if (t.rstrip()) while (to < s.length() && whitespace(s.charAt(to))) to++;
                    if (from > start) plain.accept(s.substring(start, from));
                    out.add(t.id());
                    start = i = to;
                    continue scan;
                }
            }
            i++;
        }
        if (start < s.length()) plain.accept(s.substring(start));
    }

    /** Unicode White_Space, as Rust's char::is_whitespace (Java's isWhitespace leaves out no-break spaces). */
    private static boolean whitespace(char c) {
        return c >= 9 && c <= 13 || c == 0x85 || Character.isSpaceChar(c);
    }

    private void pretokenize(String piece, int step, Ids out) {
        if (step == byteLevelStep && prefixSpace && !piece.startsWith(" ")) piece = " " + piece; // per piece, as tokenizers' ByteLevel
        if (step == splits.size()) {
            bpe(piece, out);
            return;
        }
        Matcher m = splits.get(step).matcher(piece);
        int last = 0;
        while (m.find()) { // Isolated: each match and each stretch between matches is one piece; empty ones are dropped
            if (m.start() > last) pretokenize(piece.substring(last, m.start()), step + 1, out);
            if (m.end() > m.start()) pretokenize(m.group(), step + 1, out);
            last = m.end();
        }
        if (last < piece.length()) pretokenize(piece.substring(last), step + 1, out);
    }

    private void bpe(String piece, Ids out) {
        int[] ids = cache.get(piece);
        if (ids == null) {
            ids = merge(piece.getBytes(StandardCharsets.UTF_8));
            if (piece.length() <= CACHE_WORD_MAX) {
                if (cache.size() >= CACHE_MAX) cache.clear(); // bounded: a long prompt of rare words must not grow it forever
                cache.put(piece, ids);
            }
        }
        for (int id : ids) out.add(id);
    }

    /** Merges the bytes of one pre-token, lowest rank first (leftmost among equals), in a linked list with a heap: O(n log n). */
    private int[] merge(byte[] b) {
        int n = b.length;
        if (ignoreMerges) {
            char[] c = new char[n];
            for (int i = 0; i < n; i++) c[i] = BYTE_CHAR[b[i] & 0xff];
            Integer whole = vocab.get(new String(c));
            if (whole != null) return new int[] {whole};
        }
        int[] sym = new int[n], next = new int[n], prev = new int[n];
        for (int i = 0; i < n; i++) {
            sym[i] = byteId[b[i] & 0xff] >= 0 ? byteId[b[i] & 0xff] : unk;
            if (sym[i] < 0) throw new IllegalArgumentException(String.format("the vocabulary has no token for byte 0x%02x and no unk_token", b[i] & 0xff));
            next[i] = i + 1;
            prev[i] = i - 1;
        }
        Heap heap = new Heap(n);
        for (int i = 0; i + 1 < n; i++) heap.push(merges.rank(sym[i], sym[i + 1]), i);
        while (heap.size > 0) {
            long top = heap.pop();
            int rank = (int) (top >>> 32), pos = (int) top, right = next[pos];
            if (sym[pos] < 0 || right >= n || merges.rank(sym[pos], sym[right]) != rank) continue; // stale entry
            sym[pos] = merges.id(sym[pos], sym[right]);
            sym[right] = -1;
            next[pos] = next[right];
            if (next[pos] < n) prev[next[pos]] = pos;
            if (prev[pos] >= 0) heap.push(merges.rank(sym[prev[pos]], sym[pos]), prev[pos]);
            if (next[pos] < n) heap.push(merges.rank(sym[pos], sym[next[pos]]), pos);
        }
        int count = 0;
        for (int i = 0; i < n; i = next[i]) count++;
        int[] ids = new int[count];
        count = 0;
        for (int i = 0; i < n; i = next[i]) ids[count++] = sym[i];
        return ids;
    }

    @Override
    public String decode(int[] tokens) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(tokens.length * 4);
        for (int t : tokens) {
            if (t < 0) throw new IllegalArgumentException("token " + t + " is negative");
            if (t < text.length && text[t] != null) out.writeBytes(text[t]); // special tokens and ids without a token are no text
        }
        return out.toString(StandardCharsets.UTF_8); // a sequence cut inside a character decodes to U+FFFD
    }

    @Override
    public int bos() {
        return bos;
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    /** The added tokens, in file order. */
    List<AddedToken> addedTokens() {
        return List.copyOf(added);
    }

    /** Pair of ids to (rank, merged id): open addressing on a long key, as a boxed map would triple Llama-3's 280K merges. */
    private static final class Merges {
        private final long[] keys;
        private final int[] ranks, ids;
        private final int mask;

        Merges(int count) {
            int cap = Integer.highestOneBit(Math.max(4, count * 2) - 1) << 1;
            keys = new long[cap];
            Arrays.fill(keys, -1);
            ranks = new int[cap];
            ids = new int[cap];
            mask = cap - 1;
        }

        private int slot(long key) {
            int s = (int) ((key * 0x9E3779B97F4A7C15L) >>> 40) & mask;
            while (keys[s] != -1 && keys[s] != key) s = (s + 1) & mask;
            return s;
        }

        void put(int a, int b, int rank, int id) { // a repeated pair keeps the later rank, as tokenizers' map does
            int s = slot((long) a << 32 | b);
            keys[s] = (long) a << 32 | b;
            ranks[s] = rank;
            ids[s] = id;
        }

        /** The rank of merging a then b, or -1. */
        int rank(int a, int b) {
            int s = slot((long) a << 32 | b);
            return keys[s] == -1 ? -1 : ranks[s];
        }

        int id(int a, int b) {
            return ids[slot((long) a << 32 | b)];
        }
    }

    /** A min-heap of (rank, position) packed in longs; negative ranks (no merge) are not pushed. */
    private static final class Heap {
        long[] a;
        int size;

        Heap(int n) {
            a = new long[Math.max(4, n)];
        }

        void push(int rank, int pos) {
            if (rank < 0) return;
            if (size == a.length) a = Arrays.copyOf(a, size * 2);
            long v = (long) rank << 32 | pos;
            int i = size++;
            while (i > 0 && a[(i - 1) / 2] > v) {
                a[i] = a[(i - 1) / 2];
                i = (i - 1) / 2;
            }
            a[i] = v;
        }

        long pop() {
            long top = a[0], v = a[--size];
            int i = 0;
            while (true) {
                int c = 2 * i + 1;
                if (c >= size) break;
                if (c + 1 < size && a[c + 1] < a[c]) c++;
                if (a[c] >= v) break;
                a[i] = a[c];
                i = c;
            }
            a[i] = v;
            return top;
        }
    }

    /** A growable int array: a 128K-token prompt would box 128K Integers in a list. */
    private static final class Ids {
        int[] a;
        int n;

        Ids(int cap) {
            a = new int[cap];
        }

        void add(int id) {
            if (n == a.length) a = Arrays.copyOf(a, n * 2);
            a[n++] = id;
        }

        int[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }

    /** Typed access to the parsed JSON, failing with the file and the field's path. */
    private record Reader(Path file) {
        ModelFormatException fail(String field, String message) {
            return new ModelFormatException(file, field + ": " + message);
        }

        Map<?, ?> map(Object o, String field) {
            if (o instanceof Map<?, ?> m) return m;
            throw fail(field, o == null ? "missing" : "not an object");
        }

        List<?> list(Object o, String field) {
            if (o instanceof List<?> l) return l;
            throw fail(field, o == null ? "missing" : "not an array");
        }

        boolean flag(Map<?, ?> m, String key, boolean absent, String field) {
            Object o = m.get(key);
            if (o == null) return absent;
            if (o instanceof Boolean b) return b;
            throw fail(field + "." + key, "not a boolean");
        }

        int id(Object o, String field) {
            if (o instanceof Long l && l >= 0 && l <= Integer.MAX_VALUE - 8) return (int) l.longValue();
            throw fail(field, o + " is not a token id");
        }

        int token(Map<String, Integer> vocab, String token, String field) {
            Integer id = vocab.get(token);
            if (id == null) throw fail(field, Json.quote(token) + " is not in model.vocab");
            return id;
        }

        /** A tokenizers (Oniguruma) pattern in java.util.regex: \s, \p{L}, \p{N}, (?i:) and lookahead mean the same with Unicode classes. */
        Pattern regex(String re, String field) {
            try {
                return Pattern.compile(re, Pattern.UNICODE_CHARACTER_CLASS);
            } catch (PatternSyntaxException e) {
                throw fail(field, "java.util.regex cannot compile " + Json.quote(re) + ": " + e.getDescription());
            }
        }
    }
}
