package outbox

import (
	"errors"
	"net"
	"time"
)

// Class tells why usage could not be delivered.
type Class uint8

const (
	classNone Class = iota
	// Outage: network errors, timeouts, 408, 429, 5xx. The usage is kept
	// and retried.
	Outage
	// Configuration: a wrong key or endpoint, a missing customer account or
	// topic. The usage is kept and retried; the report says what to fix.
	Configuration
	// Spool: the store cannot be written. Events wait, unsent, until it can.
	Spool
	classes
)

// definite reports whether a failure of class c with err is an answer
// that retrying cannot change, so that a Flush need not wait for it: a
// configuration problem of this process (a refused key, a wrong path,
// refused credentials, a missing topic). Not one that the backend's data
// may fix meanwhile (an error with AwaitsBackend, such as a tenant whose
// account is being created), nor a host that does not resolve, which may
// be a passing DNS failure, unless a store keeps the usage for the next
// start.
func definite(c Class, err error, stored bool) bool {
	if c != Configuration {
		return false
	}
	var backend interface{ AwaitsBackend() bool }
	if errors.As(err, &backend) && backend.AwaitsBackend() {
		return false
	}
	var dns *net.DNSError
	return stored || !errors.As(err, &dns) || !dns.IsNotFound
}

// HealthState is where a failure episode is.
type HealthState uint8

const (
	Began    HealthState = iota + 1 // the first failure of an episode
	Persists                        // still failing past ReportTimes.First, then every ReportTimes.Every
	Ended                           // nothing fails this way any more
)

// Health reports a change in how delivery fails.
type Health struct {
	Class     Class
	State     HealthState
	Since     time.Time // when the episode began
	At        time.Time // when this was reported
	Events    int64     // events whose last attempt failed this way (held, for Spool)
	OwedUnits int64
	Err       error // the latest failure
}

// ReportTimes rate-limits health reports: an episode is reported when it
// begins (unless the class was reported within Every), when it has lasted
// First, then every Every, and when it ends, if it was reported at all.
type ReportTimes struct {
	First, Every time.Duration
}

// DefaultReportTimes are the report times unless Config.Reports is set.
var DefaultReportTimes = ReportTimes{First: time.Minute, Every: 10 * time.Minute}

type health [classes]episode

// episode is the failure state of one class.
type episode struct {
	events     int64 // events whose last failure was of this class
	since      int64 // monotonic start of the episode
	sinceWall  time.Time
	lastReport int64 // monotonic time of the last report of this class, or 0
	reported   bool  // this episode was reported
	persisted  bool  // its Persists report was made
	err        error
}

// failed records that an attempt of s failed with class c. mu must be held;
// the report, if any, is run without it.
func (o *Outbox) failed(s *Series, c Class, err error) func() {
	var r1 func()
	if r := s.retry(); r.failure != c {
		r1 = o.cleared(s)
		r.failure = c
		o.health[c].events++
	}
	return both(r1, o.note(c, err))
}

// cleared records that s's event no longer fails (delivered, rejected or
// re-bound). mu must be held.
func (o *Outbox) cleared(s *Series) func() {
	c := s.failure()
	if c == classNone {
		return nil
	}
	s.extra.retry.failure = classNone
	e := &o.health[c]
	e.events--
	if e.events > 0 {
		return nil
	}
	return o.end(c)
}

// spoolFailed and spoolWritten record the outcome of a commit.
func (o *Outbox) spoolFailed(err error) func() {
	o.health[Spool].events = int64(len(o.pending))
	return o.note(Spool, err)
}

func (o *Outbox) spoolWritten() func() {
	if o.health[Spool].since == 0 {
		return nil
	}
	o.health[Spool].events = 0
	return o.end(Spool)
}

// note records a failure of class c and returns the report it calls for.
func (o *Outbox) note(c Class, err error) func() {
	e := &o.health[c]
	e.err = err
	now := o.mono()
	t := o.cfg.Reports
	state := HealthState(0)
	switch {
	case e.since == 0:
		e.since, e.sinceWall, e.reported, e.persisted = now, time.Now(), false, false
		if e.lastReport == 0 || now-e.lastReport >= int64(t.Every) {
			state = Began
		}
	case !e.persisted && now-e.since >= int64(t.First):
		state, e.persisted = Persists, true
	case e.persisted && now-e.lastReport >= int64(t.Every):
		state = Persists
	}
	if state == 0 {
		return nil
	}
	e.lastReport, e.reported = now, true
	return o.healthReport(c, state)
}

// end closes the episode of class c.
func (o *Outbox) end(c Class) func() {
	e := &o.health[c]
	reported := e.reported
	e.since, e.reported = 0, false
	if !reported {
		return nil
	}
	e.lastReport = o.mono()
	return o.healthReport(c, Ended)
}

func (o *Outbox) healthReport(c Class, state HealthState) func() {
	e := &o.health[c]
	h := Health{Class: c, State: state, Since: e.sinceWall, At: time.Now(), Events: e.events, OwedUnits: o.stats.OwedUnits, Err: e.err}
	return func() {
		if o.cfg.OnHealth != nil {
			o.cfg.OnHealth(h)
		}
	}
}

// both runs a and b, either of which may be nil.
func both(a, b func()) func() {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return func() { a(); b() }
}

// Failure is the latest error of a failure under way, and its class.
type Failure struct {
	Class Class
	Err   error
}

// Failures returns the latest error of every failure under way.
func (o *Outbox) Failures() []Failure {
	o.mu.Lock()
	defer o.mu.Unlock()
	var fs []Failure
	for c := Outage; c < classes; c++ {
		if e := &o.health[c]; e.since != 0 && e.err != nil {
			fs = append(fs, Failure{Class: c, Err: e.err})
		}
	}
	return fs
}

// Stored reports whether everything held is in the store: nothing waits to
// be committed and the last commit succeeded.
func (o *Outbox) Stored() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cfg.Store != nil && o.persistFailed == 0 && len(o.pending)+len(o.dirty)+len(o.dropped)+len(o.acked)+o.streams.changes() == 0
}

// report releases mu and makes the reports (logs, OnHealth, OnRejected)
// without it: a handler that calls back into the exporter must not
// deadlock it. Reports are made one at a time, in the order of the changes
// they describe: each caller queues its reports under mu, and whoever finds
// no one making reports makes the whole queue. Flush waits for the queue,
// so that what a flush resolved has been reported when it returns. mu must
// be held; it is released.
func (o *Outbox) report(reports []func()) {
	o.queueReports(reports)
	if o.reportsBusy {
		o.mu.Unlock()
		return
	}
	o.reportsBusy = true
	for len(o.reportQueue) > 0 {
		batch := o.reportQueue
		o.reportQueue = nil
		o.mu.Unlock()
		for _, r := range batch {
			r()
		}
		o.mu.Lock()
		o.reporting -= len(batch)
	}
	o.reportsBusy = false
	o.progressed()
	o.mu.Unlock()
}

// queueReports queues reports for report. mu must be held.
func (o *Outbox) queueReports(reports []func()) {
	for _, r := range reports {
		if r != nil {
			o.reportQueue = append(o.reportQueue, r)
			o.reporting++
		}
	}
}
