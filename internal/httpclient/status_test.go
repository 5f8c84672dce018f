package httpclient

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/aiorch/litewavemetric/internal/usage"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":      0,
		"0":     0,
		"-3":    0,
		"7":     7 * time.Second,
		" 120 ": 2 * time.Minute,
		"soon":  0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		"99999999999999999999":                            0, // does not parse as int64, nor as a date
		"9223372036854775807":                             time.Duration(1 << 62),
	}
	for in, want := range cases {
		assert.Equal(t, want, ParseRetryAfter(in, now), "Retry-After %q", in)
	}
}

// Each failure is an outage (retried), a configuration problem (retried
// and reported with what to fix) or a rejection.
func TestClassify(t *testing.T) {
	c := &Client{target: Target{Setting: "LITEWAVE_ENDPOINT"}}
	status := func(code int) error {
		return c.mark(&StatusError{Op: "usage post", StatusCode: code, RetryAfter: time.Second}, "http://h/api/api/v1/events")
	}
	type want struct {
		result usage.Result
		config bool
		fix    string
	}
	cases := map[string]struct {
		err  error
		want want
	}{
		"503":           {status(503), want{usage.Retry, false, ""}},
		"429":           {status(429), want{usage.Retry, false, ""}},
		"408":           {status(408), want{usage.Retry, false, ""}},
		"409":           {status(409), want{usage.Retry, false, ""}},
		"400":           {status(400), want{usage.Rejected, false, ""}},
		"422":           {status(422), want{usage.Rejected, false, ""}},
		"307":           {status(307), want{usage.Retry, true, "set LITEWAVE_ENDPOINT"}},
		"401":           {status(401), want{usage.Retry, true, "LITEWAVE_API_KEY"}},
		"403":           {status(403), want{usage.Retry, true, "LITEWAVE_API_KEY"}},
		"404":           {status(404), want{usage.Retry, true, `nothing serves this API at "http://h/api/api/v1/events": check LITEWAVE_ENDPOINT`}},
		"415":           {status(415), want{usage.Retry, true, "check LITEWAVE_ENDPOINT"}},
		"413":           {status(413), want{usage.Retry, true, "size"}},
		"refused":       {c.mark(fmt.Errorf("usage post: %w", &net.OpError{Op: "dial", Err: errors.New("connection refused")}), ""), want{usage.Retry, false, ""}},
		"unresolvable":  {c.mark(fmt.Errorf("usage post: %w", &net.DNSError{Name: "x", IsNotFound: true}), ""), want{usage.Retry, true, "does not resolve"}},
		"dns timed out": {c.mark(fmt.Errorf("usage post: %w", &net.DNSError{Name: "x", IsTimeout: true}), ""), want{usage.Retry, false, ""}},
		"plain HTTP":    {c.mark(fmt.Errorf("usage post: %w", &url.Error{Op: "Post", URL: "https://h", Err: http.ErrSchemeMismatch}), ""), want{usage.Retry, true, "use http:// in LITEWAVE_ENDPOINT"}},
		"not TLS":       {c.mark(fmt.Errorf("usage post: %w", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), ""), want{usage.Retry, true, "does not speak TLS"}},
	}
	for name, tc := range cases {
		o := Classify(tc.err)
		assert.Equal(t, tc.want.result, o.Result, name)
		assert.Equal(t, tc.want.config, usage.IsConfig(o.Err), name)
		assert.Contains(t, o.Err.Error(), tc.want.fix, name)
		var se *StatusError
		if errors.As(tc.err, &se) && se.StatusCode < 300 {
			assert.Equal(t, time.Second, o.Wait)
		}
	}
	assert.Equal(t, time.Second, Classify(status(503)).Wait, "the server's wait travels with the outcome")
	proxy := &Client{target: Target{Setting: "LITEWAVE_KAFKA_REST_URL", AuthFix: "check the proxy"}}
	assert.Contains(t, Classify(proxy.mark(&StatusError{StatusCode: 401}, "")).Err.Error(), "check the proxy")
}
