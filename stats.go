package litewavemetric

import "time"

// Stats is a snapshot of what the exporter holds and has done.
type Stats struct {
	// Held now.
	Series       int   // series in memory
	OwedEvents   int64 // events to deliver (in flight included)
	OwedUnits    int64 // units to deliver, in events and accumulating
	InFlight     int64 // events in flight
	Waiting      int64 // events waiting for a retry
	ParkedEvents int64 // rejected events held aside
	ParkedUnits  int64 // their units
	ParkedSeries int64 // series with usage held aside
	SpoolBytes   int64 // size of the records the spool holds

	// Since start.
	Exports            int64
	AcceptedUnits      int64 // whole units taken in
	DeliveredEvents    int64
	DeliveredUnits     int64
	Retries            int64 // failed attempts that were retried
	Rejections         int64 // events the backend rejected
	RejectedEventUnits int64 // their units
	RejectedPoints     int64 // points refused: bad value, overflow, capacity, untracked cumulative streams
	RejectedUnits      float64
	UnattributedPoints int64 // points without tenant or device
	UnattributedUnits  float64
	OverflowPoints     int64 // points in the SDK's cardinality overflow set
	OverflowUnits      float64
	InvalidPoints      int64 // points with an invalid tenant, device or meter id
	InvalidUnits       float64
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

// LookupStats counts customer lookups.
type LookupStats struct {
	Requests  int64 // lookups sent to the backend
	CacheHits int64 // answered from the cache
	NoAccount int64 // answers, fresh or cached, that a tenant has no customer account
	Failures  int64 // lookups that failed otherwise (network, status, bad answer)
}

// ParkedUsage is usage the backend rejected, held aside: it is never sent
// again on its own, and blocks nothing. Exporter.RetryParked, or the next
// start with a spool, sends it again.
type ParkedUsage struct {
	Tenant, Device, Meter string
	Units                 int64
	Events                int64  // rejected events merged into Units
	StatusCode            int    // HTTP status of the latest rejection, 0 if none
	Reason                string // the backend's answer
	Since                 time.Time
}
