package httpclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"github.com/aiorch/litewavemetric/internal/redact"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// Caps on what is read of an answer: enough for any real one, and an error
// quotes only the start of a body.
const (
	MaxAnswerBytes = 1 << 20
	maxErrorBody   = 512
)

// Client sends requests to one base URL.
type Client struct {
	http    *http.Client
	key     redact.Secret
	timeout time.Duration
	target  Target
}

// Target says, for reports of configuration problems, what sets the URL a
// client asks and what to check when the server refuses it.
type Target struct {
	Setting string // the variable of the URL, e.g. LITEWAVE_ENDPOINT
	AuthFix string // what to check on 401 and 403; "" names LITEWAVE_API_KEY
}

func (t Target) authFix() string {
	if t.AuthFix != "" {
		return t.AuthFix
	}
	return "the API key was refused: check LITEWAVE_API_KEY (WithAPIKey)"
}

// NewTransport returns the transport for concurrency requests in flight.
// The default keeps 2 idle connections per host: with more requests in
// flight, every extra one would dial anew.
func NewTransport(concurrency int, tc *tls.Config) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2 * concurrency
	t.MaxIdleConnsPerHost = concurrency
	if tc != nil {
		t.TLSClientConfig = tc.Clone()
	}
	return t
}

// New returns a client over rt (or over a copy of hc, if given), sending
// key, if set, as x-api-key and bounding each request by timeout.
func New(hc *http.Client, rt http.RoundTripper, key redact.Secret, timeout time.Duration, t Target) *Client {
	c := &Client{key: key, timeout: timeout, target: t}
	if hc != nil {
		cp := *hc
		cp.CheckRedirect = noRedirects
		c.http = &cp
	} else {
		c.http = &http.Client{Transport: rt, CheckRedirect: noRedirects}
	}
	return c
}

// noRedirects makes the client return a redirect as the answer: following
// it would send the API key and the usage to whatever the Location says.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Do sends one request within the client's timeout and returns the body of
// a 2xx answer. header, if not nil, sets the request's headers (canonical
// keys). A non-2xx answer is a *StatusError; failures that configuration
// must fix (3xx, 401, 403, a host that does not resolve) are marked with
// usage.Misconfigured.
func (c *Client) Do(ctx context.Context, op, method, url string, body []byte, header func(http.Header)) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if header != nil {
		header(req.Header)
	}
	if c.key.Set() {
		req.Header["X-Api-Key"] = []string{c.key.Value()}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.mark(fmt.Errorf("%s: %w", op, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, c.mark(&StatusError{
			Op:         op,
			StatusCode: resp.StatusCode,
			Body:       strings.TrimSpace(string(snippet)),
			RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Location:   resp.Header.Get("Location"),
		})
	}
	return readAnswer(resp, op)
}

// readAnswer reads a 2xx body, sized from Content-Length so the common
// case is one exact allocation.
func readAnswer(resp *http.Response, op string) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= MaxAnswerBytes {
		b := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			return nil, fmt.Errorf("%s: reading answer: %w", op, err)
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading answer: %w", op, err)
	}
	if len(b) > MaxAnswerBytes {
		return nil, fmt.Errorf("%s: answer larger than %d bytes", op, MaxAnswerBytes)
	}
	return b, nil
}

func (c *Client) mark(err error) error {
	if fix := configFix(err, c.target); fix != "" {
		return usage.Misconfigured(err, fix)
	}
	return err
}

// CloseIdleConnections closes the idle connections of the client's
// transport.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }
