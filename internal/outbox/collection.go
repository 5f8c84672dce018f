package outbox

import "math"

// Collection is one collection's usage, gathered by the mapping layer
// without the outbox's lock and then taken whole by Outbox.Ingest. Its
// buffers are kept from one collection to the next, so a steady collection
// allocates nothing.
type Collection struct {
	points  []point
	keys    []Key // of the points added by key, in order
	streams []streamChange
}

// Handle names a series from one collection to the next, so that the
// mapping layer reads a stream's ids once. The zero Handle names none; the
// ingest of a point added by key binds the handle given with it. If the
// series is forgotten later, the next ingest through the handle finds or
// creates the series of its key again and rebinds the handle. Keep a
// handle at a stable address: a Collection points to it until Ingest.
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

// point is usage for one series: integer units, or a float64's bits. s is
// the series h was bound to when the point was added, read then so that
// Ingest need not reach h again, which the caller's memory may have evicted
// from the processor's cache by then. A point added by key has the next of
// the collection's keys.
type point struct {
	h     *Handle
	s     *Series
	units uint64
	float bool
	keyed bool
}

type streamChange struct {
	r   StreamRecord
	put bool
}

// Int adds integer usage to the series of h, which an earlier ingest bound.
func (c *Collection) Int(h *Handle, v int64) {
	c.points = append(c.points, point{h: h, s: bound(h), units: uint64(v)})
}

// Float adds float usage to the series of h, as Int does; its fraction is
// carried.
func (c *Collection) Float(h *Handle, v float64) {
	c.points = append(c.points, point{h: h, s: bound(h), units: math.Float64bits(v), float: true})
}

// IntKey adds integer usage to the series of k, and binds h to it if h is
// not nil.
func (c *Collection) IntKey(k Key, h *Handle, v int64) {
	c.keys = append(c.keys, k)
	c.points = append(c.points, point{h: h, units: uint64(v), keyed: true})
}

// FloatKey adds float usage to the series of k, as IntKey does.
func (c *Collection) FloatKey(k Key, h *Handle, v float64) {
	c.keys = append(c.keys, k)
	c.points = append(c.points, point{h: h, units: math.Float64bits(v), float: true, keyed: true})
}

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
// the keys': points are added by key only for new streams, which are few
// once the series are known, and a first collection of a million would
// keep 48 MB of keys for good. The points' pointers are left for the next
// collection to overwrite: clearing them costs the hot path more than the
// series they keep alive cost memory.
func (c *Collection) reset() {
	c.points = c.points[:0]
	c.keys = nil
	clear(c.streams)
	c.streams = c.streams[:0]
}
