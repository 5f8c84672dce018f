package litewavemetric

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/aiorch/litewavemetric/internal/outbox"
)

// seriesCache remembers, per meter, which series each attribute set was
// billed to, so that a point whose set was seen before skips both reading
// its ids (otel's Set.Value uses reflection) and the series table. It is
// keyed by the SDK's set hash and every hit is confirmed by exact set
// equality, so a hash collision costs a lookup, never a misattribution.
// Export is serialised, so it needs no lock.
type seriesCache struct {
	scopes  map[cacheScope]map[attribute.Distinct]cachedSeries
	size    int
	max     int
	exports uint64
}

// cacheScope is what, besides a point's attributes, decides its series: the
// meter, and the resource's ids that stand in for missing point ids.
type cacheScope struct {
	meter, tenant, device string
}

// cachedSeries is stored by value: one allocation less per series.
type cachedSeries struct {
	set attribute.Set
	s   *outbox.Series
}

// sweepEvery is how often, in exports, entries of forgotten series are
// dropped.
const sweepEvery = 64

func newSeriesCache(max int) *seriesCache {
	return &seriesCache{scopes: map[cacheScope]map[attribute.Distinct]cachedSeries{}, max: max}
}

// scope returns the entries of one scope, for the points of one metric.
func (c *seriesCache) scope(s cacheScope) map[attribute.Distinct]cachedSeries {
	m := c.scopes[s]
	if m == nil {
		m = map[attribute.Distinct]cachedSeries{}
		c.scopes[s] = m
	}
	return m
}

// get returns the series cached for set, if it is still held.
func (c *seriesCache) get(m map[attribute.Distinct]cachedSeries, set *attribute.Set) *outbox.Series {
	e, ok := m[set.Equivalent()]
	if !ok || e.s.Gone() || !e.set.Equals(set) {
		return nil
	}
	return e.s
}

func (c *seriesCache) put(m map[attribute.Distinct]cachedSeries, set *attribute.Set, s *outbox.Series) {
	d := set.Equivalent()
	if _, ok := m[d]; !ok {
		if c.size >= c.max {
			return // a cache, not a ledger: full means slower, not wrong
		}
		c.size++
	}
	m[d] = cachedSeries{set: *set, s: s}
}

// endExport drops, now and then, the entries of series the outbox forgot:
// their sets are unlikely to come back.
func (c *seriesCache) endExport() {
	c.exports++
	if c.exports%sweepEvery != 0 && c.size < c.max {
		return
	}
	for _, m := range c.scopes {
		for d, e := range m {
			if e.s.Gone() {
				delete(m, d)
				c.size--
			}
		}
	}
}
