package litewavemetric

import (
	"crypto/sha256"
	"math"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/aiorch/litewavemetric/internal/outbox"
)

// Temporality asks the SDK for deltas for counters: each collection then
// carries exactly the usage since the previous one. Other kinds are dropped
// (see Aggregation) and get the SDK's default.
func (e *Exporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	if billable(k) {
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
	end   int64 // Unix nanoseconds: the time of the last point taken; 0 when unknown
	seen  int64 // Unix nanoseconds of the export that last saw it
	i     int64
	f     float64
	id    outbox.StreamID // its identity in the spool, when there is one
	swept bool            // forgotten by the tracker: a pointer kept to it is stale
}

// deltaTracker turns cumulative points into deltas. It is used by Export
// only, which is serialised, so it needs no lock.
//
// With a spool the state of every stream is stored with the usage it
// produced, so that a restart bills only growth. Without one, as with the
// Collector's initial_value "auto", the first point of a stream that
// started before the exporter did is only a baseline: it may hold usage
// billed by an earlier process.
type deltaTracker struct {
	staleness time.Duration
	max       int
	began     int64 // the exporter's start, Unix nanoseconds
	spooled   bool
	streams   map[streamKey]*streamState
	stored    map[outbox.StreamID]outbox.StreamRecord // restored, not seen yet
	lastSweep int64
}

func newDeltaTracker(staleness time.Duration, max int, began time.Time, spooled bool, stored []outbox.StreamRecord) *deltaTracker {
	t := &deltaTracker{staleness: staleness, max: max, began: began.UnixNano(), spooled: spooled,
		streams: map[streamKey]*streamState{}, stored: map[outbox.StreamID]outbox.StreamRecord{}}
	for _, r := range stored {
		t.stored[r.ID] = r
	}
	return t
}

// stream is what a cumulative point needs to find its state: its key and,
// to compute its stored identity when it is first seen, what the key was
// made of.
type stream struct {
	key   streamKey
	res   *resource.Resource
	scope *instrumentation.Scope
	attrs *attribute.Set
}

// delta returns the usage a cumulative point adds, with the rules:
//   - the first point of a stream whose start time is known and not
//     earlier than the exporter's start is all new usage (the counter began
//     at zero then); otherwise it is a baseline, unless the spool holds the
//     stream's state, which is then the baseline;
//   - a new start time is a new stream: all its value is new usage;
//   - a value lower than the last is a reset: the counter restarted from
//     zero, so the value is new usage;
//   - a point another writer of the stream collected is refused (see
//     cumulativeOverlaps), and leaves the state as it was.
//
// A new state is stored through c with the usage it produced. An invalid
// value (negative, NaN, infinite) is passed through untouched, without
// updating the state, so that the outbox rejects and reports it.
//
// cached, if not nil, is where the series cache keeps the stream's state
// for the point's stream: while the tracker holds that state, it saves
// hashing and comparing the stream's key, the cost of most cumulative
// points.
func delta[N int64 | float64](t *deltaTracker, c *outbox.Collection, p stream, cached **streamState, start, end time.Time, v N, now int64) (N, deltaStatus) {
	if !validUsage(v) {
		return v, counted
	}
	startNs, endNs := unixNano(start), unixNano(end)
	var st *streamState
	known := false
	if cached != nil && *cached != nil && !(*cached).swept {
		st, known = *cached, true
	} else {
		st, known = t.streams[p.key]
	}
	if known && cumulativeOverlaps(st, startNs, endNs) {
		return 0, overlapping
	}
	if !known {
		if len(t.streams) >= t.max {
			t.sweep(c, now, true)
			if len(t.streams) >= t.max {
				return 0, untracked
			}
		}
		st = &streamState{}
		if t.spooled {
			st.id = streamID(p)
			if r, ok := t.stored[st.id]; ok {
				st.start, st.i, st.f, known = r.Start, r.Int, r.Float, true
				delete(t.stored, st.id)
			}
		}
		t.streams[p.key] = st
	}
	if cached != nil {
		*cached = st
	}
	last := slot[N](st)
	prev := *last
	newStart := known && st.start != startNs
	changed := !known || newStart || v != prev
	st.start, st.end, st.seen, *last = startNs, endNs, now, v
	if changed && t.spooled {
		c.PutStream(outbox.StreamRecord{ID: st.id, Start: st.start, Int: st.i, Float: st.f})
	}
	switch {
	case !known && (startNs == 0 || startNs < t.began):
		return 0, baseline
	case !known, newStart:
		return v, counted
	case v >= prev:
		return v - prev, counted
	default:
		return v, counted
	}
}

type deltaStatus int

const (
	counted     deltaStatus = iota // the delta is usage
	baseline                       // first point of a stream that may have been billed before
	untracked                      // the stream cap is reached
	overlapping                    // collected by another writer of the stream
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

// streamID is a stream's identity in the spool: a hash of the encoded
// resource, scope, instrument and attributes, stable across processes.
func streamID(p stream) outbox.StreamID {
	enc := attribute.DefaultEncoder()
	h := sha256.New()
	write := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	if p.res != nil {
		write(p.res.Encoded(enc))
	} else {
		write("")
	}
	write(p.scope.Name)
	write(p.scope.Version)
	write(p.scope.SchemaURL)
	write(p.scope.Attributes.Encoded(enc))
	write(p.key.name)
	write(p.attrs.Encoded(enc))
	var id outbox.StreamID
	copy(id[:], h.Sum(nil))
	return id
}

// sweep forgets streams not seen within the staleness, at most every half
// staleness unless forced. With no staleness set, streams are never
// forgotten.
func (t *deltaTracker) sweep(c *outbox.Collection, now int64, force bool) {
	if t.staleness <= 0 || !force && now-t.lastSweep < int64(t.staleness)/2 {
		return
	}
	t.lastSweep = now
	cutoff := now - int64(t.staleness)
	for k, st := range t.streams {
		if st.seen < cutoff {
			st.swept = true
			delete(t.streams, k)
			if t.spooled {
				c.DeleteStream(st.id)
			}
		}
	}
}
