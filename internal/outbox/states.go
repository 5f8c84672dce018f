package outbox

import (
	"time"
	"unique"
)

// A series' event goes through these states. Every change of state is one
// of the transitions in this file, and no other file sets a state:
//
//	idle     -> pending   freeze, with a store: sent once the store holds it
//	idle     -> ready     freeze, without a store
//	pending  -> ready     releaseCommitted
//	ready    -> inFlight  startAttempt
//	inFlight -> idle      endEvent: delivered or rejected
//	inFlight -> waiting   awaitRetry
//	inFlight -> pending   makeSendable: its customer was bound (after a lookup,
//	                      or again to a spooled event)
//	                      (without a store: ready)
//	waiting  -> ready     releaseDue
//	(start)  -> ready     restoreEvent: an event the store held
//
// A series that holds nothing may be forgotten (forget): a Handle to it
// then finds its key again.
type state uint8

const (
	idle     state = iota // no frozen event
	pending               // frozen or re-bound, waiting for the store before it may be sent
	ready                 // queued for a worker
	waiting               // in the retry heap until event.next
	inFlight              // owned by a worker
)

// freeze turns the series' open usage into its next event, bound to the
// tenant's customer if customer knows it without a network call, and makes
// it sendable. first, if not nil, tracks the ingest that froze it.
func (o *Outbox) freeze(s *Series, wall int64, first *FirstAttempts, customer func(string) (customerID, bool)) {
	before := s.contrib()
	o.seq++
	s.event = event{units: s.open, start: s.openStart, end: wall, seq: o.seq, first: first}
	s.open = 0
	if c, ok := customer(s.tenant()); ok {
		s.event.customer = c
	}
	if first != nil {
		first.add(s.event.units)
	}
	o.stats.account(before, s.contrib())
	o.makeSendable(s)
}

// freezeOpen freezes the open usage of an idle series, if it has any, for
// no collection: after a delivery or a rejection, at a restore, on
// RetryRejected.
func (o *Outbox) freezeOpen(s *Series, wall int64) {
	if s.state == idle && s.open > 0 {
		o.freeze(s, wall, nil, o.cachedCustomer)
	}
}

// cachedCustomer is the tenant's customer if it is known without a
// network call; the zero customerID and false if not.
func (o *Outbox) cachedCustomer(tenant string) (customerID, bool) {
	c, ok := o.cfg.Customers.Cached(tenant)
	if !ok || c == "" {
		return customerID{}, false
	}
	return unique.Make(c), true
}

// makeSendable makes a frozen or re-bound event sendable: at once without
// a store, after the next commit with one.
func (o *Outbox) makeSendable(s *Series) {
	if o.cfg.Store == nil {
		o.queueReady(s)
		return
	}
	s.state = pending
	o.pending = append(o.pending, s)
	o.markDirty(s)
}

// queueReady hands the series' event to the workers.
func (o *Outbox) queueReady(s *Series) {
	s.state = ready
	o.ready.push(s)
	o.work.Signal()
}

// restoreEvent queues an event a store held at start, as it was stored.
func (o *Outbox) restoreEvent(s *Series, ev event) {
	s.event = ev
	s.rewrite = false
	s.storedEvent = true
	s.state = ready
	o.ready.push(s)
}

// releaseCommitted sends a pending event once the commit that stored it
// succeeded; one the commit did not write, or wrote before it was re-bound,
// waits for the next commit.
func (o *Outbox) releaseCommitted(s *Series) {
	switch {
	case s.state != pending:
	case s.storedEvent && !s.rewrite:
		o.queueReady(s)
	default:
		o.pending = append(o.pending, s)
		o.markDirty(s)
	}
}

// startAttempt hands a ready event to a worker, which owns it until it
// applies the attempt's outcome.
func (o *Outbox) startAttempt(s *Series) {
	s.state = inFlight
	o.stats.InFlight++
}

// awaitRetry puts an event whose attempt failed in the retry heap until
// next (monotonic nanoseconds).
func (o *Outbox) awaitRetry(s *Series, next int64) {
	s.retry().next = next
	s.state = waiting
	o.retries.add(s)
	o.kick()
}

// releaseDue queues the events whose retry time has come and returns how
// long until the next one (0 if none waits).
func (o *Outbox) releaseDue() time.Duration {
	now := o.mono()
	for {
		s := o.retries.peek()
		if s == nil {
			return 0
		}
		if next := s.extra.retry.next; next > now {
			return time.Duration(next - now)
		}
		o.retries.popMin()
		o.queueReady(s)
	}
}

// endEvent forgets a delivered or rejected event: the series is idle.
func (o *Outbox) endEvent(s *Series) {
	s.event = event{}
	s.rewrite = false
	s.endRetry()
	s.state = idle
}

// markDirty queues the series for the next commit and wakes the scheduler,
// which commits (and so releases pending events) whoever made the change.
func (o *Outbox) markDirty(s *Series) {
	if o.cfg.Store != nil && !s.dirty && !s.forgotten.Load() {
		s.dirty = true
		o.dirty = append(o.dirty, s)
		o.kick()
	}
}

// forget drops the series for which drop holds, unless the store still
// holds an event of theirs or owes them a write. A Handle to a forgotten
// series finds its key again at the next ingest.
func (o *Outbox) forget(drop func(*Series) bool) {
	o.series.all(func(s *Series) {
		if s.dirty || s.storedEvent || s.storedRejected || !drop(s) {
			return
		}
		if v := s.remainder().Value(); v > 0 {
			o.stats.FractionsDropped += v
		}
		if s.storedOpen {
			o.dropped = append(o.dropped, s.key())
		}
		s.forgotten.Store(true)
		o.series.delete(s)
	})
}
