package outbox

// Stats is a snapshot of the outbox's counters. The outbox keeps its
// counters in this very struct; Stats returns a copy.
type Stats struct {
	// Held now.
	Series       int   // series held: owed, parked, or carrying a fraction
	OwedEvents   int64 // frozen events to deliver, in flight included
	OwedUnits    int64 // units to deliver: frozen and open
	InFlight     int64 // events in flight
	Waiting      int64 // events waiting for a retry
	ParkedEvents int64 // rejected events, held aside
	ParkedUnits  int64
	ParkedSeries int64 // series with parked usage

	// Since start.
	AcceptedUnits   int64 // whole units taken in
	DeliveredEvents int64
	DeliveredUnits  int64
	Retries         int64 // failed attempts that will be retried
	Rejections      int64 // events ever rejected
	// RejectedEventUnits are the units of those events.
	RejectedEventUnits int64
	RejectedPoints     int64 // points refused: bad value, overflow, capacity
	RejectedUnits      float64
	// FractionsDropped is fractional usage forgotten with idle series
	// evicted to make room at the series cap.
	FractionsDropped float64
	StoreCommits     int64
	StoreErrors      int64
}

// contribution is what one series adds to the totals of what is held. The
// totals are kept as sums of contributions, updated around every change of
// a series, so they cannot drift from the series themselves.
type contribution struct {
	owedEvents, owedUnits                   int64
	parkedEvents, parkedUnits, parkedSeries int64
}

func (s *Series) contrib() contribution {
	var c contribution
	if s.hasEvent() {
		c.owedEvents, c.owedUnits = 1, s.event.units
	}
	c.owedUnits += s.open
	if p := s.parked; p != nil {
		c.parkedEvents, c.parkedUnits, c.parkedSeries = p.events, p.units, 1
	}
	return c
}

func (st *Stats) account(before, after contribution) {
	st.OwedEvents += after.owedEvents - before.owedEvents
	st.OwedUnits += after.owedUnits - before.owedUnits
	st.ParkedEvents += after.parkedEvents - before.parkedEvents
	st.ParkedUnits += after.parkedUnits - before.parkedUnits
	st.ParkedSeries += after.parkedSeries - before.parkedSeries
}

// Stats returns the current counters.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.stats
	st.Series = o.series.len()
	st.Waiting = int64(len(o.retries))
	return st
}
