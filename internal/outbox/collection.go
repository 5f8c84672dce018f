package outbox

import "math"

// Collection is one collection's usage, gathered by the mapping layer
// without the outbox's lock and then taken whole by Outbox.Ingest. Its
// buffers are kept from one collection to the next, so a steady collection
// allocates nothing.
type Collection struct {
	points  []point
	spare   []*Handle // handles of points whose caller keeps none
	used    int       // spare handles used by this collection
	streams []streamChange
}

// Handle names a series from one collection to the next, so that the
// mapping layer reads a stream's ids once. It is made from the series' key
// and bound to the series by the ingest that first takes usage through it;
// if the series is forgotten later, the next ingest through the handle
// finds or creates the series of its key again. Keep it at a stable
// address: a Collection holds a pointer to it until Ingest.
type Handle struct {
	key Key
	s   *Series
}

// NewHandle returns a handle to the series of k.
func NewHandle(k Key) Handle { return Handle{key: k} }

// Key is the key of the handle's series.
func (h *Handle) Key() Key { return h.key }

// Held reports whether the outbox holds the handle's series: false before
// an ingest took usage through it and after the series was forgotten.
func (h *Handle) Held() bool { return h.s != nil && !h.s.forgotten.Load() }

// point is usage for one series: integer units, or a float64's bits. s is
// the series h was bound to when the point was added, read then so that
// Ingest need not reach h again, which the caller's memory may have evicted
// from the processor's cache by then.
type point struct {
	h     *Handle
	s     *Series
	units uint64
	float bool
}

// key is the key of the point's series.
func (p *point) key() Key {
	if p.s != nil {
		return p.s.Key
	}
	return p.h.key
}

type streamChange struct {
	r   StreamRecord
	put bool
}

// Int adds integer usage to h's series.
func (c *Collection) Int(h *Handle, v int64) {
	c.points = append(c.points, point{h: h, s: h.s, units: uint64(v)})
}

// Float adds float usage to h's series; its fraction is carried.
func (c *Collection) Float(h *Handle, v float64) {
	c.points = append(c.points, point{h: h, s: h.s, units: math.Float64bits(v), float: true})
}

// IntKey adds integer usage to k's series, for a caller that keeps no
// handle to it.
func (c *Collection) IntKey(k Key, v int64) { c.Int(c.spareHandle(k), v) }

// FloatKey adds float usage to k's series, as IntKey does.
func (c *Collection) FloatKey(k Key, v float64) { c.Float(c.spareHandle(k), v) }

// spareHandle returns a handle of k owned by the collection. Held by
// pointer, they keep their address while the list grows.
func (c *Collection) spareHandle(k Key) *Handle {
	if c.used == len(c.spare) {
		c.spare = append(c.spare, new(Handle))
	}
	h := c.spare[c.used]
	c.used++
	*h = NewHandle(k)
	return h
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

// reset empties the collection for the next one, keeping its buffers.
func (c *Collection) reset() {
	clear(c.points)
	c.points = c.points[:0]
	for _, h := range c.spare[:c.used] {
		*h = Handle{}
	}
	c.used = 0
	clear(c.streams)
	c.streams = c.streams[:0]
}
