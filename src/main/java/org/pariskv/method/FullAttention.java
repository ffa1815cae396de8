package org.pariskv.method;

/** Exact attention over every token: the reference output every method is scored against. */
public final class FullAttention implements RetrievalMethod {

    @Override
    public String name() {
        return "full";
    }

    @Override
    public boolean sparse() {
        return false;
    }

    @Override
    public HeadRetriever newHead(HeadContext context) {
        return new HeadRetriever() {
            @Override
            public void onZoneGrow(ZoneView zone, int from, int to) {}

            @Override
            public Selection select(ZoneView zone, float[] queries, int qOff, int budget) {
                int[] all = new int[zone.zoneSize()];
                for (int i = 0; i < all.length; i++) all[i] = zone.zoneStart() + i;
                return Selection.of(all);
            }
        };
    }
}
