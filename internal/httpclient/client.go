package httpclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aiorch/litewavemetric/internal/redact"
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
	// Scrub removes secrets from what servers say (bodies, a Location),
	// before it reaches an answer or an error.
	Scrub *redact.Scrubber
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
// The request it would have sent holds a body net/http took from GetBody
// (a 307 or 308 resends it): closed, a pooled body goes back to its pool.
func noRedirects(next *http.Request, _ []*http.Request) error {
	if next.Body != nil {
		_ = next.Body.Close()
	}
	return http.ErrUseLastResponse
}

// Do sends one request within the client's timeout and returns the whole
// body of a 2xx answer, for callers that must read it: a customer lookup,
// a REST Proxy's per-record answer. A 2xx whose body cannot be read whole
// (larger than MaxAnswerBytes, or cut short) is an *AnswerError. header,
// if not nil, sets the request's headers (canonical keys). A non-2xx
// answer is a *StatusError; failures that configuration must fix (3xx,
// 401, 403, a host that does not resolve) are marked with
// usage.Misconfigured.
func (c *Client) Do(ctx context.Context, op, method, url string, body []byte, header func(http.Header)) ([]byte, error) {
	b, status, whole, err := c.exchange(ctx, op, method, url, body, header)
	if status == 0 {
		return nil, err
	}
	if err := unreadAnswer(op, status, whole, err); err != nil {
		return nil, err
	}
	return b, nil
}

// unreadAnswer is the *AnswerError of a 2xx answer that was not read
// whole, or nil.
func unreadAnswer(op string, status int, whole bool, err error) error {
	switch {
	case err != nil:
		return &AnswerError{Op: op, StatusCode: status, Err: fmt.Errorf("cut short: %w", err)}
	case !whole:
		return &AnswerError{Op: op, StatusCode: status, Err: errTooLarge}
	}
	return nil
}

// answerBuffers hold the answers Exchange reads, reused from one request
// to the next.
var answerBuffers = sync.Pool{New: func() any { return new([]byte) }}

// Exchange is Do for a caller that reads the answer at once and sends
// large bodies: it takes body (B not empty), which goes back to its pool
// once the transport is done with it, and calls read with the whole body
// of a 2xx answer, which is valid only during the call (its buffer is
// reused). Its errors are Do's, and read is not called then.
func (c *Client) Exchange(ctx context.Context, op, method, url string, body *Body, header func(http.Header), read func(answer []byte)) error {
	defer body.release()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := c.newRequest(ctx, op, method, url, nil, header)
	if err != nil {
		return err
	}
	body.attach(req)
	resp, err := c.do(req, op, url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf := answerBuffers.Get().(*[]byte)
	defer answerBuffers.Put(buf)
	b, whole, err := c.readAnswer(resp, *buf)
	if cap(b) > cap(*buf) {
		*buf = b[:0]
	}
	if err := unreadAnswer(op, resp.StatusCode, whole, err); err != nil {
		return err
	}
	read(b)
	return nil
}

// Deliver is Do for a request whose 2xx status is its delivery, whatever
// the body says: the server has taken the request, and sending it again
// would deliver it twice. It returns at most MaxAnswerBytes of a 2xx
// answer, for display, and never an error for it: a body larger than that
// (its start is kept), empty, or cut short (what arrived is kept) is
// still delivery. Its errors are Do's before any body is read: the
// request's failure, or a *StatusError for an answer that is not 2xx.
func (c *Client) Deliver(ctx context.Context, op, method, url string, body []byte, header func(http.Header)) ([]byte, error) {
	b, status, _, err := c.exchange(ctx, op, method, url, body, header)
	if status == 0 {
		return nil, err
	}
	return b, nil
}

// exchange sends one request within the client's timeout and reads at
// most MaxAnswerBytes of its 2xx answer. status is 0 when there is no 2xx
// answer, and err then says why; else err is the body's read error, and
// whole says whether the body was read to its end. Closing the body unread
// past the cap drops the connection rather than draining megabytes to keep
// it.
func (c *Client) exchange(ctx context.Context, op, method, url string, body []byte, header func(http.Header)) (b []byte, status int, whole bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.send(ctx, op, method, url, body, header)
	if err != nil {
		return nil, 0, false, err
	}
	defer resp.Body.Close()
	b, whole, err = c.readAnswer(resp, nil)
	return b, resp.StatusCode, whole, err
}

// send sends one request and returns a 2xx answer, whose body the caller
// closes, or the error of any other answer.
func (c *Client) send(ctx context.Context, op, method, url string, body []byte, header func(http.Header)) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := c.newRequest(ctx, op, method, url, rd, header)
	if err != nil {
		return nil, err
	}
	return c.do(req, op, url)
}

func (c *Client) newRequest(ctx context.Context, op, method, url string, body io.Reader, header func(http.Header)) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if header != nil {
		header(req.Header)
	}
	if c.key.Set() {
		req.Header["X-Api-Key"] = []string{c.key.Value()}
	}
	return req, nil
}

// do sends req and returns a 2xx answer, whose body the caller closes, or
// the error of any other answer.
func (c *Client) do(req *http.Request, op, url string) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.mark(fmt.Errorf("%s: %w", op, err), url)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		// Scrubbed, then cut: a cut never leaves half a secret.
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, int64(maxErrorBody+c.target.Scrub.Reach())))
		snippet = c.target.Scrub.Bytes(snippet)
		return nil, c.mark(&StatusError{
			Op:         op,
			StatusCode: resp.StatusCode,
			Body:       strings.TrimSpace(string(snippet[:min(len(snippet), maxErrorBody)])),
			RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Location:   c.target.Scrub.String(resp.Header.Get("Location")),
		}, url)
	}
	return resp, nil
}

// errTooLarge is why an answer past the cap is not read whole.
var errTooLarge = fmt.Errorf("larger than %d bytes", MaxAnswerBytes)

// readAnswer reads at most MaxAnswerBytes of a 2xx body, scrubbed, into
// buf's room (nil: a new buffer), sized from Content-Length so the common
// case takes one exact allocation at most. whole is false when the body
// goes on past the cap; on a read error, b is what arrived before it.
func (c *Client) readAnswer(resp *http.Response, buf []byte) (b []byte, whole bool, err error) {
	if n := resp.ContentLength; n >= 0 && n <= MaxAnswerBytes {
		b = slices.Grow(buf[:0], int(n))[:n]
		m, err := io.ReadFull(resp.Body, b)
		return c.target.Scrub.Bytes(b[:m]), err == nil, err
	}
	// Past the cap, enough to scrub what straddles it, and one byte more
	// to tell a body of exactly the cap from a larger one.
	all := bytes.NewBuffer(buf[:0])
	_, err = all.ReadFrom(io.LimitReader(resp.Body, int64(MaxAnswerBytes+1+c.target.Scrub.Reach())))
	b = all.Bytes()
	whole = len(b) <= MaxAnswerBytes
	b = c.target.Scrub.Bytes(b)
	if !whole {
		return b[:min(len(b), MaxAnswerBytes)], false, err
	}
	return b, err == nil, err
}

func (c *Client) mark(err error, url string) error {
	if fix := configFix(err, url, c.target); fix != "" {
		return usage.Misconfigured(err, fix)
	}
	return err
}

// CloseIdleConnections closes the idle connections of the client's
// transport.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }
