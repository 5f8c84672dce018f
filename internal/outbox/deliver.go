package outbox

import (
	"context"
	"errors"
	"time"

	"github.com/aiorch/litewavemetric/internal/retry"
	"github.com/aiorch/litewavemetric/internal/usage"
)

// batch is a worker's buffers for one Send, reused from batch to batch;
// they grow with the batches the worker takes, not to the largest allowed,
// so that idle workers of a batching backend hold little.
type batch struct {
	max     int
	series  []*Series
	events  []usage.Event // events[i] is series[i]'s event, as sent
	seqs    []uint64
	aside   []bool // events[i] waits for its tenant's customer lookup
	rebind  []bool // events[i] was just bound: store it before sending
	send    []usage.Event
	sendIdx []int
	outs    []usage.Outcome
	reports []func()
	acked   []uint64 // seqs of the stored events delivered, for the AckLog
}

func newBatch(max int) *batch { return &batch{max: max} }

// grow makes the per-event buffers hold n events.
func (b *batch) grow(n int) {
	if cap(b.aside) >= n {
		b.aside, b.rebind, b.outs = b.aside[:n], b.rebind[:n], b.outs[:n]
		return
	}
	b.aside, b.rebind, b.outs = make([]bool, n), make([]bool, n), make([]usage.Outcome, n)
}

// worker delivers batches until the outbox stops.
func (o *Outbox) worker() {
	defer o.wg.Done()
	b := newBatch(max(1, o.cfg.Backend.MaxBatch()))
	for o.take(b) {
		o.deliver(b)
	}
}

// take waits for ready events and hands up to a batch of them to the
// worker, which owns them until it settles them.
func (o *Outbox) take(b *batch) bool {
	b.series, b.events, b.seqs = b.series[:0], b.events[:0], b.seqs[:0]
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.ready.len() == 0 && !o.stopping {
		o.work.Wait()
	}
	if o.stopping {
		return false
	}
	for len(b.series) < b.max {
		s := o.ready.pop()
		if s == nil {
			break
		}
		s.state = inFlight
		o.stats.InFlight++
		ev := &s.event
		ev.attempts++
		b.series = append(b.series, s)
		b.seqs = append(b.seqs, ev.seq)
		b.events = append(b.events, usage.Event{ID: ev.id, Key: s.Key, Customer: ev.customer, Units: ev.units, Start: ev.start, End: ev.end})
	}
	return true
}

// deliver binds the batch's events to cached customers, sends those it
// can and settles every one; an event whose customer is not cached is set
// aside for its tenant's lookup (lookups.go). Ids (a SHA-256 each) and the
// send run without the lock.
func (o *Outbox) deliver(b *batch) {
	b.grow(len(b.events))
	b.send, b.sendIdx = b.send[:0], b.sendIdx[:0]
	for i := range b.events {
		ev := &b.events[i]
		b.aside[i], b.rebind[i] = false, false
		if ev.Customer == "" {
			customer, ok := o.cfg.Customers.Cached(ev.Key.Tenant)
			if !ok {
				b.aside[i] = true // looked up off this path (lookups.go)
				continue
			}
			ev.Customer = customer
			if o.cfg.Store != nil {
				// The customer is part of the bytes: store it before the
				// first send, so that a replay sends the same bytes.
				b.rebind[i] = true
				continue
			}
		}
		if ev.ID.IsZero() {
			ev.ID = usage.DeriveID(o.cfg.Instance, o.session, ev.Key, b.seqs[i])
		}
		b.send = append(b.send, *ev)
		b.sendIdx = append(b.sendIdx, i)
	}
	outs := b.outs[:len(b.send)]
	if len(b.send) > 0 {
		clear(outs)
		o.cfg.Backend.Send(o.ctx, b.send, outs)
	}

	b.reports, b.acked = b.reports[:0], b.acked[:0]
	o.mu.Lock()
	j := 0
	for i, s := range b.series {
		var report func()
		switch {
		case b.aside[i]:
			report = o.aside(s, &b.events[i])
		case b.rebind[i]:
			report = o.bind(s, &b.events[i])
		default:
			stored, seq := s.storedEvent, s.event.seq
			report = o.settle(s, &b.events[i], outs[j], false)
			if stored && outs[j].Result == usage.Delivered && !s.storedEvent {
				// Delivered, and its record's deletion queued (not a
				// rejection's: that record goes only with the parked one).
				b.acked = append(b.acked, seq)
			}
			j++
		}
		if report != nil {
			b.reports = append(b.reports, report)
		}
	}
	o.progressed()
	o.report(b.reports)
	o.logAcks(b.acked)
	clear(b.reports)
	clear(b.events)
	clear(b.send)
}

// logAcks records a batch's delivered events in the store's AckLog, if it
// has one, before the worker takes another batch: a crash before the
// commit that deletes their records then does not send them again. A
// failure leaves them to that commit, as without a log.
func (o *Outbox) logAcks(seqs []uint64) {
	l, ok := o.cfg.Store.(AckLog)
	if !ok || len(seqs) == 0 {
		return
	}
	if err := l.Acked(seqs); err != nil {
		o.cfg.Logger.Debug("litewavemetric: recording acknowledgements beside the spool failed; its next commit records them",
			"events", len(seqs), "err", err)
	}
}

// bind binds s's event to the customer ev names and sends it again: once
// the store holds it (the customer is part of the bytes, so a replay sends
// the same bytes), or at once without a store. mu must be held.
func (o *Outbox) bind(s *Series, ev *usage.Event) func() {
	o.stats.InFlight--
	s.event.id, s.event.customer = ev.ID, ev.Customer
	s.event.attempts-- // the lookup was not a delivery attempt
	s.event.rewrite = o.cfg.Store != nil
	report := o.cleared(s)
	o.enqueue(s)
	return report
}

// settle applies the outcome of an attempt of s's event, sent as ev, and
// returns what to report, if anything. lookup marks a failed customer
// lookup: it is retried whatever it says. mu must be held.
func (o *Outbox) settle(s *Series, ev *usage.Event, out usage.Outcome, lookup bool) func() {
	o.stats.InFlight--
	e := &s.event
	e.id, e.customer = ev.ID, ev.Customer
	r := e.round
	switch {
	case out.Result == usage.Delivered:
		before := s.contrib()
		units := e.units
		o.stats.DeliveredEvents++
		o.stats.DeliveredUnits += units
		if s.storedEvent {
			o.ack(e.seq, e.id)
			s.storedEvent = false
			o.kick()
		}
		report := o.cleared(s)
		o.clearEvent(s)
		o.stats.account(before, s.contrib())
		if r != nil {
			r.res.Delivered++
			r.res.DeliveredUnits += units
			r.settle()
		}
		if s.open > 0 {
			o.freeze(s, o.wallNow(), nil, o.cfg.Customers.Cached)
		}
		return report
	case out.Result == usage.Rejected && !lookup:
		return both(o.cleared(s), o.park(s, out, r))
	}
	e.round = nil
	o.stats.Retries++
	wait := o.retryWait(int(e.attempts), out.Wait)
	e.serverWait = out.Wait > 0
	e.next = o.mono() + int64(wait)
	s.state = waiting
	o.retries.add(s)
	o.kick()
	if r != nil {
		r.res.Deferred++
		r.res.DeferredUnits += e.units
		r.settle()
	}
	if errors.Is(out.Err, context.Canceled) && o.ctx.Err() != nil {
		return nil // abandoned by Close: not a failure of the backend
	}
	class := Outage
	if usage.IsConfig(out.Err) {
		class = Configuration
	}
	e.tried, e.definite = o.flushes, definite(class, out.Err, o.cfg.Store != nil)
	k, attempt, err := s.Key, e.attempts, out.Err
	return both(o.failed(s, class, err), func() {
		o.cfg.Logger.Debug("litewavemetric: delivery failed, will retry",
			"tenant", k.Tenant, "device", k.Device, "meter", k.Meter, "attempt", attempt, "wait", wait, "err", err)
	})
}

func (o *Outbox) clearEvent(s *Series) {
	s.event = event{}
	s.state = idle
}

// retryWait is the wait before the next attempt: the server's, if it gave
// one; else the flush backoff while a Flush is under way, the normal one
// otherwise. mu must be held.
func (o *Outbox) retryWait(attempts int, server time.Duration) time.Duration {
	if o.flushing > 0 && server == 0 {
		return retry.Flush.Backoff(attempts)
	}
	return o.cfg.Retry.Wait(attempts, server)
}

// Flush delivers everything owed now and waits until nothing deliverable is
// owed and the store holds the final state, or ctx ends, or the outbox is
// closed (ErrStopped). Every event waiting on its backoff is attempted at
// once (those waiting on a server's Retry-After wait for it), and while the
// flush lasts failures are retried on the short flush backoff: events in
// flight at the call, events whose attempt fails, and events that arrive
// during the flush.
//
// It returns ErrUnfixable early, once every owed event has had an answer
// during this flush and each still owed was refused for a configuration
// problem that retrying cannot fix (see definite): waiting longer would
// only wait out ctx.
func (o *Outbox) Flush(ctx context.Context) error {
	o.mu.Lock()
	o.flushing++
	o.flushes++
	gen := o.flushes
	o.retryLookupsNow()
	now := o.mono()
	for _, s := range o.retries {
		if !s.event.serverWait {
			s.event.next = now
		}
	}
	if len(o.retries) > 0 {
		o.retries.reorder()
		o.kick()
	}
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.flushing--
		o.mu.Unlock()
	}()
	stuck := false
	err := o.waitFor(ctx, func() bool {
		if o.settled() {
			return true
		}
		stuck = o.stuck(gen)
		return stuck
	})
	if err == nil && stuck {
		return ErrUnfixable
	}
	return err
}

// ErrUnfixable ends a Flush whose owed usage all waits on configuration
// problems that retrying cannot fix.
var ErrUnfixable = errors.New("delivery stopped early: everything owed was refused for a configuration problem that retrying cannot fix")

// settled reports whether nothing deliverable is owed and the store holds
// the current state (see storeCurrent). mu must be held.
func (o *Outbox) settled() bool {
	return o.stats.OwedUnits == 0 && o.reporting == 0 && o.storeCurrent()
}

// storeCurrent reports whether the store, if any, holds the current state:
// nothing waits to be committed, and no commit is under way (its snapshot
// took what it writes out of the queues). mu must be held.
func (o *Outbox) storeCurrent() bool {
	return o.cfg.Store == nil || !o.committing && len(o.pending)+len(o.dirty)+len(o.dropped)+len(o.acked)+o.streams.changes() == 0
}

// stuck reports whether every owed event waits for its retry after an
// attempt that settled since flush gen began and failed for a definite
// configuration problem, its reports made and the store up to date. Events
// in flight, queued, set aside for a lookup or waiting for the store may
// still be delivered: while any is, the flush goes on. mu must be held.
func (o *Outbox) stuck(gen uint64) bool {
	if o.stats.OwedEvents == 0 || int64(len(o.retries)) != o.stats.OwedEvents || o.reporting > 0 || !o.storeCurrent() {
		return false
	}
	for _, s := range o.retries {
		if s.event.tried < gen || !s.event.definite {
			return false
		}
	}
	return true
}

// schedule moves events whose retry time has come to the ready queue and
// commits changes to the store, until the outbox stops. Commits follow one
// another (group commit): what changes while one runs goes into the next,
// which starts as soon as it ends if it is due (commitDue).
func (o *Outbox) schedule() {
	defer o.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		o.mu.Lock()
		next := o.releaseDue()
		commit, later := o.commitDue()
		o.mu.Unlock()
		if commit {
			_ = o.Persist() // its failures are reported through OnHealth
			select {
			case <-o.stop:
				return
			default:
				continue
			}
		}
		if later > 0 && (next == 0 || later < next) {
			next = later
		}
		if next > 0 {
			timer.Reset(next)
		}
		select {
		case <-o.wake:
		case <-timer.C:
		case <-o.stop:
			return
		}
	}
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
		if s.event.next > now {
			return time.Duration(s.event.next - now)
		}
		o.retries.popMin()
		o.makeReady(s)
	}
}

const (
	// commitPause bounds how long changes that no event waits for (open
	// amounts, acknowledgements short of a group) wait for a commit.
	commitPause = 10 * time.Millisecond
	// storeRetryPause spaces out commits after a store failure, so that a
	// failing disk is not hammered in a loop.
	storeRetryPause = time.Second
)

// commitDue reports whether the scheduler should commit now, or else in how
// long (0: nothing to commit). mu must be held.
//
// Events waiting to be stored before their first send are committed at
// once. A store with an AckLog has recorded the acknowledgements already,
// so their deletions wait for the pause: a crash resends, with their keys,
// only the events in flight. Without one, they are committed at once when
// a group waits, two per request in flight: a crash then resends the
// events in flight, a group, and what was acknowledged while the last
// commit ran. Smaller groups cost delivery its rate: a synced commit costs
// the machine about as much as five deliveries to a fast backend, and
// committing whatever waits as soon as the last commit ends took spool/no
// spool in cmd/litewave-bench from 0.87 to 0.60.
func (o *Outbox) commitDue() (bool, time.Duration) {
	if o.cfg.Store == nil || len(o.pending)+len(o.dirty)+len(o.dropped)+len(o.acked)+o.streams.changes() == 0 {
		return false, 0
	}
	_, logged := o.cfg.Store.(AckLog)
	pause := commitPause
	switch {
	case o.persistFailed != 0:
		pause = storeRetryPause
	case len(o.pending) > 0, !logged && len(o.acked) >= 2*max(1, o.cfg.Concurrency):
		return true, 0
	}
	if wait := time.Duration(o.lastCommit + int64(pause) - o.mono()); wait > 0 {
		return false, wait
	}
	return true, 0
}
