package org.pariskv.trace;

import org.pariskv.ModelShape;
import org.pariskv.io.Safetensors;
import org.pariskv.io.SafetensorsException;
import org.pariskv.io.Safetensors.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads and writes traces as safetensors files.
 *
 * <p>Layout: 8-byte little-endian header length {@code N}, {@code N} bytes of JSON header, raw
 * little-endian tensor data. Tensors: {@code layers.{l}.q} [steps, Hq, D], {@code layers.{l}.k} and
 * {@code layers.{l}.v} [tokens, Hkv, D], dtype F32, F16 or BF16. {@code __metadata__} keys:
 * {@code format} = {@value #FORMAT} (required), {@code prompt_tokens} (required), {@code name},
 * optional {@code model}, optional {@code layers.{l}.planted} (JSON array of arrays, one per step) and
 * {@code layers.{l}.planted_by_head} (one per step × query head); other keys go to {@link Trace#meta()}.
 * Tensors with other names are ignored. Reading maps the file; every problem is a
 * {@link TraceFormatException} naming the file.
 */
public final class TraceFiles {

    /** Value of the {@code format} metadata key. */
    public static final String FORMAT = "pariskv-trace/1";

    private static final Pattern TENSOR = Pattern.compile("layers\\.(\\d+)\\.([qkv])");
    private static final int CHUNK = 1 << 20;

    private TraceFiles() {}

    /** Reads a trace; see the class comment for the format. */
    public static Trace read(Path file) {
        Safetensors.Header header;
        try {
            header = Safetensors.header(file);
        } catch (SafetensorsException e) {
            throw new TraceFormatException(file, e.detail(), e);
        }
        Map<String, String> meta = metadata(file, header.metadata());
        Map<String, Tensor> tensors;
        try {
            tensors = header.tensors();
        } catch (SafetensorsException e) {
            throw new TraceFormatException(file, e.detail(), e);
        }
        for (Tensor t : tensors.values()) {
            if (TraceDtype.bySafetensorsName(t.dtype().name()) == null) {
                throw new TraceFormatException(file, "tensor " + t.name() + ": unknown dtype '" + t.dtype()
                        + "' (accepted: F32, F16, BF16)");
            }
        }
        String format = meta.get("format");
        if (format == null) {
            throw new TraceFormatException(file, "metadata key 'format' is missing (expected '" + FORMAT + "')");
        }
        if (!format.equals(FORMAT)) {
            throw new TraceFormatException(file, "unsupported format '" + format + "' (expected '" + FORMAT + "')");
        }
        int promptTokens = intMeta(file, meta, "prompt_tokens");
        int maxLayer = -1;
        for (String name : tensors.keySet()) {
            Matcher m = TENSOR.matcher(name);
            if (m.matches()) {
                maxLayer = Math.max(maxLayer, Integer.parseInt(m.group(1)));
            }
        }
        if (maxLayer < 0) {
            throw new TraceFormatException(file, "no trace tensors: expected layers.0.q, layers.0.k, layers.0.v");
        }
        int layers = maxLayer + 1;
        Tensor k0 = require(file, tensors, 0, "k");
        Tensor q0 = require(file, tensors, 0, "q");
        checkRank(file, k0, 3);
        checkRank(file, q0, 3);
        int tokens = toInt(file, k0, 0);
        int kvHeads = toInt(file, k0, 1);
        int headDim = toInt(file, k0, 2);
        int steps = toInt(file, q0, 0);
        int queryHeads = toInt(file, q0, 1);
        ModelShape shape;
        try {
            shape = new ModelShape(layers, queryHeads, kvHeads, headDim);
        } catch (IllegalArgumentException e) {
            throw new TraceFormatException(file, "bad shape from layers.0.q " + str(q0.shape()) + " and layers.0.k "
                    + str(k0.shape()) + ": " + e.getMessage(), e);
        }
        if ((long) promptTokens + steps != tokens) {
            throw new TraceFormatException(file, "layers.0.k has " + tokens + " tokens but metadata prompt_tokens ("
                    + promptTokens + ") + steps from layers.0.q (" + steps + ") = " + ((long) promptTokens + steps));
        }
        long[] kvShape = {tokens, kvHeads, headDim};
        long[] qShape = {steps, queryHeads, headDim};
        for (int l = 0; l < layers; l++) {
            Tensor q = require(file, tensors, l, "q");
            Tensor k = require(file, tensors, l, "k");
            Tensor v = require(file, tensors, l, "v");
            expectShape(file, q, qShape, "layers.0.q");
            expectShape(file, k, kvShape, "layers.0.k");
            expectShape(file, v, kvShape, "layers.0.k");
            for (Tensor t : List.of(q, k, v)) {
                try {
                    header.checkOffsets(t);
                } catch (SafetensorsException e) {
                    throw new TraceFormatException(file, e.detail(), e);
                }
            }
        }
        List<LayerTrace> out = new ArrayList<>(layers);
        try (Safetensors st = Safetensors.map(header)) {
            for (int l = 0; l < layers; l++) {
                float[] qa = st.floats(tensors.get("layers." + l + ".q"));
                float[] ka = st.floats(tensors.get("layers." + l + ".k"));
                float[] va = st.floats(tensors.get("layers." + l + ".v"));
                int[][] planted = positions(file, meta.get("layers." + l + ".planted"), "layers." + l + ".planted");
                int[][] byHead = positions(file, meta.get("layers." + l + ".planted_by_head"),
                        "layers." + l + ".planted_by_head");
                out.add(new LayerTrace(ka, va, qa, planted, byHead));
            }
        } catch (SafetensorsException e) {
            throw new TraceFormatException(file, e.detail(), e);
        }
        String name = meta.getOrDefault("name", stem(file));
        Map<String, String> rest = new TreeMap<>(meta);
        rest.keySet().removeIf(key -> key.equals("format") || key.equals("prompt_tokens") || key.equals("name")
                || (key.startsWith("layers.") && (key.endsWith(".planted") || key.endsWith(".planted_by_head"))));
        try {
            Trace trace = new Trace(name, shape, promptTokens, steps, out, rest);
            TraceValidator.validate(trace);
            return trace;
        } catch (TraceFormatException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new TraceFormatException(file, e.getMessage(), e);
        }
    }

    private static Map<String, String> metadata(Path file, Object m) {
        if (m == null) {
            throw new TraceFormatException(file, "header has no __metadata__ (needs 'format' = '" + FORMAT + "')");
        }
        if (!(m instanceof Map<?, ?> map)) {
            throw new TraceFormatException(file, "__metadata__ is not a JSON object");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw new TraceFormatException(file, "__metadata__ value of '" + e.getKey() + "' is not a string");
            }
            out.put((String) e.getKey(), s);
        }
        return out;
    }

    private static int intMeta(Path file, Map<String, String> meta, String key) {
        String v = meta.get(key);
        if (v == null) {
            throw new TraceFormatException(file, "metadata key '" + key + "' is missing");
        }
        try {
            int x = Integer.parseInt(v.trim());
            if (x < 0) {
                throw new NumberFormatException();
            }
            return x;
        } catch (NumberFormatException e) {
            throw new TraceFormatException(file, "metadata '" + key + "' = '" + v + "' is not a non-negative integer");
        }
    }

    private static Tensor require(Path file, Map<String, Tensor> tensors, int layer, String kind) {
        Tensor t = tensors.get("layers." + layer + "." + kind);
        if (t == null) {
            throw new TraceFormatException(file, "layer " + layer + ": tensor layers." + layer + "." + kind + " is missing");
        }
        return t;
    }

    private static void checkRank(Path file, Tensor t, int rank) {
        if (t.shape().length != rank) {
            throw new TraceFormatException(file, "tensor " + t.name() + " has shape " + str(t.shape()) + ", expected rank "
                    + rank);
        }
    }

    private static int toInt(Path file, Tensor t, int dim) {
        long v = t.shape()[dim];
        if (v > Integer.MAX_VALUE) {
            throw new TraceFormatException(file, "tensor " + t.name() + ": dimension " + dim + " = " + v + " too large");
        }
        return (int) v;
    }

    private static void expectShape(Path file, Tensor t, long[] expected, String from) {
        if (!java.util.Arrays.equals(t.shape(), expected)) {
            throw new TraceFormatException(file, "tensor " + t.name() + " has shape " + str(t.shape()) + ", expected "
                    + str(expected) + " (from " + from + " and prompt_tokens)");
        }
    }

    private static int[][] positions(Path file, String text, String key) {
        if (text == null) {
            return null;
        }
        try {
            if (!(Json.parse(text) instanceof List<?> outer)) {
                throw new IllegalArgumentException("not an array");
            }
            int[][] out = new int[outer.size()][];
            for (int s = 0; s < out.length; s++) {
                if (!(outer.get(s) instanceof List<?> inner)) {
                    throw new IllegalArgumentException("entry " + s + " is not an array");
                }
                out[s] = new int[inner.size()];
                for (int j = 0; j < inner.size(); j++) {
                    if (!(inner.get(j) instanceof Long x) || x > Integer.MAX_VALUE) {
                        throw new IllegalArgumentException("entry " + s + "[" + j + "] = " + inner.get(j)
                                + " is not an integer");
                    }
                    out[s][j] = (int) (long) x;
                }
            }
            return out;
        } catch (IllegalArgumentException e) {
            throw new TraceFormatException(file, "metadata '" + key + "' is not an array of integer arrays: "
                    + e.getMessage(), e);
        }
    }

    private static String str(long[] shape) {
        return java.util.Arrays.toString(shape);
    }

    private static String stem(Path file) {
        String n = file.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }

    /** Writes {@code trace} to {@code file} with every tensor in {@code dtype}. */
    public static void write(Trace trace, Path file, TraceDtype dtype) {
        ModelShape s = trace.shape();
        Map<String, String> meta = new TreeMap<>(trace.meta());
        meta.put("format", FORMAT);
        meta.put("prompt_tokens", Integer.toString(trace.promptTokens()));
        meta.put("name", trace.name());
        for (int l = 0; l < s.layers(); l++) {
            LayerTrace layer = trace.layer(l);
            if (layer.planted() != null) {
                meta.put("layers." + l + ".planted", positionsJson(layer.planted()));
            }
            if (layer.plantedByHead() != null) {
                meta.put("layers." + l + ".planted_by_head", positionsJson(layer.plantedByHead()));
            }
        }
        StringBuilder h = new StringBuilder("{\"__metadata__\":{");
        boolean first = true;
        for (Map.Entry<String, String> e : meta.entrySet()) {
            h.append(first ? "" : ",").append(Json.quote(e.getKey())).append(':').append(Json.quote(e.getValue()));
            first = false;
        }
        h.append('}');
        long off = 0;
        long kvBytes = s.kvLength(trace.tokens()) * dtype.bytes();
        long qBytes = s.queryLength(trace.steps()) * dtype.bytes();
        for (int l = 0; l < s.layers(); l++) {
            off = entry(h, "layers." + l + ".q", dtype, new long[] {trace.steps(), s.queryHeads(), s.headDim()}, off, qBytes);
            off = entry(h, "layers." + l + ".k", dtype, new long[] {trace.tokens(), s.kvHeads(), s.headDim()}, off, kvBytes);
            off = entry(h, "layers." + l + ".v", dtype, new long[] {trace.tokens(), s.kvHeads(), s.headDim()}, off, kvBytes);
        }
        h.append('}');
        byte[] header = h.toString().getBytes(StandardCharsets.UTF_8);
        int pad = (8 - header.length % 8) % 8;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.allocate(Math.max(CHUNK * 4, header.length + pad + 8)).order(ByteOrder.LITTLE_ENDIAN);
            buf.putLong(header.length + pad).put(header);
            for (int i = 0; i < pad; i++) {
                buf.put((byte) ' ');
            }
            for (int l = 0; l < s.layers(); l++) {
                LayerTrace layer = trace.layer(l);
                for (float[] a : List.of(layer.queries(), layer.keys(), layer.values())) {
                    for (float x : a) {
                        if (buf.remaining() < 4) {
                            flush(ch, buf);
                        }
                        switch (dtype) {
                            case F32 -> buf.putFloat(x);
                            case F16 -> buf.putShort(Float.floatToFloat16(x));
                            case BF16 -> buf.putShort(TraceDtype.toBf16(x));
                        }
                    }
                }
            }
            flush(ch, buf);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write trace " + file + ": " + e.getMessage(), e);
        }
    }

    private static long entry(StringBuilder h, String name, TraceDtype dtype, long[] shape, long off, long bytes) {
        h.append(',').append(Json.quote(name)).append(":{\"dtype\":\"").append(dtype.name()).append("\",\"shape\":[")
                .append(shape[0]).append(',').append(shape[1]).append(',').append(shape[2])
                .append("],\"data_offsets\":[").append(off).append(',').append(off + bytes).append("]}");
        return off + bytes;
    }

    private static void flush(FileChannel ch, ByteBuffer buf) throws IOException {
        buf.flip();
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
        buf.clear();
    }

    private static String positionsJson(int[][] p) {
        StringBuilder b = new StringBuilder("[");
        for (int s = 0; s < p.length; s++) {
            b.append(s == 0 ? "[" : ",[");
            for (int j = 0; j < p[s].length; j++) {
                b.append(j == 0 ? "" : ",").append(p[s][j]);
            }
            b.append(']');
        }
        return b.append(']').toString();
    }
}
