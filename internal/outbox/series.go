package outbox

import (
	"sync/atomic"
	"unique"

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
	customer   customerID // zero until bound
}

// customerID is a customer id interned: a tenant's events share it, at 8
// bytes each rather than 16.
type customerID = unique.Handle[string]

// customerName is the customer the event is bound to; "" if none yet.
func (e *event) customerName() string {
	if e.customer == (customerID{}) {
		return ""
	}
	return e.customer.Value()
}

// bindCustomer binds the event to customer c; "" unbinds it.
func (e *event) bindCustomer(c string) {
	switch {
	case c == e.customerName():
	case c == "":
		e.customer = customerID{}
	default:
		e.customer = unique.Make(c)
	}
}

// Series is the owed usage of one Key. Its state changes only through the
// transitions in states.go. What adding usage touches comes first, the
// event's units and first attempts within its first 40 bytes: a series is
// 128 bytes, a size the allocator aligns to 128, so these 40 bytes lie in
// one cache line for every series. What few series need is out of line
// (extra: retries, rejected usage, a float counter's fraction), so that a
// series billed without trouble does not carry it.
type Series struct {
	open       int64 // usage accumulated while the event is pending
	lastActive int32 // monotonic seconds
	// forgotten is set under mu and read by Handle.Held without it.
	forgotten atomic.Bool
	state     state
	dirty     bool // differs from what the store holds
	// What the store holds for this series.
	storedEvent, storedOpen, storedRejected bool
	rewrite                                 bool // the stored event record is stale: its customer was bound since
	event                                   event
	openStart                               int64 // wall clock: start of the window of the open usage
	// The series' Key: its tenant and meter, which many series share, as
	// one interned handle.
	scope  unique.Handle[tenantMeter]
	device string
	extra  *seriesExtra // nil while the series has neither rejected usage nor an event that failed
}

// tenantMeter is the part of a Key that a tenant's series of one meter
// share: interned, it costs a series 8 bytes rather than 32.
type tenantMeter struct{ tenant, meter string }

func scopeOf(k Key) unique.Handle[tenantMeter] {
	return unique.Make(tenantMeter{tenant: k.Tenant, meter: k.Meter})
}

func (s *Series) key() Key {
	tm := s.scope.Value()
	return Key{Tenant: tm.tenant, Device: s.device, Meter: tm.meter}
}

func (s *Series) tenant() string { return s.scope.Value().tenant }

// seriesExtra is what few series need: the retry bookkeeping of an event
// an attempt of which failed, and rejected usage.
type seriesExtra struct {
	retry    retryState
	rejected *rejectedUsage // kept until sent again
	rem      Remainder      // of float usage, which few series count
}

// retryState is what an event keeps once an attempt of it failed, until it
// is delivered or rejected.
type retryState struct {
	next       int64  // monotonic nanoseconds of the next attempt
	tried      uint64 // Outbox.flushes when the last failed attempt ended
	failures   int32  // failed attempts, failed customer lookups included
	failure    Class  // of the last failed attempt
	definite   bool   // the last failed attempt met a configuration problem that retrying cannot fix
	serverWait bool   // next was set by the server's wait, which Flush honours
}

func (s *Series) hasEvent() bool { return s.event.units > 0 }

// holdsNothing reports whether forgetting the series loses no usage.
func (s *Series) holdsNothing() bool {
	return s.state == idle && s.open == 0 && !s.hasEvent() && s.extra == nil
}

// remainder is the fraction of float usage the series carries.
func (s *Series) remainder() Remainder {
	if s.extra == nil {
		return Remainder{}
	}
	return s.extra.rem
}

// setRemainder sets the fraction the series carries.
func (s *Series) setRemainder(r Remainder) {
	if !r.IsZero() && s.extra == nil {
		s.extra = &seriesExtra{}
	}
	if s.extra != nil {
		s.extra.rem = r
		s.dropEmptyExtra()
	}
}

// addFloat adds v to the fraction carried and returns the whole units
// that come out of it.
func (s *Series) addFloat(v float64) int64 {
	if s.extra == nil {
		s.extra = &seriesExtra{}
	}
	whole := s.extra.rem.Add(v)
	s.dropEmptyExtra()
	return whole
}

// carriesOnlyAFraction reports whether the series holds, out of line,
// nothing but a fraction of float usage (if that).
func (s *Series) carriesOnlyAFraction() bool {
	return s.extra == nil || s.extra.rejected == nil && s.extra.retry == (retryState{})
}

// rejected is the series' rejected usage, nil if it has none.
func (s *Series) rejected() *rejectedUsage {
	if s.extra == nil {
		return nil
	}
	return s.extra.rejected
}

// setRejected sets the series' rejected usage; nil: none.
func (s *Series) setRejected(p *rejectedUsage) {
	if p != nil && s.extra == nil {
		s.extra = &seriesExtra{}
	}
	if s.extra != nil {
		s.extra.rejected = p
		s.dropEmptyExtra()
	}
}

// retry is the retry bookkeeping of the series' event, made on first use.
func (s *Series) retry() *retryState {
	if s.extra == nil {
		s.extra = &seriesExtra{}
	}
	return &s.extra.retry
}

// failure is the class of the last failed attempt of the series' event;
// classNone if none failed.
func (s *Series) failure() Class {
	if s.extra == nil {
		return classNone
	}
	return s.extra.retry.failure
}

// endRetry forgets the retry bookkeeping of an event that ended.
func (s *Series) endRetry() {
	if s.extra != nil {
		s.extra.retry = retryState{}
		s.dropEmptyExtra()
	}
}

func (s *Series) dropEmptyExtra() {
	if s.extra.rejected == nil && s.extra.retry == (retryState{}) && s.extra.rem.IsZero() {
		s.extra = nil
	}
}
