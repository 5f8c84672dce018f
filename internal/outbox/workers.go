package outbox

import (
	"context"
	"errors"

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
	aside   []bool        // events[i] waits for its tenant's customer lookup
	rebind  []bool        // events[i] was just bound: store it before sending
	send    []usage.Event // the events sent, when some wait (aside, rebind)
	sendIdx []int
	outs    []usage.Outcome
	reports []func()
	acked   []uint64 // seqs of the events delivered, for the AckLog
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
// worker, which owns them until it applies their outcomes.
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
		o.startAttempt(s)
		ev := &s.event
		b.series = append(b.series, s)
		b.seqs = append(b.seqs, ev.seq)
		b.events = append(b.events, usage.Event{ID: ev.id, Key: s.key(), Customer: ev.customerName(), Units: ev.units, Start: ev.start, End: ev.end})
	}
	o.delivering++
	if o.linger != nil {
		o.handing++
		o.linger.Coming()
	}
	return true
}

// lastForNow reports, as a worker is about to call Send, whether a
// Lingering backend should have its SendLast: no other Send follows before
// one under way returns, for no other batch is taken and none is ready
// with a worker free to take it.
func (o *Outbox) lastForNow() bool {
	if o.linger == nil {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.handing--
	return o.handing == 0 && (o.ready.len() == 0 || o.delivering == o.cfg.Concurrency)
}

// deliver binds the batch's events to cached customers, sends those it
// can and applies the outcome of every one; an event whose customer is not cached is set
// aside for its tenant's lookup (lookups.go). Ids and the send run
// without the lock.
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
			o.ids.Derive(&ev.ID, ev.Key, b.seqs[i])
		}
		b.sendIdx = append(b.sendIdx, i)
	}
	// Usually every event goes: send them where they are.
	send := b.events
	if len(b.sendIdx) < len(b.events) {
		for _, i := range b.sendIdx {
			b.send = append(b.send, b.events[i])
		}
		send = b.send
	}
	outs := b.outs[:len(send)]
	clear(outs)
	switch {
	case o.lastForNow():
		o.linger.SendLast(o.ctx, send, outs)
	case len(send) > 0:
		o.cfg.Backend.Send(o.ctx, send, outs)
	}
	o.logAcks(b, outs)

	b.reports = b.reports[:0]
	o.mu.Lock()
	o.delivering--
	j := 0
	for i, s := range b.series {
		var report func()
		switch {
		case b.aside[i]:
			report = o.aside(s, &b.events[i])
		case b.rebind[i]:
			report = o.bind(s, &b.events[i])
		default:
			report = o.applyOutcome(s, &b.events[i], outs[j], false)
			j++
		}
		if report != nil {
			b.reports = append(b.reports, report)
		}
	}
	o.progressed()
	o.report(b.reports)
	clear(b.reports)
	clear(b.events)
	clear(b.send)
}

// logAcks records the batch's delivered events in the store's AckLog, if
// it has one, before their outcomes are applied: a process killed before
// the commit that deletes their records does not send them again. If the
// log fails, that commit alone records them.
func (o *Outbox) logAcks(b *batch, outs []usage.Outcome) {
	l, ok := o.cfg.Store.(AckLog)
	if !ok {
		return
	}
	b.acked = b.acked[:0]
	for j, i := range b.sendIdx {
		if outs[j].Result == usage.Delivered {
			b.acked = append(b.acked, b.seqs[i])
		}
	}
	if len(b.acked) == 0 {
		return
	}
	if err := l.Acked(b.acked); err != nil {
		o.cfg.Logger.Debug("litewavemetric: recording acknowledgements beside the spool failed; its next commit records them",
			"events", len(b.acked), "err", err)
	}
}

// bind binds s's event to the customer ev names and sends it again: once
// the store holds it (the customer is part of the bytes, so a replay sends
// the same bytes), or at once without a store. mu must be held.
func (o *Outbox) bind(s *Series, ev *usage.Event) func() {
	o.stats.InFlight--
	s.event.id = ev.ID
	s.event.bindCustomer(ev.Customer)
	s.rewrite = o.cfg.Store != nil
	report := o.cleared(s)
	o.makeSendable(s)
	return report
}

// applyOutcome applies the outcome of an attempt of s's event, sent as ev,
// and returns what to report, if anything. lookup marks a failed customer
// lookup: it is retried whatever it says. mu must be held.
func (o *Outbox) applyOutcome(s *Series, ev *usage.Event, out usage.Outcome, lookup bool) func() {
	o.stats.InFlight--
	e := &s.event
	e.id = ev.ID
	e.bindCustomer(ev.Customer)
	first := e.first
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
		o.endEvent(s)
		o.stats.account(before, s.contrib())
		if first != nil {
			first.res.Delivered++
			first.res.DeliveredUnits += units
			first.answered()
		}
		if s.open > 0 { // counted while the event was in flight
			o.freezeOpen(s, o.wallNow())
		}
		return report
	case out.Result == usage.Rejected && !lookup:
		return both(o.cleared(s), o.park(s, out, first))
	}
	e.first = nil
	o.stats.Retries++
	r := s.retry()
	r.failures++
	wait := o.retryWait(int(r.failures), out.Wait)
	r.serverWait = out.Wait > 0
	o.awaitRetry(s, o.mono()+int64(wait))
	if first != nil {
		first.res.Deferred++
		first.res.DeferredUnits += e.units
		first.answered()
	}
	if errors.Is(out.Err, context.Canceled) && o.ctx.Err() != nil {
		return nil // abandoned by Close: not a failure of the backend
	}
	class := Outage
	if usage.IsConfig(out.Err) {
		class = Configuration
	}
	r.tried, r.definite = o.flushes, definite(class, out.Err, o.cfg.Store != nil)
	k, attempt, err := s.key(), r.failures, out.Err
	return both(o.failed(s, class, err), func() {
		o.cfg.Logger.Debug("litewavemetric: delivery failed, will retry",
			"tenant", k.Tenant, "device", k.Device, "meter", k.Meter, "attempt", attempt, "wait", wait, "err", err)
	})
}
