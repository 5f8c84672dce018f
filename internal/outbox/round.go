package outbox

import "time"

// Round tracks the events frozen by one ingest until each has had its first
// attempt, so that the Export that handed the usage over can report what
// became of it: delivered, deferred to a retry, or parked.
type Round struct {
	done     chan struct{}
	pending  int
	released bool // the Export stopped waiting: later rejections go to OnParked
	res      RoundResult
}

// RoundResult is what became of a round's events.
type RoundResult struct {
	Events, Units             int64 // frozen by the round
	Delivered, DeliveredUnits int64
	Deferred, DeferredUnits   int64 // first attempt failed; will be retried
	DeferReason               string
	Parked                    []Parked
	Unfinished                int // events still awaiting a first outcome
}

// Parked describes usage that is held but not delivered: an event the
// backend rejected permanently, or usage of a series whose key is invalid.
type Parked struct {
	Key        Key
	Units      int64 // of the parked event
	Held       int64 // open usage held behind it
	Reason     string
	Status     int // HTTP status of the rejection, 0 for an invalid key
	InvalidKey bool
	Since      time.Time
}

func newRound() *Round { return &Round{done: make(chan struct{})} }

// Done is closed once every event of the round has had an outcome.
func (r *Round) Done() <-chan struct{} { return r.done }

func (r *Round) add(units int64) {
	r.pending++
	r.res.Events++
	r.res.Units += units
}

func (r *Round) settle() {
	r.pending--
	if r.pending == 0 {
		close(r.done)
	}
}

// Release returns what is known of the round and lets it go: outcomes
// that come later, which the caller will no longer read, are reported
// through OnParked instead.
func (o *Outbox) Release(r *Round) RoundResult {
	o.mu.Lock()
	defer o.mu.Unlock()
	r.released = true
	res := r.res
	res.Parked = append([]Parked(nil), r.res.Parked...)
	res.Unfinished = r.pending
	return res
}
