package litewavemetric

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/aiorch/litewavemetric/internal/outbox"
	"github.com/aiorch/litewavemetric/internal/usage"
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

// unconfirmed is an entry written for a point whose series the outbox did
// not hold: it stands once the outbox took the point, and is undone if the
// outbox refused it, so that a refused point leaves no interval behind.
type unconfirmed struct {
	scope   map[attribute.Distinct]*cachedStream
	entry   *cachedStream
	prevEnd int64
	added   bool // the entry is new: undone, it goes
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
	end    int64 // Unix nanoseconds: end of the last delta interval taken; 0 if none
}

// sweepEvery is how often, in exports, entries of series the outbox does
// not hold are dropped.
const sweepEvery = 64

func newSeriesCache(max int) *seriesCache {
	return &seriesCache{scopes: map[cacheScope]map[attribute.Distinct]*cachedStream{}, max: max}
}

// scope returns the entries of one scope, for the points of one metric.
func (c *seriesCache) scope(s cacheScope) map[attribute.Distinct]*cachedStream {
	m := c.scopes[s]
	if m == nil {
		m = map[attribute.Distinct]*cachedStream{}
		c.scopes[s] = m
	}
	return m
}

// get returns the entry of set's stream, or nil.
func (c *seriesCache) get(m map[attribute.Distinct]*cachedStream, set *attribute.Set) *cachedStream {
	e := m[set.Equivalent()]
	if e == nil || !e.set.Equals(set) {
		return nil
	}
	return e
}

// took records that a point of e's stream was taken, up to end, and
// returns the handle to its series.
func (c *seriesCache) took(m map[attribute.Distinct]*cachedStream, e *cachedStream, end int64) *outbox.Handle {
	if !e.series.Held() {
		c.unconfirmed = append(c.unconfirmed, unconfirmed{scope: m, entry: e, prevEnd: e.end})
	}
	e.end = end
	return &e.series
}

// put remembers a new stream: the key of its series and the end of its
// delta interval taken. It returns the entry's handle to the series; nil
// when the cache is full.
func (c *seriesCache) put(m map[attribute.Distinct]*cachedStream, set *attribute.Set, k usage.Key, end int64) *outbox.Handle {
	d := set.Equivalent()
	if m[d] == nil { // else a set of equal hash: replaced
		if c.size >= c.max {
			return nil // full: slower, and the stream's overlaps go unchecked
		}
		c.size++
	}
	e := &cachedStream{set: *set, series: outbox.NewHandle(k), end: end}
	m[d] = e
	c.unconfirmed = append(c.unconfirmed, unconfirmed{scope: m, entry: e, added: true})
	return &e.series
}

// endExport, once the outbox took the collection, confirms or undoes the
// entries written for series it did not hold, and now and then drops the
// entries of series it forgot: their sets are unlikely to come back.
func (c *seriesCache) endExport() {
	for _, u := range c.unconfirmed {
		switch {
		case u.entry.series.Held():
		case u.added:
			if d := u.entry.set.Equivalent(); u.scope[d] == u.entry {
				delete(u.scope, d)
				c.size--
			}
		default:
			u.entry.end = u.prevEnd
		}
	}
	clear(c.unconfirmed)
	c.unconfirmed = c.unconfirmed[:0]
	c.exports++
	if c.exports%sweepEvery != 0 && c.size < c.max {
		return
	}
	for _, m := range c.scopes {
		for d, e := range m {
			if !e.series.Held() {
				delete(m, d)
				c.size--
			}
		}
	}
}
