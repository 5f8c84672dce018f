package outbox

// FirstAttempts tracks the events frozen by one ingest until each has had
// its first outcome, so that the Export that handed the usage over can
// report what became of it: delivered, deferred to a retry, or rejected.
type FirstAttempts struct {
	done       chan struct{}
	unanswered int
	released   bool // the Export stopped waiting: later rejections go to OnRejected
	res        FirstOutcomes
}

// FirstOutcomes is what became of the events of one ingest.
type FirstOutcomes struct {
	Events, Units             int64 // frozen by the ingest
	Delivered, DeliveredUnits int64
	Deferred, DeferredUnits   int64 // first attempt failed; will be retried
	Rejected                  []Rejected
	Unfinished                int // events still awaiting a first outcome
}

func newFirstAttempts() *FirstAttempts { return &FirstAttempts{done: make(chan struct{})} }

// Done is closed once every event of the ingest has had an outcome.
func (f *FirstAttempts) Done() <-chan struct{} { return f.done }

func (f *FirstAttempts) add(units int64) {
	f.unanswered++
	f.res.Events++
	f.res.Units += units
}

// answered counts one event's first outcome.
func (f *FirstAttempts) answered() {
	f.unanswered--
	f.closeIfAnswered()
}

func (f *FirstAttempts) closeIfAnswered() {
	if f.unanswered == 0 {
		close(f.done)
	}
}

// Release returns what is known of the first attempts and lets them go:
// rejections that come later, which the caller will no longer read, are
// reported through OnRejected instead.
func (o *Outbox) Release(f *FirstAttempts) FirstOutcomes {
	o.mu.Lock()
	defer o.mu.Unlock()
	f.released = true
	res := f.res
	res.Rejected = append([]Rejected(nil), f.res.Rejected...)
	res.Unfinished = f.unanswered
	return res
}
