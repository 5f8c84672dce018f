package litewavemetric

import "time"

// Usage collected twice must never be billed twice. OpenTelemetry has one
// writer per stream; two readers, or two MeterProviders, feeding one
// exporter break that, and every unit then arrives twice, in intervals that
// overlap. So the exporter keeps, per stream (resource, scope, instrument
// and attribute set; not per billed series, which sums the streams that
// differ in other attributes), the end of the last interval it took, and
// refuses a point that reaches back into it:
//   - a delta point that starts before that end. A stream appears once per
//     collection, so the Exports into which the SDK's
//     WithMaxExportBatchSize splits one collection are never refused;
//   - a cumulative point whose new start time is before that end (another
//     writer's aggregation, begun before the stream's latest point), or
//     that ends before it (collected before that point, exported after). A
//     repeated point is not refused: it bills no growth.
//
// Points without a start or an end time are not checked.

// overlapReason says why overlapping usage was refused, and what to do.
const overlapReason = "the usual cause is two readers, or two MeterProviders, sharing this exporter: give each provider its own exporter, read by one reader"

// deltaOverlaps reports whether a delta point that starts at start reaches
// into its stream's last interval taken, which ended at end (0: none).
func deltaOverlaps(end int64, start time.Time) bool {
	return end != 0 && !start.IsZero() && start.UnixNano() < end
}

// cumulativeOverlaps reports whether a cumulative point over [start, end]
// (Unix nanoseconds, 0 when unknown) was collected by another writer of
// st's stream.
func cumulativeOverlaps(st *streamState, start, end int64) bool {
	switch {
	case st.end == 0 || start == 0 || end == 0:
		return false
	case start != st.start:
		return start < st.end
	default:
		return end < st.end
	}
}

// unixNano is t in Unix nanoseconds, or 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
