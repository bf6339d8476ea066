package io.tickflow.indicators;

/** A bar the series cannot take; {@link #reason} is an md.dlq reason code. */
public final class Refused extends Exception {
    private static final long serialVersionUID = 1L;
    public final String reason;
    public final String detail;

    public Refused(String reason, String detail) {
        super(detail, null, false, false);
        this.reason = reason;
        this.detail = detail;
    }
}
