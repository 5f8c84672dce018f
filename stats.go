package litewavemetric

import "time"

// Stats is a snapshot of what the exporter holds and has done.
type Stats struct {
	// Held now.
	Series        int   // series in memory
	OwedEvents    int64 // frozen events to deliver (in flight included)
	OwedUnits     int64 // units to deliver, frozen and accumulating
	InFlight      int64 // requests in flight
	Waiting       int64 // events waiting for a retry
	ParkedEvents  int64 // events rejected permanently
	ParkedUnits   int64 // units held behind rejections or invalid ids
	BlockedSeries int64 // series with parked usage

	// Since start.
	Exports            int64
	AcceptedUnits      int64 // whole units taken in
	DeliveredEvents    int64
	DeliveredUnits     int64
	Retries            int64 // failed attempts that were retried
	ParkedTotal        int64 // events ever parked
	RejectedPoints     int64 // points refused: bad value, overflow, capacity, untracked cumulative streams
	RejectedUnits      float64
	UnattributedPoints int64 // points without tenant or device
	UnattributedUnits  float64
	OverflowPoints     int64 // points in the SDK's cardinality overflow set
	OverflowUnits      float64
	// FractionsDropped is fractional usage forgotten with idle series that
	// were evicted to make room at the series cap.
	FractionsDropped float64
	Lookups          LookupStats
	SpoolCommits     int64
	SpoolErrors      int64
	// SpoolRecordsDropped counts unreadable records dropped when a damaged
	// spool was repaired at start.
	SpoolRecordsDropped int
}

// Stats returns the exporter's counters, for tests and operators.
func (e *Exporter) Stats() Stats {
	o := e.box.Stats()
	s := Stats{
		Series: o.Series, OwedEvents: o.OwedEvents, OwedUnits: o.OwedUnits, InFlight: o.InFlight,
		Waiting: o.Waiting, ParkedEvents: o.ParkedEvents, ParkedUnits: o.ParkedUnits, BlockedSeries: o.BlockedSeries,
		AcceptedUnits: o.AcceptedUnits, DeliveredEvents: o.DeliveredEvents, DeliveredUnits: o.DeliveredUnits,
		Retries: o.Retries, ParkedTotal: o.ParkedTotal, RejectedPoints: o.RejectedPoints, RejectedUnits: o.RejectedUnits,
		FractionsDropped: o.FractionsDropped, Lookups: e.client.customers.snapshot(),
		SpoolCommits: o.StoreCommits, SpoolErrors: o.StoreErrors, SpoolRecordsDropped: e.recovery.Dropped,
	}
	e.counts.Lock()
	s.Exports = e.counts.exports
	s.RejectedPoints += e.counts.untrackedPoints
	s.UnattributedPoints, s.UnattributedUnits = e.counts.unattributedPoints, e.counts.unattributedUnits
	s.OverflowPoints, s.OverflowUnits = e.counts.overflowPts, e.counts.overflowUnits
	e.counts.Unlock()
	return s
}

// ParkedUsage is usage held but not delivered: an event the backend
// rejected permanently (with what it held back since), or the usage of a
// series whose id is invalid.
type ParkedUsage struct {
	Tenant, Device, Meter string
	Units                 int64 // of the rejected event
	Held                  int64 // accumulated behind it, or under an invalid id
	StatusCode            int
	Reason                string
	InvalidID             bool
	Since                 time.Time
}

// Parked lists the usage that is held but not delivered.
func (e *Exporter) Parked() []ParkedUsage {
	ps := e.box.Parked()
	out := make([]ParkedUsage, len(ps))
	for i, p := range ps {
		out[i] = ParkedUsage{Tenant: p.Key.Tenant, Device: p.Key.Device, Meter: p.Key.Meter, Units: p.Units,
			Held: p.Held, StatusCode: p.Status, Reason: p.Reason, InvalidID: p.InvalidKey, Since: p.Since}
	}
	return out
}

// RetryParked sends every rejected event again, once the cause of the
// rejection is fixed, and returns how many. Usage under invalid ids stays
// held. A restart with a spool retries parked events too.
func (e *Exporter) RetryParked() int { return e.box.RetryParked() }
