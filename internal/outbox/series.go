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
	from, to int64  // window, wall-clock Unix nanoseconds
	seq      uint64 // order of freezing; the store's key
	id       ID
	customer string
	attempts int32
	// retryAfter marks a wait the server asked for, which ForceFlush respects.
	retryAfter bool
	rewrite    bool  // the stored record is stale: the customer was bound since
	next       int64 // monotonic nanoseconds of the next attempt
	round      *Round
	problem    *problem // why it is parked, or the last retryable failure
}

type problem struct {
	reason string
	status int
	since  int64 // wall clock
}

// Series is the owed usage of one Key.
type Series struct {
	Key
	event    event
	open     int64 // usage accumulated while the event is pending
	openFrom int64 // wall clock when open became non-zero
	rem      Remainder
	state    state
	invalid  string // non-empty: the key failed validation; usage is held, never sent

	heapIdx    int
	touched    uint64 // ingest generation that last touched it
	lastActive int64  // monotonic
	dirty      bool   // differs from what the store holds
	stored     uint64 // seq of the event record in the store, 0 if none
	storedOpen bool   // the store holds an open record for this key
}

func (s *Series) hasEvent() bool { return s.event.units > 0 }

// blocked reports whether the series' usage cannot currently be delivered:
// its key is invalid or its event is parked.
func (s *Series) blocked() bool { return s.invalid != "" || s.state == parked }

// holdsNothing reports whether forgetting the series loses no usage.
func (s *Series) holdsNothing() bool {
	return s.state == idle && s.open == 0 && s.rem.IsZero() && !s.hasEvent()
}
