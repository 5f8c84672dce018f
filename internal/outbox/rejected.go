package outbox

import (
	"time"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// rejectedUsage is a series' rejected usage, kept until sent again. The backend recorded none
// of it, so every rejected event of the series merges into one amount, and
// it is sent again, under a new key, when RetryRejected or a restart asks.
type rejectedUsage struct {
	units  int64
	events int64
	reason string
	err    error
	since  int64 // wall clock of the first rejection
}

// Rejected describes rejected usage kept until sent again: one rejected event (in a
// FirstOutcomes) or all the rejected usage of a series (from Rejected).
type Rejected struct {
	Key    Key
	Units  int64
	Events int64
	Reason string
	Err    error // the latest rejection; nil for usage rejected before a restart
	Since  time.Time
}

// park sets a rejected event's usage aside; later usage of the series goes
// on as its next event. The rejection is reported through the first
// attempts of the ingest that froze the event if its Export still waits
// for them, else through OnRejected. mu must be held; the report is run
// without it.
func (o *Outbox) park(s *Series, out usage.Outcome, first *FirstAttempts) (report func()) {
	before := s.contrib()
	ev := &s.event
	now := time.Now().UnixNano()
	p := s.rejected()
	if p == nil {
		p = &rejectedUsage{since: now}
		s.setRejected(p)
	}
	p.units += ev.units
	p.events++
	p.reason, p.err = out.Err.Error(), out.Err
	if s.storedEvent {
		o.ack(ev.seq, ev.id)
		s.storedEvent = false
	}
	rejected := Rejected{Key: s.key(), Units: ev.units, Events: 1, Reason: p.reason, Err: out.Err, Since: time.Unix(0, now)}
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
	o.cfg.Customers.Forget(s.tenant())
	o.freezeOpen(s, o.wallNow())
	return func() {
		if notify && o.cfg.OnRejected != nil {
			o.cfg.OnRejected(rejected)
		}
		o.cfg.Logger.Error("litewavemetric: usage rejected by the billing backend; kept until sent again",
			"tenant", rejected.Key.Tenant, "device", rejected.Key.Device, "meter", rejected.Key.Meter, "units", rejected.Units, "reason", rejected.Reason)
	}
}

// Rejected lists the usage kept until sent again, per series.
func (o *Outbox) Rejected() []Rejected {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Rejected
	o.series.all(func(s *Series) {
		if p := s.rejected(); p != nil {
			out = append(out, Rejected{Key: s.key(), Units: p.units, Events: p.events, Reason: p.reason, Err: p.err, Since: time.Unix(0, p.since)})
		}
	})
	return out
}

// RetryRejected sends all rejected usage again, for use once the cause of the
// rejections is fixed, and returns how many series it concerned. The usage
// joins its series' next event, under a new key, bound to a customer
// looked up afresh.
func (o *Outbox) RetryRejected() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	now := o.wallNow()
	o.series.all(func(s *Series) {
		p := s.rejected()
		if p == nil {
			return
		}
		before := s.contrib()
		if s.open == 0 {
			s.openStart = p.since
		}
		s.open += p.units
		s.setRejected(nil)
		o.markDirty(s)
		o.stats.account(before, s.contrib())
		o.cfg.Customers.Forget(s.tenant())
		o.freezeOpen(s, now)
		n++
	})
	o.progressed()
	return n
}
