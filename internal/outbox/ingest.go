package outbox

import (
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
)

// Ingest applies one collection's usage. It holds the outbox lock from
// BeginIngest to End, so that a collection is taken whole and is frozen
// and persisted as one change.
type Ingest struct {
	o      *Outbox
	wall   int64
	mono   int64
	roomed bool // a scan for room at the series cap was already made
	Report IngestReport
}

// IngestReport counts what an ingest could not bill as given.
type IngestReport struct {
	Units        int64 // whole units accepted
	OverCapacity Issue // new series refused: series cap or store full
	InvalidKey   Issue // usage held for a series whose key is invalid
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

func (i *Issue) add(k Key, units float64, reason string) {
	if i.Points == 0 {
		i.Example, i.Reason = k, reason
	}
	i.Points++
	i.Units += units
}

// BeginIngest locks the outbox for one collection; End must follow.
func (o *Outbox) BeginIngest() *Ingest {
	o.mu.Lock()
	o.gen++
	return &Ingest{o: o, wall: o.wallNow(), mono: o.mono()}
}

// Int adds integer usage to series k.
func (in *Ingest) Int(k Key, v int64) {
	if v == 0 {
		return
	}
	if v < 0 {
		in.reject(&in.Report.BadValue, k, float64(v), "negative usage "+strconv.FormatInt(v, 10))
		return
	}
	s := in.series(k, float64(v))
	if s == nil {
		return
	}
	if s.open > math.MaxInt64-v {
		in.reject(&in.Report.Overflow, k, float64(v), "total would overflow int64")
		return
	}
	in.noteInvalid(s, float64(v))
	in.add(s, v)
}

// Float adds float usage to series k, carrying the fraction.
func (in *Ingest) Float(k Key, v float64) {
	if v == 0 {
		return
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		in.reject(&in.Report.BadValue, k, 0, "usage "+strconv.FormatFloat(v, 'g', -1, 64))
		return
	}
	if v > maxFloatUsage {
		in.reject(&in.Report.Overflow, k, v, "usage too large for int64 units")
		return
	}
	s := in.series(k, v)
	if s == nil {
		return
	}
	if float64(s.open)+v >= math.MaxInt64 {
		in.reject(&in.Report.Overflow, k, v, "total would overflow int64")
		return
	}
	in.noteInvalid(s, v)
	in.touch(s)
	if whole := s.rem.Add(v); whole > 0 {
		in.add(s, whole)
	}
}

func (in *Ingest) reject(i *Issue, k Key, units float64, reason string) {
	i.add(k, units, reason)
	in.o.stats.rejectedPoints++
	in.o.stats.rejectedUnits += units
}

// add puts whole units into the series' open amount.
func (in *Ingest) add(s *Series, v int64) {
	o := in.o
	in.touch(s)
	if s.open == 0 {
		s.openFrom = in.wall
	}
	s.open += v
	if s.blocked() {
		o.stats.parkedUnits += v
	} else {
		o.stats.owedUnits += v
	}
	o.stats.acceptedUnits += v
	in.Report.Units += v
}

// noteInvalid reports usage that arrives for a series with an invalid key:
// it is held, and reported by every collection it occurs in.
func (in *Ingest) noteInvalid(s *Series, units float64) {
	if s.invalid != "" {
		in.Report.InvalidKey.add(s.Key, units, s.invalid)
	}
}

func (in *Ingest) touch(s *Series) {
	if s.touched != in.o.gen {
		s.touched = in.o.gen
		s.lastActive = in.mono
		in.o.touched = append(in.o.touched, s)
	}
}

// series finds or creates the series of k; nil when it cannot be held.
func (in *Ingest) series(k Key, units float64) *Series {
	o := in.o
	if s := o.series[k]; s != nil {
		return s
	}
	var invalid string
	if err := o.validate(k); err != nil {
		// Hold the usage under a bounded, printable form of the key: the raw
		// one may be huge or hold control characters, and must never reach
		// a header, a path or a log line.
		k = Key{Tenant: sanitize(k.Tenant, o.cfg.ValidateID), Device: sanitize(k.Device, o.cfg.ValidateID), Meter: k.Meter}
		if s := o.series[k]; s != nil {
			return s
		}
		invalid = err.Error()
	}
	if len(o.series) >= o.cfg.MaxSeries && !in.makeRoom() {
		in.reject(&in.Report.OverCapacity, k, units, fmt.Sprintf("series cap %d reached", o.cfg.MaxSeries))
		return nil
	}
	if o.cfg.Store != nil && o.cfg.Store.Full() {
		in.reject(&in.Report.OverCapacity, k, units, "spool size cap reached")
		return nil
	}
	s := o.newSeries(k)
	s.invalid = invalid
	if invalid != "" {
		o.stats.blockedSeries++
	}
	o.series[k] = s
	return s
}

// sanitize returns id unchanged if it is valid, else a quoted, truncated
// form with a hash of the whole, which can never itself be valid.
func sanitize(id string, validate func(string) error) string {
	if validate(id) == nil {
		return id
	}
	const keep = 32
	if len(id) <= keep {
		return strconv.Quote(id)
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	return fmt.Sprintf("%s…(%d bytes, fnv %016x)", strconv.Quote(id[:keep]), len(id), h.Sum64())
}

// makeRoom evicts series that hold nothing, then idle series that carry
// only a fraction (counting the fraction as dropped), at most once per ingest.
func (in *Ingest) makeRoom() bool {
	if in.roomed {
		return false
	}
	in.roomed = true
	o := in.o
	o.evict(func(s *Series) bool { return s.holdsNothing() })
	if len(o.series) < o.cfg.MaxSeries {
		return true
	}
	cutoff := in.mono - int64(o.cfg.IdleTTL)
	o.evict(func(s *Series) bool {
		return s.state == idle && s.open == 0 && !s.hasEvent() && s.invalid == "" && s.lastActive < cutoff
	})
	return len(o.series) < o.cfg.MaxSeries
}

// End freezes the open usage of every touched series that has no event,
// releases the lock, and returns the round of the events it froze.
func (in *Ingest) End() (*Round, IngestReport) {
	o := in.o
	defer o.mu.Unlock()
	r := newRound()
	for _, s := range o.touched {
		if s.state == idle && s.open > 0 && s.invalid == "" {
			o.freeze(s, in.wall, r)
		}
		o.markDirty(s)
	}
	clear(o.touched)
	o.touched = o.touched[:0]
	if in.mono-o.lastSweep > int64(o.cfg.IdleTTL)/2 {
		o.lastSweep = in.mono
		cutoff := in.mono - int64(o.cfg.IdleTTL)
		o.evict(func(s *Series) bool { return s.holdsNothing() && s.lastActive < cutoff })
	}
	if r.pending == 0 {
		close(r.done)
	}
	o.progressed()
	return r, in.Report
}

// freeze turns the series' open usage into its next event.
func (o *Outbox) freeze(s *Series, wall int64, r *Round) {
	before := s.contrib()
	o.seq++
	s.event = event{units: s.open, from: s.openFrom, to: wall, seq: o.seq, round: r}
	s.open, s.openFrom = 0, 0
	if c, ok := o.cfg.Backend.CachedCustomer(s.Tenant); ok {
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
	if o.cfg.Store != nil && !s.dirty {
		s.dirty = true
		o.dirty = append(o.dirty, s)
		o.kick()
	}
}

// evict forgets the series for which drop holds, unless the store still
// holds an event of theirs or owes them a write.
func (o *Outbox) evict(drop func(*Series) bool) {
	for k, s := range o.series {
		if s.dirty || s.stored != 0 || !drop(s) {
			continue
		}
		if v := s.rem.Value(); v > 0 {
			o.stats.fractionsDropped += v
		}
		if s.storedOpen {
			o.dropped = append(o.dropped, k)
		}
		delete(o.series, k)
	}
}
