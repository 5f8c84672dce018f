package usage

import (
	"context"
	"errors"
	"time"
)

// Backend delivers events to a billing backend. It speaks one protocol and
// classifies that protocol's answers itself; the delivery core knows no
// paths, headers or status codes.
type Backend interface {
	// MaxBatch is the most events one Send may carry.
	MaxBatch() int
	// Send delivers batch and sets out[i] to the outcome of batch[i] (len(out)
	// == len(batch)). It encodes each event deterministically: the same
	// event, the same bytes, on every retry and after a restart. It returns
	// when every outcome is known or ctx ends (then the rest are Retry).
	Send(ctx context.Context, batch []Event, out []Outcome)
	// Close releases the backend's connections and goroutines.
	Close() error
}

// Recoverable is a Backend that finds, after a crash, which stored events
// it had already delivered (Kafka transactions). For that it must know
// which delivered events the store may still hold.
type Recoverable interface {
	// Mark is stored with each commit of the store, and handed back to the
	// backend at the next start.
	Mark() []byte
	// Released is told, after a commit, of delivered events the store no
	// longer holds: they can never be sent again.
	Released(ids []ID)
}

// Lingering is a Backend that holds what Sends hand it for a moment, so
// that the events of concurrent Sends share requests (Kafka's linger).
type Lingering interface {
	// Coming is told, as each batch is taken for a Send, that one is
	// coming: the backend holds what it has for it. It is called under the
	// caller's lock and must not block.
	Coming()
	// SendLast is Send for a batch that no other Send follows before one
	// under way returns: holding only delays, so the backend sends what
	// it holds as soon as the Sends under way have handed it their
	// events. A SendLast of no events asks for that alone.
	SendLast(ctx context.Context, batch []Event, out []Outcome)
}

// Result is what became of one event.
type Result uint8

const (
	// Retry: not delivered, or not known to be; send it again, same bytes.
	Retry Result = iota
	// Delivered: the backend has it.
	Delivered
	// Rejected: the backend refused it and sending it again cannot help.
	Rejected
)

// Outcome is the answer for one event of a batch.
type Outcome struct {
	Result Result
	// Wait is how long the server asked to wait before the next attempt
	// (Retry-After), if it did.
	Wait time.Duration
	// Err says why the event was not delivered. A *ConfigError in its chain
	// marks a problem that retrying alone will not fix.
	Err error
	// Answer is the backend's answer for this event, when it gives one
	// (JSON).
	Answer []byte
}

// Customers binds tenants to the customer their usage is billed to.
type Customers interface {
	// Cached returns the tenant's customer if it is known without a network
	// call.
	Cached(tenant string) (string, bool)
	// Resolve returns the tenant's customer, from the cache or the network.
	// Its error may wrap a *ConfigError (no such account, a refused key).
	Resolve(ctx context.Context, tenant string) (string, error)
	// Forget drops what is cached of the tenant, so that the next Resolve
	// asks the network.
	Forget(tenant string)
}

// ConfigError marks a failure caused by configuration (a wrong key or
// endpoint, a missing customer account or topic) rather than an outage.
// Usage stays owed and is retried; reports name Fix.
type ConfigError struct {
	Err error
	Fix string // what to change, e.g. "check LITEWAVE_API_KEY"
}

func (e *ConfigError) Error() string { return e.Err.Error() + "; " + e.Fix }

func (e *ConfigError) Unwrap() error { return e.Err }

// Misconfigured wraps err as a configuration problem fixed by fix.
func Misconfigured(err error, fix string) error { return &ConfigError{Err: err, Fix: fix} }

// IsConfig reports whether err is a configuration problem.
func IsConfig(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}
