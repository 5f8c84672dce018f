package litewavemetric

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aiorch/litewavemetric/internal/outbox"
	"github.com/aiorch/litewavemetric/internal/retry"
	"github.com/aiorch/litewavemetric/internal/wire"
)

const (
	lookupPath = "/api/v1/customer-accounts/tenant/"
	eventsPath = "/api/v1/events"

	// Caps on what is read of an answer: enough for any real one, and an
	// error quotes only the start of a body.
	maxAnswerBytes = 64 << 10
	maxErrorBody   = 512
)

// Client speaks the Litewave metering API directly, for code that does not
// use OpenTelemetry; the Exporter delivers through the same client. It is
// safe for concurrent use.
type Client struct {
	apiKey    secret
	timeout   time.Duration
	http      *http.Client
	transport *http.Transport // ours, closed at Shutdown; nil for a caller's client
	lookupURL string
	eventsURL string
	customers *customerCache
}

// CustomerAccount is the account a tenant is billed to.
type CustomerAccount struct {
	ID  string          // the customer id sent with usage
	Raw json.RawMessage // the account object as the backend sent it
}

// NewClient returns a Client configured by opts and the environment
// variables (see the Env constants).
func NewClient(opts ...Option) (*Client, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return newClient(cfg), nil
}

func newClient(cfg config) *Client {
	base, _ := parseEndpoint(cfg.endpoint) // validated by newConfig
	root := strings.TrimSuffix(base.String(), "/")
	c := &Client{
		apiKey:    cfg.apiKey,
		timeout:   cfg.timeout,
		lookupURL: root + lookupPath,
		eventsURL: root + eventsPath,
		customers: newCustomerCache(cfg.hitTTL, cfg.missTTL, cfg.maxSeries),
	}
	if cfg.httpClient != nil {
		hc := *cfg.httpClient
		hc.CheckRedirect = noRedirects
		c.http = &hc
		return c
	}
	// The default transport keeps 2 idle connections per host: with more
	// requests in flight, every extra one would dial anew.
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2 * cfg.concurrency
	t.MaxIdleConnsPerHost = cfg.concurrency
	if cfg.tlsConfig != nil {
		t.TLSClientConfig = cfg.tlsConfig.Clone()
	}
	c.transport = t
	c.http = &http.Client{Transport: t, CheckRedirect: noRedirects}
	return c
}

// noRedirects makes the client return a redirect as the answer: following
// it would send the API key and the usage to whatever the Location says.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// LookupCustomer asks the backend which customer account tenantID is billed
// to. It always asks (and refreshes the cache the exporter uses). A tenant
// without an account gives an error wrapping ErrNoCustomer.
func (c *Client) LookupCustomer(ctx context.Context, tenantID string) (*CustomerAccount, error) {
	if err := ValidateID(tenantID); err != nil {
		return nil, fmt.Errorf("litewavemetric: customer lookup: tenant id: %w", err)
	}
	id, raw, err := c.lookup(ctx, tenantID)
	c.customers.store(tenantID, id, err)
	if err != nil {
		return nil, err
	}
	return &CustomerAccount{ID: id, Raw: raw}, nil
}

// PostMeterUsage posts one usage event, as meter-lib's post_meter_usage
// does, and returns the backend's JSON answer. The customer id is looked up
// (and cached). Unlike meter-lib it never returns a silent nil: every
// failure is an error that says what failed (see HTTPError, ErrNoCustomer,
// ErrInvalidID). It makes one attempt; retrying is the caller's choice.
func (c *Client) PostMeterUsage(ctx context.Context, tenantID, deviceID, meterID string, totalUsage int64) (map[string]any, error) {
	if err := ValidateID(tenantID); err != nil {
		return nil, fmt.Errorf("litewavemetric: usage post: tenant id: %w", err)
	}
	if err := ValidateID(deviceID); err != nil {
		return nil, fmt.Errorf("litewavemetric: usage post: device id: %w", err)
	}
	if meterID == "" {
		return nil, errors.New("litewavemetric: usage post: empty meter id")
	}
	if totalUsage < 0 {
		return nil, fmt.Errorf("litewavemetric: usage post: negative total usage %d", totalUsage)
	}
	customer, err := c.customer(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	body := wire.AppendEvent(nil, meterID, totalUsage, customer)
	answer, err := c.post(ctx, tenantID, deviceID, "", body, true)
	if err != nil {
		return nil, err
	}
	return wire.Answer(answer), nil
}

// CloseIdleConnections closes the client's idle keep-alive connections.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// closeOwnConnections closes the idle connections of the transport the
// client made, never those of a caller's client, which may be shared.
func (c *Client) closeOwnConnections() {
	if c.transport != nil {
		c.transport.CloseIdleConnections()
	}
}

// customer resolves a tenant through the cache.
func (c *Client) customer(ctx context.Context, tenant string) (string, error) {
	return c.customers.resolve(ctx, tenant, func(ctx context.Context) (string, error) {
		id, _, err := c.lookup(ctx, tenant)
		return id, err
	})
}

func (c *Client) lookup(ctx context.Context, tenant string) (string, json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.lookupURL+url.PathEscape(tenant), nil)
	if err != nil {
		return "", nil, fmt.Errorf("litewavemetric: customer lookup: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	body, err := c.do(req, "customer lookup", true)
	if err != nil {
		var he *HTTPError
		if errors.As(err, &he) && he.StatusCode == http.StatusNotFound {
			return "", nil, fmt.Errorf("litewavemetric: tenant %s: %w", tenant, ErrNoCustomer)
		}
		return "", nil, err
	}
	id, raw, err := wire.CustomerID(body)
	switch {
	case errors.Is(err, wire.ErrNoAccount):
		return "", nil, fmt.Errorf("litewavemetric: tenant %s: %w", tenant, ErrNoCustomer)
	case err != nil:
		return "", nil, fmt.Errorf("litewavemetric: customer lookup for tenant %s: bad answer: %w", tenant, err)
	}
	return id, raw, nil
}

// post sends one event body; key, if set, is its Idempotency-Key. With
// readAnswer false, a 2xx is success whatever its body.
func (c *Client) post(ctx context.Context, tenant, device, key string, body []byte, readAnswer bool) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.eventsURL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("litewavemetric: usage post: %w", err)
	}
	// Canonical keys set directly: Header.Set would canonicalise (and
	// allocate) them on every event.
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	h["X-Tenant-Id"] = []string{tenant}
	h["X-Device-Id"] = []string{device}
	if key != "" {
		h["Idempotency-Key"] = []string{key}
	}
	return c.do(req, "usage post", readAnswer)
}

// do sends req with the API key and returns the body of a 2xx answer, if
// readAnswer; otherwise the body is discarded and any 2xx is success.
func (c *Client) do(req *http.Request, op string, readAnswer bool) ([]byte, error) {
	if c.apiKey.set() {
		req.Header["X-Api-Key"] = []string{c.apiKey.value()}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("litewavemetric: %s: %w", op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, &HTTPError{
			Op:         op,
			StatusCode: resp.StatusCode,
			Body:       strings.TrimSpace(string(snippet)),
			RetryAfter: retry.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Location:   resp.Header.Get("Location"),
		}
	}
	if !readAnswer {
		// Drained so the connection can be reused; an error here cannot
		// undo the 2xx the backend already sent.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBytes))
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, fmt.Errorf("litewavemetric: %s: reading answer: %w", op, err)
	}
	if len(body) > maxAnswerBytes {
		return nil, fmt.Errorf("litewavemetric: %s: answer larger than %d bytes", op, maxAnswerBytes)
	}
	return body, nil
}

// deliver sends one outbox event: the exporter's path.
func (c *Client) deliver(ctx context.Context, d outbox.Delivery) error {
	body := wire.AppendEvent(make([]byte, 0, 96+len(d.Key.Meter)+len(d.Customer)), d.Key.Meter, d.Units, d.Customer)
	_, err := c.post(ctx, d.Key.Tenant, d.Key.Device, d.ID.String(), body, false)
	return err
}
