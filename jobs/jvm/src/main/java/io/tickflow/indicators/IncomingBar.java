package io.tickflow.indicators;

/** An md.bars record as the indicators read it. */
public final class IncomingBar {
    public final long bucketStart;
    public final long bucketEnd;
    public final long revision;
    public final BarPoint point;

    public IncomingBar(long bucketStart, long bucketEnd, long revision, BarPoint point) {
        this.bucketStart = bucketStart;
        this.bucketEnd = bucketEnd;
        this.revision = revision;
        this.point = point;
    }
}
