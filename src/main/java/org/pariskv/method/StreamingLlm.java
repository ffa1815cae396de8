package org.pariskv.method;

/** StreamingLLM: attention sinks plus the recent window, nothing retrieved from the zone. */
public final class StreamingLlm implements RetrievalMethod {

    @Override
    public String name() {
        return "streaming";
    }

    @Override
    public HeadRetriever newHead(HeadContext context) {
        return new HeadRetriever() {
            @Override
            public void onZoneGrow(ZoneView zone, int from, int to) {}

            @Override
            public Selection select(ZoneView zone, float[] queries, int qOff, int budget) {
                return Selection.NONE;
            }
        };
    }
}
