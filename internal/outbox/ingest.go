package outbox

import (
	"fmt"
	"math"
	"strconv"
)

// IngestReport counts what an ingest could not bill as given.
type IngestReport struct {
	Units        int64 // whole units accepted
	OverCapacity Issue // new series refused: series cap or store full
	BadValue     Issue // negative or non-finite usage
	TooLarge     Issue // would overflow the series' int64 total
}

// Issue aggregates one kind of problem: how many points, how much usage,
// and one example to name in an error.
type Issue struct {
	Points  int
	Units   float64
	Example Key
	Reason  string
}

// Add counts one point of the issue.
func (i *Issue) Add(k Key, units float64, reason string) {
	if i.Points == 0 {
		i.Example, i.Reason = k, reason
	}
	i.Points++
	i.Units += units
}

// Ingest takes a collection's usage whole, under the lock, so that it is
// frozen and persisted as one change, then empties c for the next
// collection. It returns what tracks the first attempts of the events it
// froze, and what it could not bill as given.
func (o *Outbox) Ingest(c *Collection) (*FirstAttempts, IngestReport) {
	o.mu.Lock()
	defer o.mu.Unlock()
	defer c.reset()
	clear(o.ingestCustomers)
	in := ingest{o: o, wall: o.wallNow(), start: o.windowEnd, secs: o.monoSeconds(), first: newFirstAttempts(), keyed: c.keyed}
	if o.cfg.Store == nil {
		o.ready.reserve(len(c.points)) // each point may freeze an event
	}
	for i := range c.points {
		p := &c.points[i]
		switch s := p.s; s {
		case nil:
			in.intByKey(int64(p.units))
		case inFloats:
			in.float(&c.floats[p.units])
		default:
			if v := int64(p.units); v > 0 && !s.forgotten.Load() {
				in.addInt(s, v) // the steady state
			} else {
				in.intThrough(s, v)
			}
		}
	}
	if o.cfg.Store != nil && len(c.streams) > 0 {
		for _, ch := range c.streams {
			o.streams.set(ch.r, ch.put)
		}
		o.kick()
	}
	in.end()
	for forgotten, found := range in.moved {
		if c.moved == nil {
			c.moved = map[*Series]*Series{}
		}
		c.moved[forgotten] = found
	}
	return in.first, in.report
}

// ingest is one Ingest in progress; the outbox's lock is held.
type ingest struct {
	o           *Outbox
	wall        int64 // the collection's time: where its window ends
	start       int64 // where its window starts: the previous collection's time
	secs        int32 // monotonic seconds
	first       *FirstAttempts
	keyed       []keyed // the points added by key not taken yet
	roomScanned bool    // a scan for room at the series cap was already made
	report      IngestReport
	moved       map[*Series]*Series // see Collection.moved
}

// intThrough adds integer usage through s: refused unless positive, and
// added to the series of its key if s was forgotten.
func (in *ingest) intThrough(s *Series, v int64) {
	if v <= 0 {
		in.badInt(s.key(), v)
		return
	}
	if s = in.found(s, float64(v)); s != nil {
		in.addInt(s, v)
	}
}

// found returns the series of a forgotten series' key, found or created,
// and records it for the handles bound to the forgotten one.
func (in *ingest) found(forgotten *Series, units float64) *Series {
	k := forgotten.key()
	s := in.series(nil, &k, units)
	if s != nil {
		if in.moved == nil {
			in.moved = map[*Series]*Series{}
		}
		in.moved[forgotten] = s
	}
	return s
}

// intByKey adds integer usage to the series of the next key.
func (in *ingest) intByKey(v int64) {
	p := in.nextKeyed()
	if v <= 0 {
		in.badInt(p.k, v)
		return
	}
	if s := in.series(p.h, &p.k, float64(v)); s != nil {
		in.addInt(s, v)
	}
}

// float adds float usage through p.s, or by key when p.s is nil.
func (in *ingest) float(p *floatPoint) {
	s := p.s
	var next *keyed
	var k Key
	if s == nil {
		next = in.nextKeyed()
		k = next.k
	} else {
		k = s.key()
	}
	if !in.goodFloat(k, p.v) {
		return
	}
	switch {
	case s == nil:
		s = in.series(next.h, &next.k, p.v)
	case s.forgotten.Load():
		s = in.found(s, p.v)
	}
	if s != nil {
		in.addFloat(s, p.v)
	}
}

// nextKeyed takes the next point added by key.
func (in *ingest) nextKeyed() *keyed {
	p := &in.keyed[0]
	in.keyed = in.keyed[1:]
	return p
}

// addInt adds positive integer usage to s.
func (in *ingest) addInt(s *Series, v int64) {
	t := in.target(s)
	if *t > math.MaxInt64-v {
		in.reject(&in.report.TooLarge, s.key(), float64(v), "total would overflow int64")
		return
	}
	in.add(s, t, v)
}

// badInt refuses a negative value. Its units are not counted as rejected:
// a negative delta (an SDK sum that wrapped, say) has no meaningful amount,
// and counters must never run backwards.
func (in *ingest) badInt(k Key, v int64) {
	if v < 0 {
		in.reject(&in.report.BadValue, k, 0, "negative usage "+strconv.FormatInt(v, 10))
	}
}

// addFloat adds good float usage to s, carrying the fraction.
func (in *ingest) addFloat(s *Series, v float64) {
	t := in.target(s)
	if float64(*t)+v >= math.MaxInt64 {
		in.reject(&in.report.TooLarge, s.key(), v, "total would overflow int64")
		return
	}
	in.touch(s)
	if whole := s.addFloat(v); whole > 0 {
		in.add(s, t, whole)
	}
}

// goodFloat reports whether v is usage to add, rejecting what is not.
func (in *ingest) goodFloat(k Key, v float64) bool {
	switch {
	case v == 0:
		return false
	case math.IsNaN(v) || math.IsInf(v, 0) || v < 0:
		in.reject(&in.report.BadValue, k, 0, "usage "+strconv.FormatFloat(v, 'g', -1, 64))
		return false
	case v > maxFloatUsage:
		in.reject(&in.report.TooLarge, k, v, "usage too large for int64 units")
		return false
	}
	return true
}

func (in *ingest) reject(i *Issue, k Key, units float64, reason string) {
	i.Add(k, units, reason)
	in.o.stats.RefusedPoints++
	in.o.stats.RefusedUnits += units
}

// target is where the next whole units of s go: the event this ingest
// froze for it, still invisible to the workers (they wait for the lock), so
// that one collection makes one event per series; else its open amount.
func (in *ingest) target(s *Series) *int64 {
	if s.event.first == in.first && s.hasEvent() {
		return &s.event.units
	}
	return &s.open
}

// add puts whole units into t, the target of s, and freezes an idle
// series' usage into its next event at once.
func (in *ingest) add(s *Series, t *int64, v int64) {
	o := in.o
	in.touch(s)
	if t == &s.event.units {
		in.first.res.Units += v
	} else if s.open == 0 {
		s.openStart = in.start
	}
	*t += v
	in.report.Units += v // counted in the outbox's stats when the ingest ends
	if s.state == idle {
		o.freeze(s, in.wall, in.first, in.customer)
	}
}

// customer is Customers.Cached remembered for the ingest: a collection
// freezes many events of few tenants.
func (in *ingest) customer(tenant string) (customerID, bool) {
	o := in.o
	if c, ok := o.ingestCustomers[tenant]; ok {
		return c, c != customerID{}
	}
	c, ok := o.cachedCustomer(tenant)
	o.ingestCustomers[tenant] = c
	return c, ok
}

// touch records that the series changed: it is active, and its stored
// records are stale.
func (in *ingest) touch(s *Series) {
	s.lastActive = in.secs
	in.o.markDirty(s)
}

// series returns the series of k, found or created, and binds h to it if
// h is not nil; nil when it cannot be held.
func (in *ingest) series(h *Handle, kp *Key, units float64) *Series {
	o := in.o
	k := *kp
	s := o.series.get(k)
	if s == nil {
		if o.series.len() >= o.cfg.MaxSeries && !in.makeRoom() {
			in.reject(&in.report.OverCapacity, k, units, fmt.Sprintf("series cap %d reached", o.cfg.MaxSeries))
			return nil
		}
		if o.cfg.Store != nil {
			if o.cfg.Store.Full(o.uncommitted) {
				in.reject(&in.report.OverCapacity, k, units, "spool size cap reached")
				return nil
			}
			o.uncommitted += recordEstimate(k)
		}
		s = o.newSeries(k)
		o.series.put(s)
	}
	if h != nil {
		h.s = s
	}
	return s
}

// recordEstimate is about what a new series' records take in the store,
// before they are committed and counted exactly.
func recordEstimate(k Key) int64 { return int64(96 + 2*(len(k.Tenant)+len(k.Device)+len(k.Meter))) }

// makeRoom forgets series that hold nothing, then idle series that carry
// only a fraction (counting the fraction as dropped), at most once per ingest.
func (in *ingest) makeRoom() bool {
	if in.roomScanned {
		return false
	}
	in.roomScanned = true
	o := in.o
	o.forget(func(s *Series) bool { return s.holdsNothing() })
	if o.series.len() < o.cfg.MaxSeries {
		return true
	}
	cutoff := in.secs - idleSeconds(o.cfg.IdleTTL)
	o.forget(func(s *Series) bool {
		return s.state == idle && s.open == 0 && !s.hasEvent() && s.carriesOnlyAFraction() && s.lastActive < cutoff
	})
	return o.series.len() < o.cfg.MaxSeries
}

// end closes the ingest: the workers get at the events it froze once the
// lock is released.
func (in *ingest) end() {
	o := in.o
	o.stats.OwedUnits += in.report.Units
	o.stats.AcceptedUnits += in.report.Units
	o.windowEnd = in.wall
	if mono := o.mono(); mono-o.lastSweep > int64(o.cfg.IdleTTL)/2 {
		o.lastSweep = mono
		cutoff := in.secs - idleSeconds(o.cfg.IdleTTL)
		o.forget(func(s *Series) bool { return s.holdsNothing() && s.lastActive < cutoff })
	}
	in.first.closeIfAnswered()
	o.progressed()
}
