package outbox

// Stats is a snapshot of the outbox's counters. The outbox keeps its
// counters in this very struct; Stats returns a copy. The root package's
// Stats embeds it, so these names and comments are public.
type Stats struct {
	// Held now.
	Series         int   // series held: owed, rejected, or carrying a fraction
	OwedEvents     int64 // events to deliver, in flight included
	OwedUnits      int64 // units to deliver, in events and accumulating
	InFlight       int64 // events in flight
	Waiting        int64 // events waiting for a retry
	RejectedEvents int64 // events the backend rejected, kept until sent again
	RejectedUnits  int64 // their units
	RejectedSeries int64 // series with rejected usage

	// Since start.
	AcceptedUnits   int64 // whole units taken in
	DeliveredEvents int64
	DeliveredUnits  int64
	Retries         int64 // failed attempts that were retried
	Rejections      int64 // events the backend ever rejected
	// RejectedEventUnits are the units of those events.
	RejectedEventUnits int64
	// RefusedPoints are points not taken in: a bad value, a total that
	// would be too large, over capacity, untracked cumulative streams.
	RefusedPoints int64
	RefusedUnits  float64
	// FractionsDropped is fractional usage forgotten with idle series that
	// were evicted to make room at the series limit.
	FractionsDropped float64
	SpoolCommits     int64 // commits to the spool
	SpoolErrors      int64 // commits to the spool that failed
}

// contribution is what one series adds to the totals of what is held. The
// totals are kept as sums of contributions, updated around every change of
// a series, so they cannot drift from the series themselves.
type contribution struct {
	owedEvents, owedUnits                         int64
	rejectedEvents, rejectedUnits, rejectedSeries int64
}

func (s *Series) contrib() contribution {
	var c contribution
	if s.hasEvent() {
		c.owedEvents, c.owedUnits = 1, s.event.units
	}
	c.owedUnits += s.open
	if p := s.rejected(); p != nil {
		c.rejectedEvents, c.rejectedUnits, c.rejectedSeries = p.events, p.units, 1
	}
	return c
}

func (st *Stats) account(before, after contribution) {
	st.OwedEvents += after.owedEvents - before.owedEvents
	st.OwedUnits += after.owedUnits - before.owedUnits
	st.RejectedEvents += after.rejectedEvents - before.rejectedEvents
	st.RejectedUnits += after.rejectedUnits - before.rejectedUnits
	st.RejectedSeries += after.rejectedSeries - before.rejectedSeries
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
