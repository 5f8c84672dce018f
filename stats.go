package litewavemetric

import (
	"github.com/aiorch/litewavemetric/internal/accounts"
	"github.com/aiorch/litewavemetric/internal/outbox"
)

// Stats is a snapshot of what the exporter holds and has done.
//
// The outbox's counters are embedded: Series, OwedEvents, OwedUnits,
// InFlight, Waiting, RejectedEvents, RejectedUnits and RejectedSeries (held
// now); AcceptedUnits, DeliveredEvents, DeliveredUnits, Retries,
// Rejections, RejectedEventUnits, RefusedPoints, RefusedUnits,
// FractionsDropped, SpoolCommits and SpoolErrors (since start). Lookups
// counts customer lookups: Requests, CacheHits, NoAccount, Failures.
type Stats struct {
	outbox.Stats
	Lookups accounts.Stats

	SpoolBytes int64 // size of the records the spool holds

	// Since start.
	Exports                   int64
	UnattributedPoints        int64 // points without tenant or device
	UnattributedUnits         float64
	CardinalityOverflowPoints int64 // points in the SDK's cardinality overflow set
	CardinalityOverflowUnits  float64
	InvalidPoints             int64 // points with an invalid tenant, device or meter id
	InvalidUnits              float64
	// SpoolRecordsDropped counts unreadable records dropped when a damaged
	// spool was repaired at start.
	SpoolRecordsDropped int
}
