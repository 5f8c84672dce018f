package outbox

// Round tracks the events frozen by one ingest until each has had its first
// outcome, so that the Export that handed the usage over can report what
// became of it: delivered, deferred to a retry, or rejected.
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
	Rejected                  []Parked
	Unfinished                int // events still awaiting a first outcome
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

// Release returns what is known of the round and lets it go: rejections
// that come later, which the caller will no longer read, are reported
// through OnParked instead.
func (o *Outbox) Release(r *Round) RoundResult {
	o.mu.Lock()
	defer o.mu.Unlock()
	r.released = true
	res := r.res
	res.Rejected = append([]Parked(nil), r.res.Rejected...)
	res.Unfinished = r.pending
	return res
}
