package litewavemetric

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aiorch/litewavemetric/internal/accounts"
	"github.com/aiorch/litewavemetric/internal/httpclient"
	"github.com/aiorch/litewavemetric/internal/outbox"
	"github.com/aiorch/litewavemetric/internal/spool"
)

// ErrNoCustomer means the backend has no customer account for a tenant:
// the API's 404 that says so, or an empty list. (Any other 404 is a wrong
// URL, reported as a configuration problem that names it.) The exporter
// keeps such usage owed, retries it and reports it as a configuration
// problem; it is never dropped. A flush waits for the account while its
// context lasts: creating it fixes the problem without a restart.
var ErrNoCustomer = errors.New("no customer account for tenant")

// Errors opening a spool (see WithSpoolDir), wrapped by New's error.
var (
	// ErrSpoolCorrupt: the spool file is damaged in a way that cannot be
	// repaired without risking double billing, or is not a spool at all. It
	// is left untouched; move it aside to start afresh. (Damage confined to
	// records is repaired at start: the unreadable records are dropped and
	// counted in Stats, and the damaged file is kept beside the new one.)
	ErrSpoolCorrupt = errors.New("spool file is damaged")
	// ErrSpoolVersion: the spool was written by an incompatible version.
	ErrSpoolVersion = errors.New("spool file has another format")
	// ErrSpoolLocked: another exporter, in this or another process, has the
	// spool open.
	ErrSpoolLocked = errors.New("spool is in use by another process")
)

// ErrSecondReader is the error of every export of a reader that
// NewPeriodicReader made for an exporter that already had one: the usage
// would be collected, and billed, twice. The first reader keeps working.
var ErrSecondReader = errors.New("litewavemetric: this exporter already feeds another reader; one exporter serves one reader: create one exporter per MeterProvider")

// HTTPError is a non-2xx answer from an HTTP backend or lookup. It has
// the fields of the HTTP layer's own error, so that one converts to the
// other.
type HTTPError struct {
	Op         string // what was asked: "customer lookup", "usage post", "kafka-rest produce"
	StatusCode int
	Body       string        // the start of the answer body
	RetryAfter time.Duration // from a Retry-After header, if any
	Location   string        // of a redirect, which is never followed
}

func (e *HTTPError) Error() string {
	return "litewavemetric: " + (*httpclient.StatusError)(e).Error()
}

// Temporary reports whether sending the request again may succeed: 408,
// 409, 429 and 5xx.
func (e *HTTPError) Temporary() bool { return httpclient.RetryableStatus(e.StatusCode) }

// exposed carries an error of the delivery layers out of the package, so
// that errors.Is and errors.As reach the public identities for the layers'
// own: ErrNoCustomer, *HTTPError, the spool errors. The network and context
// errors underneath are reached as they are.
type exposed struct{ err error }

// expose wraps err for the caller; nil stays nil.
func expose(err error) error {
	if err == nil {
		return nil
	}
	var e *exposed
	if errors.As(err, &e) {
		return err
	}
	return &exposed{err}
}

func (e *exposed) Error() string { return "litewavemetric: " + e.err.Error() }

func (e *exposed) Unwrap() error { return e.err }

func (e *exposed) Is(target error) bool {
	switch target {
	case ErrNoCustomer:
		return errors.Is(e.err, accounts.ErrNoAccount)
	case ErrSpoolCorrupt:
		return errors.Is(e.err, spool.ErrCorrupt)
	case ErrSpoolVersion:
		return errors.Is(e.err, spool.ErrVersion)
	case ErrSpoolLocked:
		return errors.Is(e.err, spool.ErrLocked)
	}
	return false
}

func (e *exposed) As(target any) bool {
	t, ok := target.(**HTTPError)
	if !ok {
		return false
	}
	var se *httpclient.StatusError
	if !errors.As(e.err, &se) {
		return false
	}
	h := HTTPError(*se)
	*t = &h
	return true
}

// statusOf is the HTTP status an error carries, or 0.
func statusOf(err error) int {
	var se *httpclient.StatusError
	if errors.As(err, &se) {
		return se.StatusCode
	}
	return 0
}

// problemText is what each UsageError.Problem says in a message.
var problemText = map[string]string{
	"unattributed":         "has no tenant or device id; not billed",
	"cardinality_overflow": "was merged by the SDK's cardinality limit into otel.metric.overflow and lost its tenant; not billed (lift the reader's cardinality limit)",
	"invalid_id":           "has an invalid tenant, device or meter id; not billed",
	"bad_value":            "is negative or not finite; not billed",
	"too_large":            "would make the series' total too large for an int64; not billed",
	"over_capacity":        "belongs to a new series beyond the exporter's capacity; not billed",
	"overlapping":          "was collected twice: its interval overlaps usage already taken for the same stream; not billed again",
}

// UsageError reports the usage of one collection that could not be billed
// as counted. Export returns one per problem every collection in which it
// occurs.
type UsageError struct {
	// Problem is also the error.type of the exporter's own metrics:
	//   - "unattributed": no tenant or device id, in the attributes or the
	//     resource; it cannot be billed to anyone.
	//   - "cardinality_overflow": merged by the SDK's cardinality limit into
	//     its overflow attribute set, losing its tenant; lift the reader's
	//     limit (NewPeriodicReader sets none for counters).
	//   - "invalid_id": a tenant or device id that fails ValidateID, or a
	//     meter id that is empty or longer than 255 bytes.
	//   - "bad_value": negative or not finite.
	//   - "too_large": the series' int64 total would overflow.
	//   - "over_capacity": a new series beyond WithMaxSeries, or beyond the
	//     spool's WithMaxSpoolBytes.
	//   - "overlapping": collected twice, its interval overlapping one
	//     already taken for the same stream; two readers, or two
	//     MeterProviders, sharing the exporter are the usual cause.
	Problem string
	Points  int     // data points concerned
	Units   float64 // their usage
	// One example, to find the source: the instrument's meter id and, when
	// known, the series' ids (invalid ids are shown quoted and truncated).
	Meter, Tenant, Device string
	Reason                string
}

func (e *UsageError) Error() string {
	unit := "units"
	if e.Units == 1 {
		unit = "unit"
	}
	what, reason := problemText[e.Problem], e.Reason
	if e.Problem == "unattributed" && reason != "" {
		// The reason names the keys expected and those the point has.
		what, reason = reason+"; not billed", ""
	}
	msg := fmt.Sprintf("litewavemetric: %s (%s %s) of usage %s; e.g. meter %s", plural(int64(e.Points), "point"), formatUnits(e.Units), unit, what, e.Meter)
	if e.Tenant != "" || e.Device != "" {
		msg += fmt.Sprintf(" tenant %s device %s", e.Tenant, e.Device)
	}
	if reason != "" {
		msg += ": " + reason
	}
	return msg
}

func formatUnits(u float64) string { return strconv.FormatFloat(u, 'f', -1, 64) }

// RejectedError is usage the backend rejected and that sending again
// cannot help: an HTTP 4xx other than 401, 403, 408, 409 and 429, or a
// record the Kafka path calls not retriable. Rejected usage is kept, never
// dropped, and blocks nothing: later usage of the series goes on. It is
// sent again only by Exporter.RetryRejected or the next start with a
// spool, under a new key, since the backend recorded none of it. Export and
// flushes return it; Exporter.Rejected lists it per series.
type RejectedError struct {
	Tenant, Device, Meter string
	Units                 int64
	Events                int64  // rejected events merged into Units
	StatusCode            int    // HTTP status of the latest rejection, 0 if none
	Reason                string // the backend's answer
	Since                 time.Time
	Cause                 error // the backend's answer, as an error
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("litewavemetric: billing backend rejected %d units of tenant %s device %s meter %s (kept until sent again): %s",
		e.Units, e.Tenant, e.Device, e.Meter, e.Reason)
}

func (e *RejectedError) Unwrap() error { return e.Cause }

// DeferredError reports, through otel.Handle and the logger, usage that is
// owed but not delivered yet, and why. The usage is kept and retried. It is
// reported when such a failure begins (unless the same kind was reported
// within ten minutes), once it has lasted a minute, every ten minutes while
// it lasts, and when it ends (Resolved); never once per event.
type DeferredError struct {
	// Failure is one of:
	//   - "outage": network errors, timeouts, 408, 429, 5xx.
	//   - "configuration": a redirect, a refused API key (401, 403), a URL
	//     that does not serve the API (404), TLS against a plain HTTP
	//     server, SASL credentials the brokers refuse, a missing topic, a
	//     host that does not resolve, a tenant without a customer account.
	//     Retrying alone will not fix it; the report says what will.
	//     ForceFlush and Shutdown stop waiting once every owed event met
	//     one during the flush, except a tenant without an account
	//     (creating it fixes that while they wait) and, without a spool, a
	//     host that does not resolve (a passing DNS failure would lose the
	//     usage at exit).
	//   - "spool": the spool cannot be written; events wait, unsent.
	Failure   string
	Resolved  bool          // the failure is over: delivery goes on
	Since     time.Time     // when it began
	Lasted    time.Duration // how long it had lasted when reported
	Events    int64         // events whose last attempt failed this way (held, for "spool")
	OwedUnits int64         // owed in all
	Cause     error         // the latest failure
}

// failureText is what each DeferredError.Failure says in a message.
var failureText = map[string]string{
	"outage":        "billing backend unavailable",
	"configuration": "configuration problem",
	"spool":         "spool cannot be written",
}

func (e *DeferredError) Error() string {
	since := e.Since.Format(time.TimeOnly)
	lasted := e.Lasted.Round(time.Millisecond)
	what := failureText[e.Failure]
	if e.Resolved {
		return fmt.Sprintf("litewavemetric: resolved after %v: %s since %s; %s owed, delivery goes on", lasted, what, since, plural(e.OwedUnits, "unit"))
	}
	kept := "kept and retrying"
	if e.Failure == "spool" {
		kept = "held unsent until the spool can be written"
	}
	msg := fmt.Sprintf("litewavemetric: %s since %s (%v): %s failing, %s owed in all, %s", what, since, lasted, plural(e.Events, "event"), plural(e.OwedUnits, "unit"), kept)
	if e.Cause != nil {
		msg += ": " + strings.TrimPrefix(e.Cause.Error(), "litewavemetric: ")
	}
	return msg
}

func (e *DeferredError) Unwrap() error { return e.Cause }

// UndeliveredError reports, from ForceFlush or Shutdown, usage still owed
// when the context ended, and rejected usage.
type UndeliveredError struct {
	Events, Units  int64 // owed and deliverable
	RejectedEvents int64
	RejectedUnits  int64 // rejected by the backend, kept until sent again
	// Spooled says the usage is on disk, in the spool, for the next start;
	// if false, usage held in memory is lost when the process exits.
	Spooled bool
	// Cause joins why: the context's error, the latest failures, the
	// rejections.
	Cause error
}

func (e *UndeliveredError) Error() string {
	where := "held in memory only: lost when the process exits"
	if e.Spooled {
		where = "kept in the spool for the next start"
	}
	// Units, not events: usage counted while an event is owed is owed too,
	// and goes out as events of its own.
	msg := fmt.Sprintf("litewavemetric: %s not delivered, %s rejected; %s",
		plural(e.Units, "unit"), plural(e.RejectedUnits, "unit"), where)
	if e.Cause != nil {
		msg += ": " + strings.ReplaceAll(e.Cause.Error(), "\n", "; ")
	}
	return msg
}

func (e *UndeliveredError) Unwrap() error { return e.Cause }

// plural is "1 event" or "n events".
func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.FormatInt(n, 10) + " " + word + "s"
}

// failureOf is the public name of an outbox failure class.
func failureOf(c outbox.Class) string {
	switch c {
	case outbox.Configuration:
		return "configuration"
	case outbox.Spool:
		return "spool"
	}
	return "outage"
}
