package outbox

// contribution is what one series adds to the owed and parked totals. The
// totals are kept as sums of contributions, updated around every change of
// a series, so they cannot drift from the series themselves.
type contribution struct {
	owedEvents, owedUnits     int64
	parkedEvents, parkedUnits int64
	blockedSeries             int64
}

func (s *Series) contrib() contribution {
	var c contribution
	if s.blocked() {
		c.blockedSeries = 1
		if s.hasEvent() {
			c.parkedEvents, c.parkedUnits = 1, s.event.units
		}
		c.parkedUnits += s.open
		return c
	}
	if s.hasEvent() {
		c.owedEvents, c.owedUnits = 1, s.event.units
	}
	c.owedUnits += s.open
	return c
}

type counters struct {
	contribution
	inFlight         int64
	acceptedUnits    int64
	deliveredEvents  int64
	deliveredUnits   int64
	retries          int64
	parkedTotal      int64
	rejectedUnits    float64
	rejectedPoints   int64
	fractionsDropped float64
	storeErrors      int64
	storeCommits     int64
}

func (c *counters) account(before, after contribution) {
	c.owedEvents += after.owedEvents - before.owedEvents
	c.owedUnits += after.owedUnits - before.owedUnits
	c.parkedEvents += after.parkedEvents - before.parkedEvents
	c.parkedUnits += after.parkedUnits - before.parkedUnits
	c.blockedSeries += after.blockedSeries - before.blockedSeries
}

// Stats is a consistent snapshot of the outbox's counters.
type Stats struct {
	Series        int   // series held: owed, parked, or carrying a fraction
	OwedEvents    int64 // frozen events to deliver, in flight included
	OwedUnits     int64 // units to deliver: frozen and open
	InFlight      int64
	Waiting       int64 // events waiting for a retry
	ParkedEvents  int64 // events rejected permanently, held
	ParkedUnits   int64 // units held behind a rejection or an invalid id
	BlockedSeries int64

	AcceptedUnits   int64 // whole units ever taken in
	DeliveredEvents int64
	DeliveredUnits  int64
	Retries         int64 // failed attempts that will be retried
	ParkedTotal     int64 // events ever parked
	RejectedPoints  int64 // points refused: bad value, overflow, capacity
	RejectedUnits   float64
	// FractionsDropped is fractional usage forgotten with idle series evicted
	// to make room at the series cap.
	FractionsDropped float64
	StoreCommits     int64
	StoreErrors      int64
	LastFailure      string // the latest retryable failure
}

// Stats returns the current counters.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.stats
	return Stats{
		Series:           o.series.len(),
		OwedEvents:       c.owedEvents,
		OwedUnits:        c.owedUnits,
		InFlight:         c.inFlight,
		Waiting:          int64(len(o.retries)),
		ParkedEvents:     c.parkedEvents,
		ParkedUnits:      c.parkedUnits,
		BlockedSeries:    c.blockedSeries,
		AcceptedUnits:    c.acceptedUnits,
		DeliveredEvents:  c.deliveredEvents,
		DeliveredUnits:   c.deliveredUnits,
		Retries:          c.retries,
		ParkedTotal:      c.parkedTotal,
		RejectedPoints:   c.rejectedPoints,
		RejectedUnits:    c.rejectedUnits,
		FractionsDropped: c.fractionsDropped,
		StoreCommits:     c.storeCommits,
		StoreErrors:      c.storeErrors,
		LastFailure:      o.lastFailure,
	}
}
