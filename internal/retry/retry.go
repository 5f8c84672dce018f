// Package retry holds the delivery retry policy: which failures are worth
// another attempt, and how long to wait before it.
package retry

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Policy is an exponential backoff with jitter, bounded above, that also
// honours a server's Retry-After up to a cap.
type Policy struct {
	Initial       time.Duration // first backoff
	Max           time.Duration // upper bound of the backoff before jitter
	MaxRetryAfter time.Duration // cap on a server-given Retry-After
}

// Backoff returns the wait before attempt number attempts+1, given that
// attempts attempts have failed (attempts >= 1). Equal jitter keeps the wait
// within [d/2, d] so that retries of many events spread out without ever
// collapsing to zero.
func (p Policy) Backoff(attempts int) time.Duration {
	d := p.Initial
	for i := 1; i < attempts && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// Wait combines the backoff with a server's Retry-After: the longer of the
// two, the Retry-After capped at MaxRetryAfter.
func (p Policy) Wait(attempts int, retryAfter time.Duration) time.Duration {
	return max(p.Backoff(attempts), min(retryAfter, p.MaxRetryAfter))
}

// RetryableStatus reports whether an HTTP status is worth retrying: 408,
// 429, 5xx, and 409, which the IETF Idempotency-Key draft uses for "a request
// with this key is still being processed".
func RetryableStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusConflict, code == http.StatusTooManyRequests:
		return true
	case code >= 500 && code <= 599:
		return true
	}
	return false
}

// ParseRetryAfter reads a Retry-After header value: delay-seconds or an
// HTTP date (RFC 9110 section 10.2.3). It returns 0 when the value is absent,
// malformed or in the past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		// Saturate instead of overflowing: the caller caps the result anyway.
		if secs > int64(time.Duration(1<<62)/time.Second) {
			return time.Duration(1 << 62)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
