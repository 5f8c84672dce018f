package litewavemetric

import (
	"slices"

	"go.opentelemetry.io/otel/attribute"

	"github.com/aiorch/litewavemetric/internal/outbox"
)

// seriesCache keeps, per stream, a handle to the series it is billed to,
// so that a point whose stream was seen before skips both reading its ids
// (otel's Set.Value uses reflection) and the outbox's series table; and the end of
// the stream's last delta interval taken, for the overlap check (see
// overlap.go). It is keyed by the SDK's set hash and every hit is confirmed
// by exact set equality, so a hash collision costs a lookup, never a
// misattribution. Export is serialised, so it needs no lock.
type seriesCache struct {
	scopes      map[cacheScope]map[attribute.Distinct]*cachedStream
	size        int
	max         int
	exports     uint64
	unconfirmed []unconfirmed
}

// unconfirmed is the entry of a new stream: it stands once the outbox took
// the stream's point, and goes if the outbox refused it, so that a refused
// point leaves no entry (and so no interval) behind.
type unconfirmed struct {
	scope map[attribute.Distinct]*cachedStream
	entry *cachedStream
}

// cacheScope is what, besides a point's attributes, identifies its stream
// and decides its series: the instrument, and the meter it is billed under
// with the resource's ids that stand in for missing point ids (compared as
// text, so that a resource hash collision never misattributes).
type cacheScope struct {
	meter, tenant, device string
	instrument            instrumentKey
}

// instrumentKey identifies an instrument as OpenTelemetry does: the SDK
// exports instruments that differ in unit, description or number type
// apart, even under one name.
type instrumentKey struct {
	resource                attribute.Distinct
	scope                   scopeKey
	name, unit, description string
	float                   bool
}

// cachedStream is a stream's entry. Held by pointer, it is updated in
// place as points are taken, and the map stays small: faster than entries
// held by value, for about the same memory.
type cachedStream struct {
	set    attribute.Set
	series outbox.Handle
	end    int64        // Unix nanoseconds: end of the last delta interval taken; 0 if none
	stream *streamState // of a cumulative stream, once a point of it was taken; see delta
}

// sweepEvery is how often, in exports, entries of series the outbox does
// not hold are dropped.
const sweepEvery = 64

func newSeriesCache(max int) *seriesCache {
	return &seriesCache{scopes: map[cacheScope]map[attribute.Distinct]*cachedStream{}, max: max}
}

// scope returns the entries of one scope, for the n points of one metric.
// A new scope's entries are made room for at once: its points are all of
// new streams.
func (c *seriesCache) scope(s cacheScope, n int) map[attribute.Distinct]*cachedStream {
	m := c.scopes[s]
	if m == nil {
		m = make(map[attribute.Distinct]*cachedStream, min(n, c.max-c.size))
		c.scopes[s] = m
	}
	return m
}

// get returns the entry of set's stream, or nil; nil too for an entry made
// by this collection, whose handle the outbox has not bound yet.
func (c *seriesCache) get(m map[attribute.Distinct]*cachedStream, set *attribute.Set) *cachedStream {
	e := m[set.Equivalent()]
	if e == nil || e.series == (outbox.Handle{}) || !e.set.Equals(set) {
		return nil
	}
	return e
}

// grow makes room for n new streams at once (see outbox.Collection.Grow).
func (c *seriesCache) grow(n int) {
	c.unconfirmed = slices.Grow(c.unconfirmed, min(n, c.max-c.size))
}

// put remembers a new stream and the end of its delta interval taken. It
// returns the entry's handle, for the outbox to bind to the stream's
// series; nil when the cache is full.
func (c *seriesCache) put(m map[attribute.Distinct]*cachedStream, set *attribute.Set, end int64) *outbox.Handle {
	d := set.Equivalent()
	if m[d] == nil { // else a set of equal hash: replaced
		if c.size >= c.max {
			return nil // full: slower, and the stream's overlaps go unchecked
		}
		c.size++
	}
	e := &cachedStream{set: *set, end: end}
	m[d] = e
	c.unconfirmed = append(c.unconfirmed, unconfirmed{scope: m, entry: e})
	return &e.series
}

// endExport, once the outbox took col, drops the entries of new streams
// whose point it refused, and now and then the entries of series it
// forgot: their sets are unlikely to come back. A series the outbox found
// again for a stream's point is not forgotten (col.Held).
func (c *seriesCache) endExport(col *outbox.Collection) {
	for _, u := range c.unconfirmed {
		if d := u.entry.set.Equivalent(); !col.Held(&u.entry.series) && u.scope[d] == u.entry {
			delete(u.scope, d)
			c.size--
		}
	}
	// New streams are few once the series are known: a first collection
	// of a million would otherwise keep 16 MB here for good.
	c.unconfirmed = nil
	c.exports++
	if c.exports%sweepEvery != 0 && c.size < c.max {
		return
	}
	for _, m := range c.scopes {
		for d, e := range m {
			if !col.Held(&e.series) {
				delete(m, d)
				c.size--
			}
		}
	}
	col.Rebound()
}
