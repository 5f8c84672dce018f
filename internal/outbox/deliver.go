package outbox

import (
	"context"
	"errors"
	"time"
)

// worker sends events, one at a time, until the outbox stops.
func (o *Outbox) worker() {
	defer o.wg.Done()
	for {
		s, d, ok := o.take()
		if !ok {
			return
		}
		o.attempt(s, d)
	}
}

// take waits for a ready event and hands it to the caller, which owns the
// event until it calls finish or rebind.
func (o *Outbox) take() (*Series, Delivery, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.ready.len() == 0 && !o.stopping {
		o.work.Wait()
	}
	if o.stopping {
		return nil, Delivery{}, false
	}
	s := o.ready.pop()
	s.state = inFlight
	o.stats.inFlight++
	ev := &s.event
	ev.attempts++
	return s, Delivery{ID: ev.id, Key: s.Key, Customer: ev.customer, Units: ev.units, Attempt: int(ev.attempts)}, true
}

func (o *Outbox) attempt(s *Series, d Delivery) {
	if d.ID.IsZero() {
		// Derived outside the lock, or a SHA-256 per event would serialise
		// the workers; the worker owns the event, whose window end never
		// changes once frozen. finish records it.
		d.ID = DeriveID(o.cfg.Instance, s.Key, s.event.end)
	}
	if d.Customer == "" {
		c, err := o.cfg.Backend.Customer(o.ctx, s.Tenant)
		if err != nil {
			o.finish(s, d, err, true)
			return
		}
		if o.cfg.Store != nil {
			// The customer is part of the bytes: store it before the first
			// send, so that a replay after a crash sends the same bytes.
			o.rebind(s, d.ID, c)
			return
		}
		d.Customer = c
	}
	o.finish(s, d, o.cfg.Backend.Deliver(o.ctx, d), false)
}

func (o *Outbox) rebind(s *Series, id ID, customer string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stats.inFlight--
	s.event.id, s.event.customer = id, customer
	s.event.attempts-- // the lookup was not a delivery attempt
	o.rewriteEvent(s)
	o.enqueue(s)
}

// finish records the outcome of an attempt made with d. What it reports
// (logs, OnParked) it reports after releasing the lock: a handler that
// calls back into the exporter must not deadlock it.
func (o *Outbox) finish(s *Series, d Delivery, err error, lookup bool) {
	o.mu.Lock()
	report := o.settle(s, d, err, lookup)
	o.mu.Unlock()
	if report != nil {
		report()
	}
}

// settle applies an attempt's outcome and returns what to report, if
// anything. mu must be held.
func (o *Outbox) settle(s *Series, d Delivery, err error, lookup bool) (report func()) {
	defer o.progressed()
	o.stats.inFlight--
	before := s.contrib()
	ev := &s.event
	ev.id, ev.customer = d.ID, d.Customer
	r := ev.round
	ev.round = nil
	if err == nil {
		units := ev.units
		o.stats.deliveredEvents++
		o.stats.deliveredUnits += units
		if s.storedEvent {
			o.acked = append(o.acked, ev.seq)
			s.storedEvent = false
		}
		s.event = event{}
		s.state = idle
		o.markDirty(s)
		o.stats.account(before, s.contrib())
		if r != nil {
			r.res.Delivered++
			r.res.DeliveredUnits += units
			r.settle()
		}
		if s.open > 0 {
			o.freeze(s, o.wallNow(), nil, o.cfg.Backend.CachedCustomer)
		}
		return nil
	}
	f := o.cfg.Classify(err)
	if f.Permanent && !lookup {
		report = o.park(s, err.Error(), f.Status, r)
		o.stats.account(before, s.contrib())
		return report
	}
	o.stats.retries++
	wait := o.cfg.Retry.Wait(int(ev.attempts), f.RetryAfter)
	ev.retryAfter = f.RetryAfter > 0
	ev.next = o.mono() + int64(wait)
	// One reason for the whole outbox, not one per event: in an outage
	// every owed event would hold a copy of the same message.
	o.lastFailure = err.Error()
	s.state = waiting
	o.retries.add(s)
	o.kick()
	if r != nil {
		r.res.Deferred++
		r.res.DeferredUnits += ev.units
		if r.res.DeferReason == "" {
			r.res.DeferReason = err.Error()
		}
		r.settle()
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	k, attempt := s.Key, ev.attempts
	return func() {
		o.cfg.Logger.Debug("litewavemetric: delivery failed, will retry",
			"tenant", k.Tenant, "device", k.Device, "meter", k.Meter, "attempt", attempt, "wait", wait, "err", err)
	}
}

// park keeps a permanently rejected event aside: held, counted, and
// reported, through the Export that froze it if that Export still waits
// for it, else through OnParked. mu must be held; the report is run
// without it.
func (o *Outbox) park(s *Series, reason string, status int, r *Round) (report func()) {
	s.state = parked
	s.problem = &problem{reason: reason, status: status, since: time.Now().UnixNano()}
	o.stats.parkedTotal++
	p := s.parkedInfo()
	notify := r == nil || r.released
	if r != nil {
		r.res.Parked = append(r.res.Parked, p)
		r.settle()
	}
	return func() {
		if notify && o.cfg.OnParked != nil {
			o.cfg.OnParked(p)
		}
		o.cfg.Logger.Error("litewavemetric: usage event rejected permanently; parked",
			"tenant", p.Key.Tenant, "device", p.Key.Device, "meter", p.Key.Meter,
			"units", p.Units, "status", status, "reason", reason)
	}
}

func (s *Series) parkedInfo() Parked {
	p := Parked{Key: s.Key, Units: s.event.units, Held: s.open}
	if pr := s.problem; pr != nil {
		p.Reason, p.Status, p.InvalidKey = pr.reason, pr.status, pr.invalid
		if pr.since != 0 {
			p.Since = time.Unix(0, pr.since)
		}
	}
	return p
}

// schedule moves events whose retry time has come to the ready queue and
// commits changes to the store, until the outbox stops.
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
			if err := o.Persist(); err != nil && o.cfg.OnStoreError != nil {
				o.cfg.OnStoreError(err)
			}
			o.mu.Lock()
			_, later = o.commitDue()
			o.mu.Unlock()
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
	// commitPause batches the commits that no event waits for (records of
	// acknowledged events to delete, open amounts to update): one synced
	// transaction per acknowledgement would cost a third of the delivery
	// rate. It bounds how long an acknowledged event may stay in the store,
	// to be resent, with its key, if the process dies meanwhile.
	commitPause = 10 * time.Millisecond
	// storeRetryPause spaces out commits after a store failure, so that a
	// failing disk is not hammered in a loop.
	storeRetryPause = time.Second
)

// commitDue reports whether the scheduler should commit now, or else in how
// long (0: nothing to commit). Events waiting to be sent are committed at
// once. mu must be held.
func (o *Outbox) commitDue() (bool, time.Duration) {
	if o.cfg.Store == nil || len(o.pending)+len(o.dirty)+len(o.dropped)+len(o.acked) == 0 {
		return false, 0
	}
	pause := commitPause
	switch {
	case o.persistFailed != 0:
		pause = storeRetryPause
	case len(o.pending) > 0:
		return true, 0
	}
	if wait := time.Duration(o.lastCommit + int64(pause) - o.mono()); wait > 0 {
		return false, wait
	}
	return true, 0
}

// Flush brings every event waiting on its backoff forward (not those waiting
// on a server's Retry-After) and waits until no deliverable usage is owed,
// or ctx ends, or the outbox is closed (ErrStopped).
func (o *Outbox) Flush(ctx context.Context) error {
	o.mu.Lock()
	now := o.mono()
	for _, s := range o.retries {
		if !s.event.retryAfter {
			s.event.next = now
		}
	}
	if len(o.retries) > 0 {
		o.retries.reorder()
		o.kick()
	}
	o.mu.Unlock()
	return o.waitFor(ctx, func() bool { return o.stats.owedUnits == 0 })
}

// Parked lists the usage that is held but not delivered.
func (o *Outbox) Parked() []Parked {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Parked
	o.series.all(func(s *Series) {
		if s.blocked() {
			out = append(out, s.parkedInfo())
		}
	})
	return out
}

// RetryParked queues every parked event for another attempt, for use once
// the cause of the rejection has been fixed. It returns how many it queued.
func (o *Outbox) RetryParked() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	o.series.all(func(s *Series) {
		if s.state != parked {
			return
		}
		before := s.contrib()
		s.event.attempts = 0
		s.problem = nil
		o.makeReady(s)
		o.stats.account(before, s.contrib())
		n++
	})
	o.progressed()
	return n
}
