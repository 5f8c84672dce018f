package outbox

import (
	"time"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// parked is a series' rejected usage, held aside. The backend recorded none
// of it, so every rejected event of the series merges into one amount, and
// it is sent again, under a new key, when RetryParked or a restart asks.
type parked struct {
	units  int64
	events int64
	reason string
	err    error
	since  int64 // wall clock of the first rejection
}

// Parked describes rejected usage held aside: one rejected event (in a
// FirstOutcomes) or all the parked usage of a series (from Parked).
type Parked struct {
	Key    Key
	Units  int64
	Events int64
	Reason string
	Err    error // the latest rejection; nil for usage parked before a restart
	Since  time.Time
}

// park sets a rejected event's usage aside; later usage of the series goes
// on as its next event. The rejection is reported through the first
// attempts of the ingest that froze the event if its Export still waits
// for them, else through OnParked. mu must be held; the report is run
// without it.
func (o *Outbox) park(s *Series, out usage.Outcome, first *FirstAttempts) (report func()) {
	before := s.contrib()
	ev := &s.event
	now := time.Now().UnixNano()
	if s.parked == nil {
		s.parked = &parked{since: now}
	}
	p := s.parked
	p.units += ev.units
	p.events++
	p.reason, p.err = out.Err.Error(), out.Err
	if s.storedEvent {
		o.ack(ev.seq, ev.id)
		s.storedEvent = false
	}
	rejected := Parked{Key: s.Key, Units: ev.units, Events: 1, Reason: p.reason, Err: out.Err, Since: time.Unix(0, now)}
	o.endEvent(s)
	o.stats.Rejections++
	o.stats.RejectedEventUnits += rejected.Units
	o.stats.account(before, s.contrib())
	o.markDirty(s)
	notify := first == nil || first.released
	if first != nil {
		first.res.Rejected = append(first.res.Rejected, rejected)
		first.answered()
	}
	// The rejection may be of a customer the tenant no longer has: the next
	// event asks again.
	o.cfg.Customers.Forget(s.Tenant)
	o.freezeOpen(s, o.wallNow())
	return func() {
		if notify && o.cfg.OnParked != nil {
			o.cfg.OnParked(rejected)
		}
		o.cfg.Logger.Error("litewavemetric: usage rejected by the billing backend; kept until sent again",
			"tenant", s.Tenant, "device", s.Device, "meter", s.Meter, "units", rejected.Units, "reason", rejected.Reason)
	}
}

// Parked lists the usage held aside, per series.
func (o *Outbox) Parked() []Parked {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Parked
	o.series.all(func(s *Series) {
		if p := s.parked; p != nil {
			out = append(out, Parked{Key: s.Key, Units: p.units, Events: p.events, Reason: p.reason, Err: p.err, Since: time.Unix(0, p.since)})
		}
	})
	return out
}

// RetryParked sends all parked usage again, for use once the cause of the
// rejections is fixed, and returns how many series it concerned. The usage
// joins its series' next event, under a new key, bound to a customer
// looked up afresh.
func (o *Outbox) RetryParked() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	now := o.wallNow()
	o.series.all(func(s *Series) {
		p := s.parked
		if p == nil {
			return
		}
		before := s.contrib()
		if s.open == 0 {
			s.openStart = p.since
		}
		s.open += p.units
		s.parked = nil
		o.markDirty(s)
		o.stats.account(before, s.contrib())
		o.cfg.Customers.Forget(s.Tenant)
		o.freezeOpen(s, now)
		n++
	})
	o.progressed()
	return n
}
