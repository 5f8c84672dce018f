package outbox

import (
	"fmt"
	"math"
	"strconv"
)

// Ingest applies one collection's usage. It holds the outbox lock from
// BeginIngest to End, so that a collection is taken whole and is frozen
// and persisted as one change.
type Ingest struct {
	o      *Outbox
	wall   int64 // the collection's time: where its window ends
	start  int64 // where its window starts: the previous collection's time
	secs   int32 // monotonic seconds
	round  *Round
	roomed bool // a scan for room at the series cap was already made
	Report IngestReport
}

// IngestReport counts what an ingest could not bill as given.
type IngestReport struct {
	Units        int64 // whole units accepted
	OverCapacity Issue // new series refused: series cap or store full
	BadValue     Issue // negative or non-finite usage
	Overflow     Issue // would overflow the series' int64 total
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

// BeginIngest locks the outbox for one collection; End must follow.
func (o *Outbox) BeginIngest() *Ingest {
	o.mu.Lock()
	clear(o.memo)
	return &Ingest{o: o, wall: o.wallNow(), start: o.windowEnd, secs: o.monoSeconds(), round: newRound()}
}

// Int adds integer usage to series k and returns the series (nil if it
// could not be held), a handle for IntTo and FloatTo in later ingests
// while it is not Gone.
func (in *Ingest) Int(k Key, v int64) *Series {
	if v <= 0 {
		in.badInt(k, v)
		return nil
	}
	s := in.series(k, float64(v))
	if s != nil {
		in.IntTo(s, v)
	}
	return s
}

// IntTo adds integer usage to the series of a handle.
func (in *Ingest) IntTo(s *Series, v int64) {
	if v <= 0 {
		in.badInt(s.Key, v)
		return
	}
	if *in.target(s) > math.MaxInt64-v {
		in.reject(&in.Report.Overflow, s.Key, float64(v), "total would overflow int64")
		return
	}
	in.add(s, v)
}

// badInt refuses a negative value. Its units are not counted as rejected:
// a negative delta (an SDK sum that wrapped, say) has no meaningful amount,
// and counters must never run backwards.
func (in *Ingest) badInt(k Key, v int64) {
	if v < 0 {
		in.reject(&in.Report.BadValue, k, 0, "negative usage "+strconv.FormatInt(v, 10))
	}
}

// Float adds float usage to series k, carrying the fraction, and returns
// the series as Int does.
func (in *Ingest) Float(k Key, v float64) *Series {
	if !in.goodFloat(k, v) {
		return nil
	}
	s := in.series(k, v)
	if s != nil {
		in.FloatTo(s, v)
	}
	return s
}

// FloatTo adds float usage to the series of a handle.
func (in *Ingest) FloatTo(s *Series, v float64) {
	if !in.goodFloat(s.Key, v) {
		return
	}
	if float64(*in.target(s))+v >= math.MaxInt64 {
		in.reject(&in.Report.Overflow, s.Key, v, "total would overflow int64")
		return
	}
	in.touch(s)
	if whole := s.rem.Add(v); whole > 0 {
		in.add(s, whole)
	}
}

// goodFloat reports whether v is usage to add, rejecting what is not.
func (in *Ingest) goodFloat(k Key, v float64) bool {
	switch {
	case v == 0:
		return false
	case math.IsNaN(v) || math.IsInf(v, 0) || v < 0:
		in.reject(&in.Report.BadValue, k, 0, "usage "+strconv.FormatFloat(v, 'g', -1, 64))
		return false
	case v > maxFloatUsage:
		in.reject(&in.Report.Overflow, k, v, "usage too large for int64 units")
		return false
	}
	return true
}

func (in *Ingest) reject(i *Issue, k Key, units float64, reason string) {
	i.Add(k, units, reason)
	in.o.stats.RefusedPoints++
	in.o.stats.RefusedUnits += units
}

// target is where the next whole units of s go: the event this ingest
// froze for it, still invisible to the workers (they wait for the lock), so
// that one collection makes one event per series; else its open amount.
func (in *Ingest) target(s *Series) *int64 {
	if s.event.round == in.round && s.hasEvent() {
		return &s.event.units
	}
	return &s.open
}

// add puts whole units into the series and freezes an idle series' usage
// into its next event at once.
func (in *Ingest) add(s *Series, v int64) {
	o := in.o
	in.touch(s)
	if t := in.target(s); t == &s.event.units {
		*t += v
		in.round.res.Units += v
	} else {
		if s.open == 0 {
			s.openStart = in.start
		}
		s.open += v
	}
	o.stats.OwedUnits += v
	o.stats.AcceptedUnits += v
	in.Report.Units += v
	if s.state == idle {
		o.freeze(s, in.wall, in.round, in.customer)
	}
}

// customer is Customers.Cached memoised for the ingest: a collection
// freezes many events of few tenants.
func (in *Ingest) customer(tenant string) (string, bool) {
	o := in.o
	if c, ok := o.memo[tenant]; ok {
		return c, c != ""
	}
	c, ok := o.cfg.Customers.Cached(tenant)
	if !ok {
		c = ""
	}
	o.memo[tenant] = c
	return c, ok
}

// touch records that the series changed: it is active, and its stored
// records are stale.
func (in *Ingest) touch(s *Series) {
	s.lastActive = in.secs
	in.o.markDirty(s)
}

// series finds or creates the series of k; nil when it cannot be held.
func (in *Ingest) series(k Key, units float64) *Series {
	o := in.o
	if s := o.series.get(k); s != nil {
		return s
	}
	if o.series.len() >= o.cfg.MaxSeries && !in.makeRoom() {
		in.reject(&in.Report.OverCapacity, k, units, fmt.Sprintf("series cap %d reached", o.cfg.MaxSeries))
		return nil
	}
	if o.cfg.Store != nil {
		if o.cfg.Store.Full(o.uncommitted) {
			in.reject(&in.Report.OverCapacity, k, units, "spool size cap reached")
			return nil
		}
		o.uncommitted += recordEstimate(k)
	}
	s := o.newSeries(k)
	o.series.put(s)
	return s
}

// recordEstimate is about what a new series' records take in the store,
// before they are committed and counted exactly.
func recordEstimate(k Key) int64 { return int64(96 + 2*(len(k.Tenant)+len(k.Device)+len(k.Meter))) }

// makeRoom evicts series that hold nothing, then idle series that carry
// only a fraction (counting the fraction as dropped), at most once per ingest.
func (in *Ingest) makeRoom() bool {
	if in.roomed {
		return false
	}
	in.roomed = true
	o := in.o
	o.evict(func(s *Series) bool { return s.holdsNothing() })
	if o.series.len() < o.cfg.MaxSeries {
		return true
	}
	cutoff := in.secs - idleSeconds(o.cfg.IdleTTL)
	o.evict(func(s *Series) bool {
		return s.state == idle && s.open == 0 && !s.hasEvent() && s.parked == nil && s.lastActive < cutoff
	})
	return o.series.len() < o.cfg.MaxSeries
}

// End releases the lock, which lets the workers at the events the ingest
// froze, and returns their round.
func (in *Ingest) End() (*Round, IngestReport) {
	o := in.o
	defer o.mu.Unlock()
	r := in.round
	o.windowEnd = in.wall
	if mono := o.mono(); mono-o.lastSweep > int64(o.cfg.IdleTTL)/2 {
		o.lastSweep = mono
		cutoff := in.secs - idleSeconds(o.cfg.IdleTTL)
		o.evict(func(s *Series) bool { return s.holdsNothing() && s.lastActive < cutoff })
	}
	if r.pending == 0 {
		close(r.done)
	}
	o.progressed()
	return r, in.Report
}

// freeze turns the series' open usage into its next event, bound to the
// tenant's customer if customer knows it without a network call.
func (o *Outbox) freeze(s *Series, wall int64, r *Round, customer func(string) (string, bool)) {
	before := s.contrib()
	o.seq++
	s.event = event{units: s.open, start: s.openStart, end: wall, seq: o.seq, round: r}
	s.open = 0
	if c, ok := customer(s.Tenant); ok {
		s.event.customer = c
	}
	if r != nil {
		r.add(s.event.units)
	}
	o.stats.account(before, s.contrib())
	o.enqueue(s)
}

// enqueue makes a frozen or re-bound event sendable: at once without a
// store, after the next commit with one.
func (o *Outbox) enqueue(s *Series) {
	if o.cfg.Store == nil {
		o.makeReady(s)
		return
	}
	s.state = pending
	o.pending = append(o.pending, s)
	o.markDirty(s)
}

func (o *Outbox) makeReady(s *Series) {
	s.state = ready
	o.ready.push(s)
	o.work.Signal()
}

// markDirty queues the series for the next commit and wakes the scheduler,
// which commits (and so releases pending events) whoever made the change.
func (o *Outbox) markDirty(s *Series) {
	if o.cfg.Store != nil && !s.dirty && !s.gone {
		s.dirty = true
		o.dirty = append(o.dirty, s)
		o.kick()
	}
}

// evict forgets the series for which drop holds, unless the store still
// holds an event of theirs or owes them a write.
func (o *Outbox) evict(drop func(*Series) bool) {
	o.series.all(func(s *Series) {
		if s.dirty || s.storedEvent || s.storedParked || !drop(s) {
			return
		}
		if v := s.rem.Value(); v > 0 {
			o.stats.FractionsDropped += v
		}
		if s.storedOpen {
			o.dropped = append(o.dropped, s.Key)
		}
		s.gone = true
		o.series.delete(s)
	})
}
