package org.pariskv.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.pariskv.trace.Json;

/**
 * The one safetensors reader (and a small writer) of the project: traces and model weights both go through it.
 *
 * <p>Layout: 8-byte little-endian header length {@code N}, {@code N} bytes of JSON header
 * ({@code name -> {dtype, shape, data_offsets}} plus an optional {@code __metadata__}), raw little-endian data.
 * {@link #header} reads and parses only the header, so callers validate every tensor before mapping or allocating
 * anything; {@link #open} then maps the whole file read-only into a shared arena (readable from any thread) that
 * {@link #close} releases. Errors are {@link SafetensorsException}s whose message starts with the file name.
 */
public final class Safetensors implements AutoCloseable {

    /** Element types, as safetensors names them. */
    public enum Dtype {
        F64(8), F32(4), F16(2), BF16(2), I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1);

        private final int bytes;

        Dtype(int bytes) {
            this.bytes = bytes;
        }

        public int bytes() {
            return bytes;
        }

        /** The dtype named {@code name}, or null. */
        public static Dtype byName(String name) {
            for (Dtype d : values()) if (d.name().equals(name)) return d;
            return null;
        }
    }

    /** One tensor entry of the header; offsets are relative to the start of the data. */
    public record Tensor(String name, Dtype dtype, long[] shape, long begin, long end) {
        public long elements() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        public String shapeString() {
            return Arrays.toString(shape);
        }
    }

    /**
     * A header: the raw JSON entries and {@code __metadata__} value (null when absent). {@link #tensors} parses the
     * entries, so a caller can check the metadata first.
     */
    public record Header(Path file, long fileSize, long dataStart, Map<String, Object> entries, Object metadata) {

        /** The tensor entries in file order; a malformed entry or an unknown dtype is refused by name. */
        public Map<String, Tensor> tensors() {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            entries.forEach((name, value) -> tensors.put(name, tensor(file, name, value)));
            return tensors;
        }

        /** Checks that {@code t}'s offsets span exactly its dtype x shape and lie inside the file. */
        public void checkOffsets(Tensor t) {
            long need = t.elements() * t.dtype().bytes();
            if (t.end() < t.begin()) {
                throw new SafetensorsException(file, "tensor " + t.name() + ": data_offsets [" + t.begin() + ", " + t.end()
                        + "] end before they begin");
            }
            if (t.end() - t.begin() != need) {
                throw new SafetensorsException(file, "tensor " + t.name() + ": data_offsets [" + t.begin() + ", " + t.end()
                        + "] span " + (t.end() - t.begin()) + " bytes, but " + t.dtype() + " x " + t.shapeString()
                        + " needs " + need + " bytes");
            }
            if (t.end() > fileSize - dataStart) {
                throw new SafetensorsException(file, "file truncated: tensor " + t.name() + " needs data bytes ["
                        + t.begin() + ", " + t.end() + "), expected at least " + (dataStart + t.end())
                        + " bytes in the file, present " + fileSize);
            }
        }
    }

    /** How every message about a file that does not look like safetensors at all ends. */
    public static final String NOT_SAFETENSORS = "not a safetensors file";

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Header header;
    private final Map<String, Tensor> tensors;
    private final Arena arena;
    private final MemorySegment file;

    private Safetensors(Header header, Arena arena, MemorySegment file) {
        this.header = header;
        this.tensors = header.tensors();
        this.arena = arena;
        this.file = file;
    }

    /** Reads and parses the header of {@code file} without mapping it. Unknown dtypes are refused by name. */
    public static Header header(Path file) {
        if (!Files.exists(file)) throw new SafetensorsException(file, "file not found (" + file + ")");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new SafetensorsException(file, "file is " + size + " bytes, shorter than the 8-byte safetensors header length - " + NOT_SAFETENSORS);
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long n = lenBuf.getLong(0);
            if (n < 0 || n > size - 8) {
                throw new SafetensorsException(file, "header length " + Long.toUnsignedString(n)
                        + " is larger than the file allows (" + size + " bytes in all, " + (size - 8) + " after the length)"
                        + " - " + NOT_SAFETENSORS + "?"); // a guess: a truncated file ends the same way
            }
            if (n > Integer.MAX_VALUE - 8) throw new SafetensorsException(file, "header length " + n + " is too large");
            ByteBuffer hb = ByteBuffer.allocate((int) n);
            readFully(ch, hb, 8);
            Object parsed;
            try {
                parsed = Json.parse(new String(hb.array(), StandardCharsets.UTF_8));
            } catch (IllegalArgumentException e) {
                throw new SafetensorsException(file, "header is not valid JSON (" + e.getMessage() + ") - " + NOT_SAFETENSORS, e);
            }
            if (!(parsed instanceof Map<?, ?> h)) throw new SafetensorsException(file, "header is not a JSON object - " + NOT_SAFETENSORS);
            Map<String, Object> entries = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : h.entrySet()) {
                if (!e.getKey().equals("__metadata__")) entries.put((String) e.getKey(), e.getValue());
            }
            return new Header(file, size, 8 + n, entries, h.get("__metadata__"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** Maps a file whose header was read (and whose tensors the caller checked). */
    public static Safetensors map(Header header) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(header.file(), StandardOpenOption.READ)) {
            if (ch.size() != header.fileSize()) {
                throw new SafetensorsException(header.file(), "file changed size while being opened (" + header.fileSize() + " -> " + ch.size() + " bytes)");
            }
            return new Safetensors(header, arena, ch.map(FileChannel.MapMode.READ_ONLY, 0, header.fileSize(), arena));
        } catch (NoSuchFileException e) {
            arena.close();
            throw new SafetensorsException(header.file(), "file not found (" + header.file() + ")");
        } catch (IOException e) {
            arena.close();
            throw new UncheckedIOException("cannot map " + header.file() + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** {@link #header} then {@link #map}, checking the offsets of every tensor first. */
    public static Safetensors open(Path file) {
        Header h = header(file);
        h.tensors().values().forEach(h::checkOffsets);
        return map(h);
    }

    public Header header() {
        return header;
    }

    /** All tensors in file order. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    public Path file() {
        return header.file();
    }

    /** The tensor named {@code name}, or null. */
    public Tensor tensor(String name) {
        return tensors.get(name);
    }

    /** The bytes of {@code t}, a slice of the mapping (valid until {@link #close}). */
    public MemorySegment data(Tensor t) {
        header.checkOffsets(t);
        return file.asSlice(header.dataStart() + t.begin(), t.end() - t.begin());
    }

    /** {@code t} as floats (F32, F16 or BF16), copied onto the heap. */
    public float[] floats(Tensor t) {
        MemorySegment s = data(t);
        int n = heapLength(t);
        float[] out = new float[n];
        switch (t.dtype()) {
            case F32 -> MemorySegment.copy(s, F32_LE, 0, out, 0, n);
            case BF16 -> {
                for (int i = 0; i < n; i++) out[i] = Float.intBitsToFloat((s.getAtIndex(I16_LE, i) & 0xffff) << 16);
            }
            case F16 -> {
                for (int i = 0; i < n; i++) out[i] = Float.float16ToFloat(s.getAtIndex(I16_LE, i));
            }
            default -> throw new SafetensorsException(file(), "tensor " + t.name() + " is " + t.dtype() + ", expected F32, F16 or BF16");
        }
        return out;
    }

    /** {@code t} as ints (I32, or I64 values that fit), copied onto the heap. */
    public int[] ints(Tensor t) {
        MemorySegment s = data(t);
        int n = heapLength(t);
        int[] out = new int[n];
        switch (t.dtype()) {
            case I32 -> MemorySegment.copy(s, I32_LE, 0, out, 0, n);
            case I64 -> {
                for (int i = 0; i < n; i++) {
                    long v = s.getAtIndex(I64_LE, i);
                    if (v != (int) v) throw new SafetensorsException(file(), "tensor " + t.name() + "[" + i + "] = " + v + " does not fit an int");
                    out[i] = (int) v;
                }
            }
            default -> throw new SafetensorsException(file(), "tensor " + t.name() + " is " + t.dtype() + ", expected I32 or I64");
        }
        return out;
    }

    private int heapLength(Tensor t) {
        if (t.elements() > Integer.MAX_VALUE - 8) {
            throw new SafetensorsException(file(), "tensor " + t.name() + " has " + t.elements() + " elements, too many for a Java array");
        }
        return (int) t.elements();
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }

    private static Tensor tensor(Path file, String name, Object o) {
        if (!(o instanceof Map<?, ?> m)) throw new SafetensorsException(file, "tensor " + name + ": entry is not a JSON object");
        if (!(m.get("dtype") instanceof String dt)) throw new SafetensorsException(file, "tensor " + name + ": missing dtype");
        Dtype dtype = Dtype.byName(dt);
        if (dtype == null) {
            throw new SafetensorsException(file, "tensor " + name + ": unknown dtype '" + dt + "' (accepted: "
                    + Arrays.toString(Dtype.values()).replaceAll("[\\[\\]]", "") + ")");
        }
        long[] shape = longs(file, name, "shape", m.get("shape"));
        long[] off = longs(file, name, "data_offsets", m.get("data_offsets"));
        if (off.length != 2) throw new SafetensorsException(file, "tensor " + name + ": data_offsets must have 2 entries, has " + off.length);
        return new Tensor(name, dtype, shape, off[0], off[1]);
    }

    private static long[] longs(Path file, String tensor, String field, Object o) {
        if (!(o instanceof List<?> l)) throw new SafetensorsException(file, "tensor " + tensor + ": " + field + " is missing or not an array");
        long[] out = new long[l.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(l.get(i) instanceof Long x) || x < 0) {
                throw new SafetensorsException(file, "tensor " + tensor + ": " + field + "[" + i + "] = " + l.get(i) + " is not a non-negative integer");
            }
            out[i] = x;
        }
        return out;
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int r = ch.read(b, pos);
            if (r < 0) break;
            pos += r;
        }
    }

    // ---- writing ---------------------------------------------------------------------------------------

    /** A tensor to write: {@code data} is a {@code float[]} (written as F32, F16 or BF16) or an {@code int[]} (I32). */
    public record Entry(String name, Dtype dtype, long[] shape, Object data) {}

    /** Writes {@code entries} (and string {@code metadata}, may be empty) to {@code file}, header padded to 8 bytes. */
    public static void write(Path file, Map<String, String> metadata, List<Entry> entries) {
        StringBuilder h = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            h.append("\"__metadata__\":{");
            boolean first = true;
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                h.append(first ? "" : ",").append(Json.quote(e.getKey())).append(':').append(Json.quote(e.getValue()));
                first = false;
            }
            h.append('}');
        }
        long off = 0;
        for (Entry e : entries) {
            long bytes = new Tensor(e.name(), e.dtype(), e.shape(), 0, 0).elements() * e.dtype().bytes();
            h.append(h.length() > 1 ? "," : "").append(Json.quote(e.name())).append(":{\"dtype\":\"").append(e.dtype().name())
                    .append("\",\"shape\":").append(Arrays.toString(e.shape()).replace(" ", ""))
                    .append(",\"data_offsets\":[").append(off).append(',').append(off + bytes).append("]}");
            off += bytes;
        }
        byte[] header = h.append('}').toString().getBytes(StandardCharsets.UTF_8);
        int pad = (8 - header.length % 8) % 8;
        if (off + header.length + pad + 8 > Integer.MAX_VALUE) throw new IllegalArgumentException("safetensors writer: " + off + " data bytes are too many");
        ByteBuffer b = ByteBuffer.allocate((int) (8 + header.length + pad + off)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length + pad).put(header);
        for (int i = 0; i < pad; i++) b.put((byte) ' ');
        for (Entry e : entries) {
            switch (e.data()) {
                case float[] a -> {
                    for (float x : a) {
                        switch (e.dtype()) {
                            case F32 -> b.putFloat(x);
                            case F16 -> b.putShort(Float.floatToFloat16(x));
                            case BF16 -> b.putShort(org.pariskv.encode.Bf16.fromFloat(x));
                            default -> throw new IllegalArgumentException("tensor " + e.name() + ": float data cannot be written as " + e.dtype());
                        }
                    }
                }
                case int[] a -> {
                    if (e.dtype() != Dtype.I32) throw new IllegalArgumentException("tensor " + e.name() + ": int data is written as I32, not " + e.dtype());
                    for (int x : a) b.putInt(x);
                }
                default -> throw new IllegalArgumentException("tensor " + e.name() + ": data must be float[] or int[]");
            }
        }
        try {
            Files.write(file, b.array());
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot write " + file + ": " + ex.getMessage(), ex);
        }
    }
}
