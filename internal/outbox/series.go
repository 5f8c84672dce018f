package outbox

// state is where a series' frozen event is in its life.
type state uint8

const (
	idle     state = iota // no frozen event
	pending               // frozen or re-bound, waiting for the store before it may be sent
	ready                 // queued for a worker
	waiting               // in the retry heap until event.next
	inFlight              // owned by a worker
	parked                // permanently rejected; kept, reported, not retried
)

// event is a frozen amount of usage: once frozen its units, window and id
// never change, and once its customer is bound neither does that, so every
// attempt sends the same bytes.
type event struct {
	units    int64
	end      int64  // end of its window, wall-clock Unix nanoseconds
	seq      uint64 // order of freezing; the store's key
	id       ID
	customer string
	next     int64 // monotonic nanoseconds of the next attempt
	round    *Round
	attempts int32
	// retryAfter marks a wait the server asked for, which Flush respects.
	retryAfter bool
	rewrite    bool // the stored record is stale: the customer was bound since
}

// problem says why a series' usage is held: its event was rejected, or its
// key is invalid. Rare, so kept out of line.
type problem struct {
	reason  string
	status  int
	since   int64 // wall clock
	invalid bool  // the key failed validation; nothing is ever sent
}

// Series is the owed usage of one Key.
type Series struct {
	Key
	event       event
	open        int64 // usage accumulated while the event is pending
	rem         Remainder
	problem     *problem
	lastActive  int32 // monotonic seconds
	heapIdx     int32
	state       state
	dirty       bool // differs from what the store holds
	storedEvent bool // the store holds the current event's record
	storedOpen  bool // the store holds an open record for this key
	gone        bool // evicted: a handle to it must not be used
}

func (s *Series) hasEvent() bool { return s.event.units > 0 }

// Gone reports whether the series was forgotten, so that a handle to it
// must be looked up again. Read it only during an ingest.
func (s *Series) Gone() bool { return s.gone }

// invalidKey reports whether the series' key failed validation.
func (s *Series) invalidKey() bool { return s.problem != nil && s.problem.invalid }

// blocked reports whether the series' usage cannot currently be delivered:
// its key is invalid or its event is parked.
func (s *Series) blocked() bool { return s.state == parked || s.invalidKey() }

// holdsNothing reports whether forgetting the series loses no usage.
func (s *Series) holdsNothing() bool {
	return s.state == idle && s.open == 0 && s.rem.IsZero() && !s.hasEvent()
}
