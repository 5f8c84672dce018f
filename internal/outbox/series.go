package outbox

import (
	"sync/atomic"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// Key identifies a series.
type Key = usage.Key

// event is a frozen amount of usage: once frozen its units, window and
// sequence never change, and once its customer is bound neither does that,
// so every attempt sends the same bytes.
type event struct {
	units      int64          // first, beside what adding touches in Series: adding reads it
	first      *FirstAttempts // likewise
	start, end int64          // its window, wall-clock Unix nanoseconds
	seq        uint64         // order of freezing: the store's key and part of the id
	id         usage.ID
	customer   string
	next       int64 // monotonic nanoseconds of the next attempt
	attempts   int32
	failure    Class  // of the last failed attempt
	definite   bool   // the last failed attempt met a configuration problem that retrying cannot fix
	serverWait bool   // next was set by the server's wait, which Flush honours
	rewrite    bool   // the stored record is stale: the customer was bound since
	tried      uint64 // Outbox.flushes when the last failed attempt ended
}

// Series is the owed usage of one Key. Its state changes only through the
// transitions in states.go. What adding usage touches comes first, the
// event's units and first attempts within its first 40 bytes: a series is
// 208 bytes, so one in four starts a cache line, and these 40 bytes lie in
// one line for half the series (64 bytes would for a quarter).
type Series struct {
	open       int64 // usage accumulated while the event is pending
	lastActive int32 // monotonic seconds
	state      state
	dirty      bool // differs from what the store holds
	// forgotten is set under mu and read by Handle.Held without it.
	forgotten atomic.Bool
	event     event
	openStart int64     // wall clock: start of the window of the open usage
	rem       Remainder // of float usage
	Key
	rejected *rejectedUsage // rejected usage, kept until sent again; rare, so out of line
	heapIdx  int32
	// What the store holds for this series.
	storedEvent, storedOpen, storedRejected bool
}

func (s *Series) hasEvent() bool { return s.event.units > 0 }

// holdsNothing reports whether forgetting the series loses no usage.
func (s *Series) holdsNothing() bool {
	return s.state == idle && s.open == 0 && s.rem.IsZero() && !s.hasEvent() && s.rejected == nil
}
