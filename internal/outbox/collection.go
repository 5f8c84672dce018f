package outbox

import "slices"

// Collection is one collection's usage, gathered by the mapping layer
// without the outbox's lock and then taken whole by Outbox.Ingest. Its
// buffers are kept from one collection to the next, so a steady collection
// allocates nothing.
type Collection struct {
	points  []point
	floats  []floatPoint
	keyed   []keyed // the points added by key, in order
	streams []streamChange
	// moved holds, for each forgotten series an ingest found again by its
	// key for a point added through a handle, the series it found: Int,
	// Float and Held rebind the handles still bound to the forgotten one.
	// Rebound empties it once every handle was checked.
	moved map[*Series]*Series
}

// keyed is the key of a point added by key, and the handle to bind to its
// series, if any.
type keyed struct {
	k Key
	h *Handle
}

// Handle names a series from one collection to the next, so that the
// mapping layer reads a stream's ids once. The zero Handle names none; the
// ingest of a point added by key binds the handle given with it. If the
// series is forgotten later, the next ingest through the handle finds or
// creates the series of its key again, and the handle is rebound to it
// when it is next used. Keep a handle at a stable address: a Collection
// may point to it until Ingest.
type Handle struct {
	s *Series
}

// Key is the key of the handle's series; zero if it names none.
func (h *Handle) Key() Key {
	if h.s == nil {
		return Key{}
	}
	return h.s.key()
}

// Held reports whether the outbox holds the handle's series: false before
// an ingest bound it and after the series was forgotten.
func (h *Handle) Held() bool { return h.s != nil && !h.s.forgotten.Load() }

// point is usage, in the order it was added. In the steady state nearly
// every point is integer usage added through a bound handle, and a
// collection of many series is larger than the processor's cache, so a
// point is kept in 16 bytes. Its s is one of:
//   - the series its handle was bound to when it was added (read then, so
//     that Ingest need not reach the handle again); units is the integer;
//   - nil: integer usage added by key (the next of the collection's
//     keyed);
//   - inFloats: the point is float usage, at index units of the
//     collection's floats.
type point struct {
	s     *Series
	units uint64
}

// inFloats marks a point kept in a collection's floats; no handle is ever
// bound to it.
var inFloats = new(Series)

// floatPoint is float usage: through s, the series its handle was bound
// to, or by key (s is nil).
type floatPoint struct {
	s *Series
	v float64
}

type streamChange struct {
	r   StreamRecord
	put bool
}

// Int adds integer usage to the series of h, which an earlier ingest bound.
func (c *Collection) Int(h *Handle, v int64) {
	s := bound(h)
	if c.moved != nil {
		s = c.rebind(h)
	}
	prefetch(s)
	c.points = append(c.points, point{s: s, units: uint64(v)})
}

// Float adds float usage to the series of h, as Int does; its fraction is
// carried.
func (c *Collection) Float(h *Handle, v float64) {
	s := bound(h)
	if c.moved != nil {
		s = c.rebind(h)
	}
	prefetch(s)
	c.addFloat(floatPoint{s: s, v: v})
}

// IntKey adds integer usage to the series of k, and binds h to it if h is
// not nil.
func (c *Collection) IntKey(k Key, h *Handle, v int64) {
	c.keyed = append(c.keyed, keyed{k: k, h: h})
	c.points = append(c.points, point{units: uint64(v)})
}

// FloatKey adds float usage to the series of k, as IntKey does.
func (c *Collection) FloatKey(k Key, h *Handle, v float64) {
	c.keyed = append(c.keyed, keyed{k: k, h: h})
	c.addFloat(floatPoint{v: v})
}

func (c *Collection) addFloat(p floatPoint) {
	c.points = append(c.points, point{s: inFloats, units: uint64(len(c.floats))})
	c.floats = append(c.floats, p)
}

// rebind binds h to the series its forgotten series was found again as,
// if an ingest did so, and returns h's series.
func (c *Collection) rebind(h *Handle) *Series {
	for {
		s, ok := c.moved[h.s]
		if !ok {
			return h.s
		}
		h.s = s // a series found again may have been forgotten and found again since
	}
}

// Held reports whether the outbox holds the series of h, as h.Held does,
// after rebinding h to the series an ingest found again for its key: a
// handle not used since is still a live stream's.
func (c *Collection) Held(h *Handle) bool {
	if c.moved != nil && h.s != nil {
		c.rebind(h)
	}
	return h.Held()
}

// Rebound says that every handle was checked with Held since the moves
// were recorded, so that they need not be kept.
func (c *Collection) Rebound() { c.moved = nil }

// Grow makes room for n more points at once, and for their keys if byKey
// (a first collection adds every point by key), so that a large collection
// does not allocate its buffers again and again as it grows: append's
// growth would allocate about five times what a million points take.
func (c *Collection) Grow(n int, byKey bool) {
	c.points = slices.Grow(c.points, n)
	if byKey {
		c.keyed = slices.Grow(c.keyed, n)
	}
}

// prefetch reads the cache line of s that Ingest adds to, while the
// mapping waits on its own lookups: Ingest then finds it in a nearer cache
// than memory (2 to 4 % of the hot path at 100 000 series, side by side).
// Its value is not used: Ingest reads it again under the lock.
func prefetch(s *Series) { _ = s.forgotten.Load() }

func bound(h *Handle) *Series {
	if h.s == nil {
		panic("outbox: usage added through a handle that no ingest bound; add it by key")
	}
	return h.s
}

// PutStream records the new state of a cumulative stream, to be committed
// with this collection's usage. Without a store it does nothing.
func (c *Collection) PutStream(r StreamRecord) {
	c.streams = append(c.streams, streamChange{r: r, put: true})
}

// DeleteStream forgets a cumulative stream's stored state.
func (c *Collection) DeleteStream(id StreamID) {
	c.streams = append(c.streams, streamChange{r: StreamRecord{ID: id}})
}

// reset empties the collection for the next one, keeping its buffers but
// keyed's: points are added by key only for new streams, which are few
// once the series are known, and a first collection of a million would
// keep 56 MB of keys for good. The pointers of points and floats are
// left for the next collection to overwrite: clearing them costs the hot
// path more than the series they keep alive cost memory. Ingest sets
// moved.
func (c *Collection) reset() {
	c.points = c.points[:0]
	c.floats = c.floats[:0]
	c.keyed = nil
	clear(c.streams)
	c.streams = c.streams[:0]
}
