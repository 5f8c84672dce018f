package httpclient

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// StatusError is a non-2xx answer.
type StatusError struct {
	Op         string // what was asked, e.g. "usage post"
	StatusCode int
	Body       string        // the start of the answer body
	RetryAfter time.Duration // from a Retry-After header, if any
	Location   string        // of a redirect, which is never followed
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s: HTTP %d", e.Op, e.StatusCode)
	if e.Location != "" {
		msg += " redirect to " + strconv.Quote(e.Location) + " not followed"
	}
	if e.Body != "" {
		msg += ": " + strconv.Quote(e.Body)
	}
	return msg
}

// AnswerError is a 2xx answer whose body Do could not read whole. The
// server took the request: whether that is delivery is the caller's call.
type AnswerError struct {
	Op         string
	StatusCode int
	Err        error // why: too large, or cut short
}

func (e *AnswerError) Error() string {
	return fmt.Sprintf("%s: HTTP %d answer %v", e.Op, e.StatusCode, e.Err)
}

func (e *AnswerError) Unwrap() error { return e.Err }

// RetryableStatus reports whether an answer with this status may succeed
// if sent again: 408, 429, 5xx, and 409, which the IETF Idempotency-Key
// draft uses for "a request with this key is still being processed".
func RetryableStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusConflict, code == http.StatusTooManyRequests:
		return true
	case code >= 500 && code <= 599:
		return true
	}
	return false
}

// Classify turns a failed request's error into an outcome: an outage
// (network errors, 408, 409, 429, 5xx) or a configuration problem (3xx,
// 401, 403, a host that does not resolve) is retried; any other answer is
// rejected. err comes from Client.Do, which has already marked the
// configuration problems.
func Classify(err error) usage.Outcome {
	var se *StatusError
	if errors.As(err, &se) {
		if se.StatusCode >= 400 && !RetryableStatus(se.StatusCode) && !usage.IsConfig(err) {
			return usage.Outcome{Result: usage.Rejected, Err: err}
		}
		return usage.Outcome{Result: usage.Retry, Wait: se.RetryAfter, Err: err}
	}
	return usage.Outcome{Result: usage.Retry, Err: err}
}

// configFix names what to change when err, the failure of a request to
// url, is a configuration problem, or "" when it is not one.
func configFix(err error, url string, t Target) string {
	var se *StatusError
	if errors.As(err, &se) {
		switch c := se.StatusCode; {
		case c >= 300 && c < 400:
			return "redirects are never followed (they would carry the API key and the usage elsewhere): set " + t.Setting + " to the URL that answers"
		case c == http.StatusUnauthorized || c == http.StatusForbidden:
			return t.authFix()
		case c == http.StatusNotFound || c == http.StatusMethodNotAllowed || c == http.StatusNotAcceptable || c == http.StatusUnsupportedMediaType:
			return WrongPath(url, t)
		case c == http.StatusRequestEntityTooLarge:
			return "a server refused the request's size: check " + t.Setting + " and the limits of any proxy in front of it"
		}
		return ""
	}
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound {
		return "the host does not resolve: check " + t.Setting
	}
	var rh tls.RecordHeaderError
	if errors.Is(err, http.ErrSchemeMismatch) || errors.As(err, &rh) {
		// A TLS handshake answered by something else: waiting will not
		// change what the server speaks.
		return "the server does not speak TLS (HTTPS) there: use http:// in " + t.Setting + ", or the server's HTTPS port"
	}
	return ""
}

// WrongPath is the fix for a URL that does not serve the API: it names the
// URL asked and its setting, a base URL that the API's paths go after.
func WrongPath(url string, t Target) string {
	return fmt.Sprintf("nothing serves this API at %s: check %s, the base URL that the API's paths are appended to",
		strconv.Quote(t.Scrub.String(url)), t.Setting)
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
