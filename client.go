package litewavemetric

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aiorch/litewavemetric/internal/accounts"
	"github.com/aiorch/litewavemetric/internal/config"
	"github.com/aiorch/litewavemetric/internal/events"
	"github.com/aiorch/litewavemetric/internal/httpclient"
	"github.com/aiorch/litewavemetric/internal/kafka"
	"github.com/aiorch/litewavemetric/internal/kafkarest"
	"github.com/aiorch/litewavemetric/internal/redact"
	"github.com/aiorch/litewavemetric/internal/usage"
)

// Client speaks to the configured billing backend directly, for code that
// does not use OpenTelemetry: meter-lib's two calls, with errors instead of
// silent nils. The Exporter delivers through the same client. It is safe
// for concurrent use.
type Client struct {
	http      *http.Client    // the caller's, or nil
	transport *http.Transport // ours, closed at Shutdown; nil for a caller's client
	accounts  *accounts.Accounts
	backend   usage.Backend
	ids       *usage.IDs // of a session drawn at random
	seq       atomic.Uint64
}

// CustomerAccount is the account a tenant is billed to.
type CustomerAccount struct {
	ID  string          // the customer id sent with usage
	Raw json.RawMessage // the account object as the backend sent it
}

// NewClient returns a Client configured by opts and the environment
// variables (see the package documentation). Close it when done.
func NewClient(opts ...ClientOption) (*Client, error) {
	cfg, err := loadConfig(opts)
	if err != nil {
		return nil, err
	}
	return newClient(cfg, nil)
}

// newClient builds the client; txn, if not nil, makes backend kafka
// transactional.
func newClient(cfg config.Config, txn *kafka.Transactions) (*Client, error) {
	c := &Client{http: cfg.HTTPClient}
	var rt http.RoundTripper
	if cfg.HTTPClient == nil {
		c.transport = httpclient.NewTransport(cfg.Concurrency, cfg.TLSConfig)
		rt = c.transport
	}
	// Litewave's own endpoints get the API key; a REST Proxy, which may be
	// anyone's, never does.
	scrub := scrubber(cfg)
	litewave := func(setting string) *httpclient.Client {
		return httpclient.New(cfg.HTTPClient, rt, cfg.APIKey, cfg.Timeout, httpclient.Target{Setting: setting, Scrub: scrub})
	}
	lookupURL, lookupSetting := config.BaseURL(cfg.Endpoint)+accounts.EventsAPIPath, config.Endpoint.Env
	if cfg.PortalURL != "" {
		lookupURL, lookupSetting = config.BaseURL(cfg.PortalURL)+accounts.PortalPath, config.PortalURL.Env
	}
	c.accounts = accounts.New(accounts.Config{HTTP: litewave(lookupSetting), URL: lookupURL,
		HitTTL: cfg.CustomerCacheHit, MissTTL: cfg.CustomerCacheMiss, MaxTenants: cfg.MaxSeries})
	switch cfg.Backend {
	case BackendEvents:
		c.backend = events.New(litewave(config.Endpoint.Env), config.BaseURL(cfg.Endpoint))
	case BackendKafkaREST:
		proxy := httpclient.New(cfg.HTTPClient, rt, redact.Secret{}, cfg.Timeout, httpclient.Target{Setting: config.KafkaRESTURL.Env,
			AuthFix: "the REST Proxy refused the request: check its authentication, and its Kafka credentials and ACLs", Scrub: scrub})
		c.backend = kafkarest.New(proxy, config.BaseURL(cfg.KafkaRESTURL), cfg.KafkaTopic, cfg.RESTMaxRecords, cfg.RESTMaxBytes)
	case BackendKafka:
		kc := kafka.Config{Brokers: cfg.KafkaBrokers, Topic: cfg.KafkaTopic, TLS: cfg.KafkaTLS,
			SASL:  kafka.SASL{Mechanism: strings.ToUpper(cfg.SASLMechanism), User: cfg.SASLUsername, Password: cfg.SASLPassword.Value()},
			Extra: cfg.KafkaOptions, Logger: cfg.Logger}
		var err error
		if txn != nil {
			c.backend, err = kafka.NewTransactional(kc, *txn)
		} else {
			c.backend, err = kafka.New(kc)
		}
		if err != nil {
			if c.transport != nil {
				c.transport.CloseIdleConnections()
			}
			return nil, fmt.Errorf("litewavemetric: backend kafka: %w", err)
		}
	}
	var session usage.Session
	_, _ = rand.Read(session[:])
	c.ids = usage.NewIDs("client", session)
	return c, nil
}

// scrubber scrubs the configured secrets, and the credentials of an HTTP
// proxy, which the environment may hold and a server may echo.
func scrubber(cfg config.Config) *redact.Scrubber {
	secrets := []string{cfg.APIKey.Value(), cfg.SASLPassword.Value()}
	for _, v := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		if u, err := url.Parse(os.Getenv(v)); err == nil && u.User != nil {
			pass, _ := u.User.Password()
			secrets = append(secrets, u.User.Username(), pass)
		}
	}
	return redact.NewScrubber(secrets...)
}

// LookupCustomer asks the backend which customer account tenantID is billed
// to. It always asks (and refreshes the cache the exporter uses). A tenant
// without an account gives an error wrapping ErrNoCustomer.
func (c *Client) LookupCustomer(ctx context.Context, tenantID string) (*CustomerAccount, error) {
	if err := ValidateID(tenantID); err != nil {
		return nil, fmt.Errorf("litewavemetric: customer lookup: tenant id: %w", err)
	}
	id, raw, err := c.accounts.Lookup(ctx, tenantID)
	if err != nil {
		return nil, expose(err)
	}
	return &CustomerAccount{ID: id, Raw: raw}, nil
}

// PostMeterUsage bills one usage event through the configured backend, as
// meter-lib's post_meter_usage does, and returns the backend's answer: the
// events API's JSON, or the record's partition and offset on Kafka. The
// customer id is looked up (and cached). Unlike meter-lib it never returns
// a silent nil: every failure is an error that says what failed (see
// HTTPError, ErrNoCustomer, ErrInvalidID). It makes one attempt, with a
// fresh idempotency key; retrying is the caller's choice.
func (c *Client) PostMeterUsage(ctx context.Context, tenantID, deviceID, meterID string, totalUsage int64) (map[string]any, error) {
	if err := ValidateID(tenantID); err != nil {
		return nil, fmt.Errorf("litewavemetric: usage post: tenant id: %w", err)
	}
	if err := ValidateID(deviceID); err != nil {
		return nil, fmt.Errorf("litewavemetric: usage post: device id: %w", err)
	}
	if err := usage.CheckMeterID(meterID); err != nil {
		return nil, fmt.Errorf("litewavemetric: usage post: %w", err)
	}
	if totalUsage < 0 {
		return nil, fmt.Errorf("litewavemetric: usage post: negative total usage %d", totalUsage)
	}
	customer, err := c.accounts.Resolve(ctx, tenantID)
	if err != nil {
		return nil, expose(err)
	}
	k := usage.Key{Tenant: tenantID, Device: deviceID, Meter: meterID}
	now := time.Now().UnixNano()
	ev := []usage.Event{{Key: k, Customer: customer, Units: totalUsage, Start: now, End: now}}
	c.ids.Derive(&ev[0].ID, k, c.seq.Add(1))
	out := make([]usage.Outcome, 1)
	c.backend.Send(ctx, ev, out)
	if out[0].Result != usage.Delivered {
		if out[0].Err == nil {
			out[0].Err = errors.New("usage post: not delivered")
		}
		return nil, expose(out[0].Err)
	}
	return answerMap(out[0].Answer), nil
}

// Close releases the client's connections and the goroutines of its
// backend. A client is closed by the exporter it belongs to.
func (c *Client) Close() error {
	err := c.backend.Close()
	if c.transport != nil {
		c.transport.CloseIdleConnections()
	}
	return err
}

// answerMap decodes a backend's answer. An empty body is an empty answer;
// a body that is not a JSON object is returned under "raw" so the caller
// still sees what the backend said.
func answerMap(body []byte) map[string]any {
	out := map[string]any{}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return out
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return map[string]any{"raw": string(body)}
	}
	return out
}
