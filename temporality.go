package litewavemetric

import (
	"math"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Temporality asks the SDK for deltas for counters: each collection then
// carries exactly the usage since the previous one. Other kinds are dropped
// (see Aggregation) and get the SDK's default.
func (e *Exporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	switch k {
	case sdkmetric.InstrumentKindCounter, sdkmetric.InstrumentKindObservableCounter:
		return metricdata.DeltaTemporality
	}
	return sdkmetric.DefaultTemporalitySelector(k)
}

// streamKey identifies a cumulative stream, as the Collector's
// cumulativetodelta processor does: resource, scope, instrument and point
// attributes. The start time is kept in the state: a new start time is a
// new stream that replaces the old one.
type streamKey struct {
	resource attribute.Distinct
	scope    scopeKey
	name     string
	attrs    attribute.Distinct
}

type scopeKey struct {
	name, version, schemaURL string
	attrs                    attribute.Distinct
}

type streamState struct {
	start int64 // Unix nanoseconds; 0 when unknown
	seen  int64 // Unix nanoseconds of the export that last saw it
	i     int64
	f     float64
}

// deltaTracker turns cumulative points into deltas. It is used by Export
// only, which is serialised, so it needs no lock.
type deltaTracker struct {
	staleness time.Duration
	max       int
	streams   map[streamKey]*streamState
	lastSweep int64
}

func newDeltaTracker(staleness time.Duration, max int) *deltaTracker {
	return &deltaTracker{staleness: staleness, max: max, streams: map[streamKey]*streamState{}}
}

// delta returns the usage a cumulative point adds, with the rules:
//   - the first point of a stream whose start time is known is all new usage
//     (the counter began at zero then); with an unknown start time it is
//     only a baseline;
//   - a new start time is a new stream;
//   - a value lower than the last is a reset: the counter restarted from
//     zero, so the value is new usage.
//
// An invalid value (negative, NaN, infinite) is passed through untouched,
// without updating the state, so that the outbox rejects and reports it.
func delta[N int64 | float64](t *deltaTracker, k streamKey, start time.Time, v N, now int64) (N, deltaStatus) {
	if !validUsage(v) {
		return v, counted
	}
	st, ok := t.streams[k]
	if !ok {
		if len(t.streams) >= t.max {
			t.sweep(now, true)
			if len(t.streams) >= t.max {
				return 0, untracked
			}
		}
		st = &streamState{}
		t.streams[k] = st
	}
	startNs := int64(0)
	if !start.IsZero() {
		startNs = start.UnixNano()
	}
	last := slot[N](st)
	prev := *last
	first := !ok || st.start != startNs
	st.start, st.seen, *last = startNs, now, v
	switch {
	case first && startNs == 0:
		return 0, baseline
	case first:
		return v, counted
	case v >= prev:
		return v - prev, counted
	default:
		return v, counted
	}
}

type deltaStatus int

const (
	counted   deltaStatus = iota // the delta is usage
	baseline                     // first point of a stream of unknown start
	untracked                    // the stream cap is reached
)

func validUsage[N int64 | float64](v N) bool {
	f := float64(v)
	return f >= 0 && !math.IsInf(f, 1)
}

// slot is the state field that holds the last value of type N.
func slot[N int64 | float64](st *streamState) *N {
	if p, ok := any(&st.i).(*N); ok {
		return p
	}
	return any(&st.f).(*N)
}

// sweep forgets streams not seen within the staleness, at most every half
// staleness unless forced. With no staleness set, streams are never
// forgotten: a forgotten stream that came back with the same start time
// would be billed again from zero.
func (t *deltaTracker) sweep(now int64, force bool) {
	if t.staleness <= 0 || !force && now-t.lastSweep < int64(t.staleness)/2 {
		return
	}
	t.lastSweep = now
	cutoff := now - int64(t.staleness)
	for k, st := range t.streams {
		if st.seen < cutoff {
			delete(t.streams, k)
		}
	}
}
