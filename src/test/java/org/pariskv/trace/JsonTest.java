package org.pariskv.trace;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {

    @Test
    void parsesNestedValues() {
        Object o = Json.parse(" {\"a\": [1, -2.5e1, true, null, \"x\\\"y\\u0041\\n\"], \"b\": {}} ");
        Map<?, ?> m = (Map<?, ?>) o;
        List<?> a = (List<?>) m.get("a");
        assertEquals(1L, a.get(0));
        assertEquals(-25.0, a.get(1));
        assertEquals(Boolean.TRUE, a.get(2));
        assertNull(a.get(3));
        assertEquals("x\"yA\n", a.get(4));
        assertEquals(Map.of(), m.get("b"));
    }

    @Test
    void quoteRoundTrips() {
        String s = "we\"ird\\ \t\u0001 é";
        assertEquals(s, Json.parse(Json.quote(s)));
    }

    @Test
    void errorsNameTheOffset() {
        var e = assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\" 1}"));
        assertTrue(e.getMessage().contains("offset 5") && e.getMessage().contains("expected ':'"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[1, 2"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("\"abc"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("{} x"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("1.2.3"));
    }
}
