package litewavemetric

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aiorch/litewavemetric/internal/retry"
	"github.com/aiorch/litewavemetric/internal/spool"
)

// ErrNoCustomer means the backend has no customer account for a tenant
// (404, or an empty list). The exporter keeps such usage owed and retries
// it; it is never dropped.
var ErrNoCustomer = errors.New("no customer account for tenant")

// HTTPError is a non-2xx answer from the backend.
type HTTPError struct {
	Op         string // "customer lookup" or "usage post"
	StatusCode int
	Body       string        // the start of the answer body
	RetryAfter time.Duration // from a Retry-After header, if any
	Location   string        // of a redirect, which is never followed
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("litewavemetric: %s: HTTP %d", e.Op, e.StatusCode)
	if e.Location != "" {
		msg += " redirect to " + strconv.Quote(e.Location) + " not followed"
	}
	if e.Body != "" {
		msg += ": " + strconv.Quote(e.Body)
	}
	return msg
}

// Temporary reports whether retrying may succeed: 408, 409, 429 and 5xx.
func (e *HTTPError) Temporary() bool { return retry.RetryableStatus(e.StatusCode) }

// Problem names a kind of usage that could not be billed as counted.
type Problem int

// The problems a collection's usage can have.
const (
	// Unattributed usage has no tenant or device id, in its attributes or
	// in the resource. It cannot be billed to anyone.
	Unattributed Problem = iota + 1
	// CardinalityOverflow usage was merged by the SDK into its overflow
	// attribute set: it lost its tenant. Raise the reader's cardinality
	// limit (NewPeriodicReader does).
	CardinalityOverflow
	// InvalidID usage has a tenant or device id that fails ValidateID. It is
	// held (see Exporter.Parked) but never sent.
	InvalidID
	// BadValue usage is negative or not finite.
	BadValue
	// Overflow usage would overflow the series' int64 total.
	Overflow
	// OverCapacity usage belongs to a new series refused because the series
	// cap or the spool size cap was reached.
	OverCapacity
)

var problemText = map[Problem]string{
	Unattributed:        "has no tenant or device id; not billed",
	CardinalityOverflow: "was merged by the SDK's cardinality limit into otel.metric.overflow and lost its tenant; not billed (raise the reader's cardinality limit)",
	InvalidID:           "has an invalid tenant or device id; held, not sent",
	BadValue:            "is negative or not finite; not billed",
	Overflow:            "would overflow an int64 total; not billed",
	OverCapacity:        "belongs to a new series beyond the exporter's capacity; not billed",
}

func (p Problem) String() string { return problemText[p] }

// UsageError reports the usage of one collection that has a Problem. Export
// returns one per problem every collection in which it occurs.
type UsageError struct {
	Problem Problem
	Points  int     // data points concerned
	Units   float64 // their usage
	// One example, to find the source: the instrument's meter id and, when
	// known, the series' ids (invalid ids are shown quoted and truncated).
	Meter, Tenant, Device string
	Reason                string
}

func (e *UsageError) Error() string {
	msg := fmt.Sprintf("litewavemetric: %d points (%s units) of usage %s; e.g. meter %q", e.Points, formatUnits(e.Units), e.Problem, e.Meter)
	if e.Tenant != "" || e.Device != "" {
		msg += fmt.Sprintf(" tenant %s device %s", e.Tenant, e.Device)
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// RejectedError reports an event the backend rejected permanently: a
// non-2xx answer other than 408, 409, 429 and 5xx, a redirect included
// (redirects are never followed). The event is parked: held, counted in
// Stats, listed by Exporter.Parked, retried by Exporter.RetryParked or by
// the next start with a spool; never dropped.
type RejectedError struct {
	Tenant, Device, Meter string
	Units                 int64
	StatusCode            int
	Message               string // the backend's answer, as reported
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("litewavemetric: backend rejected %d units of tenant %s device %s meter %q (parked): %s",
		e.Units, e.Tenant, e.Device, e.Meter, e.Message)
}

// DeferredError reports usage that is owed but not delivered yet because
// the backend or the customer lookup failed. The usage is kept and retried.
type DeferredError struct {
	Events, Units int64 // of this collection, whose first attempt failed
	OwedUnits     int64 // owed in total
	Reason        string
}

func (e *DeferredError) Error() string {
	return fmt.Sprintf("litewavemetric: %d events (%d units) of this collection not delivered yet, %d units owed in all; kept and retrying: %s",
		e.Events, e.Units, e.OwedUnits, e.Reason)
}

// UndeliveredError reports, from ForceFlush or Shutdown, usage still owed
// when the context ended, and parked usage.
type UndeliveredError struct {
	Events, Units int64 // owed and deliverable
	ParkedEvents  int64
	ParkedUnits   int64 // held: rejected or invalid ids
	// Spooled says the usage is safe in the spool for the next start; if
	// false, usage held in memory is lost when the process exits.
	Spooled bool
	Cause   error
}

func (e *UndeliveredError) Error() string {
	where := "held in memory only"
	if e.Spooled {
		where = "kept in the spool for the next start"
	}
	msg := fmt.Sprintf("litewavemetric: %d units in %d events not delivered, %d units in %d events parked; %s",
		e.Units, e.Events, e.ParkedUnits, e.ParkedEvents, where)
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

func (e *UndeliveredError) Unwrap() error { return e.Cause }

func formatUnits(u float64) string { return strconv.FormatFloat(u, 'f', -1, 64) }

// Errors opening a spool (see WithSpoolDir), wrapped by New's error.
var (
	// ErrSpoolCorrupt: the spool file is damaged in a way that cannot be
	// repaired without risking double billing, or is not a spool at all. It
	// is left untouched; move it aside to start afresh. (Damage confined to
	// records is repaired at start: the unreadable records are dropped and
	// counted in Stats, and the damaged file is kept beside the new one.)
	ErrSpoolCorrupt = spool.ErrCorrupt
	// ErrSpoolVersion: the spool was written by an incompatible version.
	ErrSpoolVersion = spool.ErrVersion
	// ErrSpoolLocked: another exporter, in this or another process, has the
	// spool open.
	ErrSpoolLocked = spool.ErrLocked
)
