// Package retry spaces out delivery attempts: exponential backoff with
// jitter, and a short backoff for flushes.
package retry

import (
	"math/rand/v2"
	"time"
)

// Policy is an exponential backoff with jitter, bounded above, that yields
// to a server's own wait up to a cap. The public RetryConfig is this type.
type Policy struct {
	// InitialInterval is the wait after the first failure (default 1s);
	// each further failure doubles it, with jitter, up to MaxInterval.
	InitialInterval time.Duration
	// MaxInterval bounds the wait between attempts (default 2m).
	MaxInterval time.Duration
	// MaxRetryAfter caps how long a server's Retry-After is honoured
	// (default 10m). A server's wait replaces the backoff.
	MaxRetryAfter time.Duration
}

// Flush spaces the attempts a flush or a shutdown makes while its context
// lasts: tens to hundreds of milliseconds, so that a backend that comes
// back during a Shutdown is used at once.
var Flush = Policy{InitialInterval: 25 * time.Millisecond, MaxInterval: 400 * time.Millisecond}

// Backoff returns the wait before attempt number attempts+1, given that
// attempts attempts have failed (attempts >= 1). Equal jitter keeps the wait
// within [d/2, d] so that retries of many events spread out without ever
// collapsing to zero.
func (p Policy) Backoff(attempts int) time.Duration {
	d := p.InitialInterval
	for i := 1; i < attempts && d < p.MaxInterval; i++ {
		d *= 2
	}
	d = min(d, p.MaxInterval)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// Wait is the wait before the next attempt: the server's, if it gave one,
// capped at MaxRetryAfter; else the backoff.
func (p Policy) Wait(attempts int, server time.Duration) time.Duration {
	if server > 0 {
		return min(server, p.MaxRetryAfter)
	}
	return p.Backoff(attempts)
}
