package litewavemetric_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/internal/config"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// Every variable configures what it names; an explicit option beats it.
func TestEnvironmentConfiguresAndOptionsWin(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("acme", "c1"), litewavetest.WithAPIKey("env-key"))
	t.Setenv("LITEWAVE_ENDPOINT", srv.URL)
	t.Setenv("LITEWAVE_API_KEY", "env-key")
	t.Setenv("LITEWAVE_TENANT_ATTRIBUTE", "org")
	t.Setenv("LITEWAVE_DEVICE_ATTRIBUTE", "node")
	t.Setenv("LITEWAVE_TIMEOUT", "150")
	t.Setenv("LITEWAVE_CONCURRENCY", "1")
	t.Setenv("LITEWAVE_INSTANCE_ID", "pod-7")
	spool := t.TempDir()
	t.Setenv("LITEWAVE_SPOOL_DIR", spool)

	exp, err := litewavemetric.New(context.Background(), fastRetry)
	require.NoError(t, err)
	_ = exp.Export(context.Background(), sumMetric("pages", metricdata.DeltaTemporality, metricdata.DataPoint[int64]{
		Value: 2, Attributes: attribute.NewSet(attribute.String("org", "acme"), attribute.String("node", "n1"))}))
	assert.Equal(t, map[litewavetest.Series]int64{series("acme", "n1", "pages"): 2}, srv.Totals(),
		"endpoint, key, tenant and device attributes from the environment")
	assert.FileExists(t, filepath.Join(spool, "outbox.db"))

	// LITEWAVE_TIMEOUT bounds requests and LITEWAVE_CONCURRENCY sends one
	// at a time: two stalled events take two timeouts to be given up on.
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
		return litewavetest.Fault{Target: "events", Delay: time.Hour}
	})
	start := time.Now()
	err = exp.Export(context.Background(), sumMetric("pages", metricdata.DeltaTemporality,
		metricdata.DataPoint[int64]{Value: 1, Attributes: attribute.NewSet(attribute.String("org", "acme"), attribute.String("node", "n2"))},
		metricdata.DataPoint[int64]{Value: 1, Attributes: attribute.NewSet(attribute.String("org", "acme"), attribute.String("node", "n3"))}))
	elapsed := time.Since(start)
	require.NoError(t, err, "owed, not failed")
	assert.GreaterOrEqual(t, elapsed, 300*time.Millisecond, "one request at a time, 150ms each")
	assert.Less(t, elapsed, 5*time.Second, "not the 10s default timeout")
	srv.SetFaultFunc(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, exp.Shutdown(ctx))

	c2, err := litewavemetric.NewClient(litewavemetric.WithAPIKey("option-key"), litewavemetric.WithConcurrency(8))
	require.NoError(t, err)
	defer c2.Close()
	_, err = c2.LookupCustomer(context.Background(), "acme")
	var he *litewavemetric.HTTPError
	require.ErrorAs(t, err, &he, "the explicit key beats the environment's")
	assert.Equal(t, http.StatusUnauthorized, he.StatusCode)
}

// Each invalid setting is refused by the rule that concerns it, the error
// naming the option that set it.
func TestInvalidConfigurationIsRefused(t *testing.T) {
	cases := map[string]struct {
		opts []litewavemetric.Option
		rule string
	}{
		"scheme":          {[]litewavemetric.Option{litewavemetric.WithEndpoint("ftp://x")}, `WithEndpoint("ftp://x"): the scheme must be http or https`},
		"credentials":     {[]litewavemetric.Option{litewavemetric.WithEndpoint("http://user:pw@host")}, `WithEndpoint("http://[REDACTED]@host"): credentials in URLs are refused`},
		"query":           {[]litewavemetric.Option{litewavemetric.WithEndpoint("http://host?x=1")}, `WithEndpoint("http://host?x=1"): must not have a query or fragment`},
		"portal":          {[]litewavemetric.Option{litewavemetric.WithPortalURL("portal:8080")}, `WithPortalURL("portal:8080"): no scheme: add http:// or https:// (http://portal:8080)`},
		"timeout":         {[]litewavemetric.Option{litewavemetric.WithTimeout(0)}, "WithTimeout(0s): must be positive"},
		"concurrency":     {[]litewavemetric.Option{litewavemetric.WithConcurrency(0)}, "WithConcurrency(0): must be at least 1"},
		"series":          {[]litewavemetric.Option{litewavemetric.WithMaxSeries(0)}, "WithMaxSeries(0): must be at least 1"},
		"spool cap":       {[]litewavemetric.Option{litewavemetric.WithMaxSpoolBytes(0)}, "WithMaxSpoolBytes(0): must be positive"},
		"tls with client": {[]litewavemetric.Option{litewavemetric.WithTLSConfig(&tls.Config{}), litewavemetric.WithHTTPClient(http.DefaultClient)}, "WithHTTPClient: cannot be combined with WithTLSConfig"},
		"empty meter id":  {[]litewavemetric.Option{litewavemetric.WithMeterID("pages", "")}, `WithMeterID("pages", ""): instrument "pages": invalid id: empty meter id`},
		"cardinality":     {[]litewavemetric.Option{litewavemetric.WithCardinalityLimit(-1)}, "WithCardinalityLimit(-1): must not be negative"},
		"staleness":       {[]litewavemetric.Option{litewavemetric.WithStaleness(-time.Second)}, "WithStaleness(-1s): must not be negative"},
		"customer cache":  {[]litewavemetric.Option{litewavemetric.WithCustomerCache(0, time.Second)}, "WithCustomerCache(0s, _): lifetimes must be positive"},
		"retry order": {[]litewavemetric.Option{litewavemetric.WithRetry(litewavemetric.RetryConfig{InitialInterval: time.Hour, MaxInterval: time.Second})},
			"WithRetry(InitialInterval: 1h0m0s): initial interval 1h0m0s exceeds the max interval 1s"},
		"backend":    {[]litewavemetric.Option{litewavemetric.WithBackend("smtp")}, `WithBackend("smtp"): unknown backend "smtp"; valid: events, kafka-rest, kafka`},
		"rest proxy": {[]litewavemetric.Option{litewavemetric.WithBackend(litewavemetric.BackendKafkaREST)}, "LITEWAVE_KAFKA_REST_URL: backend kafka-rest needs the REST Proxy's URL: set LITEWAVE_KAFKA_REST_URL or WithKafka (RESTProxyURL)"},
		"rest batch": {[]litewavemetric.Option{litewavemetric.WithKafka(litewavemetric.KafkaConfig{RESTMaxRecords: 5001})}, "WithKafka(RESTMaxRecords: 5001): want 1 to 5000 records per request"},
		"rest bytes": {[]litewavemetric.Option{litewavemetric.WithKafka(litewavemetric.KafkaConfig{RESTMaxBytes: 100})}, "WithKafka(RESTMaxBytes: 100): want at least 1024 bytes per request"},
		"brokers":    {[]litewavemetric.Option{litewavemetric.WithBackend(litewavemetric.BackendKafka)}, "LITEWAVE_KAFKA_BROKERS: backend kafka needs the seed brokers: set LITEWAVE_KAFKA_BROKERS or WithKafka (Brokers)"},
		"topic":      {[]litewavemetric.Option{litewavemetric.WithKafka(litewavemetric.KafkaConfig{Topic: "a b"})}, `WithKafka(Topic: "a b"): topic "a b" is not a valid topic name`},
		"mechanism":  {[]litewavemetric.Option{litewavemetric.WithKafka(litewavemetric.KafkaConfig{SASLMechanism: "GSSAPI", SASLUsername: "u", SASLPassword: "p"})}, `WithKafka(SASLMechanism: "GSSAPI"): unknown mechanism "GSSAPI"`},
		"sasl alone": {[]litewavemetric.Option{litewavemetric.WithKafka(litewavemetric.KafkaConfig{SASLMechanism: "PLAIN"})}, `WithKafka(SASLMechanism: "PLAIN"): needs a username and a password`},
		"checkpoint": {[]litewavemetric.Option{litewavemetric.WithKafkaTransactions(litewavemetric.KafkaTransactions{CheckpointTopic: "usage-events"})},
			`WithKafkaTransactions(CheckpointTopic: "usage-events"): topic "usage-events" is not a valid checkpoint topic`},
		"transaction timeout": {[]litewavemetric.Option{litewavemetric.WithKafkaTransactions(litewavemetric.KafkaTransactions{Timeout: time.Hour})},
			"WithKafkaTransactions(Timeout: 1h0m0s): want 1s to 15m"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := litewavemetric.New(context.Background(), append([]litewavemetric.Option{litewavemetric.WithoutEnvironment()}, c.opts...)...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "invalid configuration: "+c.rule)
			assert.Equal(t, 1, strings.Count(err.Error(), "\n")+1, "this rule alone fired: %v", err)
			assert.NotContains(t, err.Error(), "pw", "credentials are redacted")
		})
	}
	t.Setenv("LITEWAVE_TIMEOUT", "soon")
	_, err := litewavemetric.NewClient()
	assert.ErrorContains(t, err, `LITEWAVE_TIMEOUT="soon": want milliseconds or a duration such as 10s`)
	c, err := litewavemetric.NewClient(litewavemetric.WithTimeout(time.Second))
	require.NoError(t, err, "an option that sets the value overrides a malformed variable")
	c.Close()
}

// An unknown backend is refused by New with the valid ones listed, and
// every configuration error names the variable or option it came from.
func TestConfigurationErrorsNameTheirSource(t *testing.T) {
	_, err := litewavemetric.New(context.Background(), litewavemetric.WithBackend("carrier-pigeon"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `WithBackend("carrier-pigeon")`)
	assert.Contains(t, err.Error(), "valid: events, kafka-rest")

	t.Setenv("LITEWAVE_BACKEND", "smtp")
	_, err = litewavemetric.New(context.Background())
	assert.ErrorContains(t, err, `LITEWAVE_BACKEND="smtp": unknown backend "smtp"`)
	t.Setenv("LITEWAVE_BACKEND", "")

	t.Setenv("LITEWAVE_TIMEOUT", "0")
	_, err = litewavemetric.New(context.Background())
	assert.ErrorContains(t, err, `LITEWAVE_TIMEOUT="0": must be positive`)
	_, err = litewavemetric.New(context.Background(), litewavemetric.WithTimeout(0))
	assert.ErrorContains(t, err, "WithTimeout(0s): must be positive")
	t.Setenv("LITEWAVE_TIMEOUT", "")

	t.Setenv("LITEWAVE_MAX_SERIES", "many")
	_, err = litewavemetric.New(context.Background())
	assert.ErrorContains(t, err, `LITEWAVE_MAX_SERIES="many": not an integer`)
	t.Setenv("LITEWAVE_MAX_SERIES", "")

	t.Setenv("LITEWAVE_API_KEY", "sk-secret")
	t.Setenv("LITEWAVE_ENDPOINT", "ftp://host")
	_, err = litewavemetric.New(context.Background())
	assert.ErrorContains(t, err, `LITEWAVE_ENDPOINT="ftp://host"`)
	assert.NotContains(t, err.Error(), "sk-secret")
}

// Every setting has its variable: a program configured by the environment
// alone (autoexport's factory has only a context) reaches all of them. Every
// variable of the settings table is set, to its example: New accepts them
// all at once, and the ones the fake backend can see take effect. Each
// wrong value is refused by New, naming its variable.
func TestEverySettingHasAVariable(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"), litewavetest.WithAPIKey(config.APIKey.Example))
	// Where the examples would send usage elsewhere, the fake backend.
	here := map[*config.Setting]string{
		config.Backend:   litewavemetric.BackendEvents,
		config.Endpoint:  srv.URL,
		config.PortalURL: srv.URL,
		config.SpoolDir:  t.TempDir(),
	}
	set := func(wrong *config.Setting) {
		for _, s := range config.Table {
			v, ok := here[s]
			if !ok {
				v = s.Example
			}
			if s == wrong {
				v = s.Wrong
			}
			if s.Env != "" {
				t.Setenv(s.Env, v)
			}
		}
	}
	for _, s := range config.Table {
		if s.Wrong == "" {
			continue
		}
		set(s)
		_, err := litewavemetric.New(context.Background())
		if assert.Error(t, err, "%s=%q", s.Env, s.Wrong) {
			assert.Contains(t, err.Error(), s.Env+"=", "the error names the variable")
		}
	}

	set(nil)
	exp, err := litewavemetric.New(context.Background())
	require.NoError(t, err)
	defer exp.Shutdown(context.Background())
	limit, _ := exp.CardinalityLimit(sdkmetric.InstrumentKindCounter)
	assert.Equal(t, 50, limit, config.CardinalityLimit.Env)
	pt := func(name string) *metricdata.ResourceMetrics {
		return sumMetric(name, metricdata.DeltaTemporality, metricdata.DataPoint[int64]{
			Value: 2, Attributes: attribute.NewSet(attribute.String("org", "t1"), attribute.String("node", "d"))})
	}
	require.NoError(t, exp.Export(context.Background(), pt("pages")))
	require.NoError(t, exp.Export(context.Background(), pt("not-listed")))
	require.NoError(t, exp.ForceFlush(context.Background()))
	assert.Equal(t, map[litewavetest.Series]int64{series("t1", "d", "pages.hourly"): 2}, srv.Totals(),
		"the API key, the portal, the tenant and device attributes, the meter ids and the instruments from the environment")
}

// A caller's client is used as given, but never follows redirects, and its
// connections are the caller's to close.
func TestWithHTTPClient(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(1)...)
	var used atomic.Int64
	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	hc := &http.Client{Transport: countingTransport{transport, &used}}
	exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint(srv.URL), litewavemetric.WithHTTPClient(hc))
	require.NoError(t, err)
	require.NoError(t, exp.Export(context.Background(), usage(1)))
	require.NoError(t, exp.Shutdown(context.Background()))
	assert.Equal(t, int64(2), used.Load(), "the lookup and the post went through the caller's client")
	assert.Nil(t, hc.CheckRedirect, "the caller's client is not modified")
	assert.Equal(t, int64(1), srv.Total())
}

type countingTransport struct {
	http.RoundTripper
	n *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.RoundTripper.RoundTrip(r)
}

// The API key appears in no error, log line or formatted value.
func TestAPIKeyNeverPrinted(t *testing.T) {
	t.Parallel()
	const key = "sk-live-0123456789"
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"), litewavetest.WithAPIKey(key))
	srv.Script(litewavetest.Fault{Target: "events", Status: 503}, litewavetest.Fault{Target: "events", Status: 400})
	p := newPipeline(t, srv, litewavemetric.WithAPIKey(key), litewavemetric.WithLogger(logger))
	p.counter("pages").Add(context.Background(), 1, at("t1", "d1"))
	flushErr := p.flush()
	require.Error(t, flushErr)
	require.Equal(t, int64(1), srv.Stats().Accepted+srv.Stats().Rejected+int64(len(p.exp.Rejected())), "the key was sent")
	// Rejections are logged outside the exporter's locks, so possibly just
	// after the flush returns.
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "rejected by the billing backend") },
		10*time.Second, time.Millisecond, "the logger did receive the failures")

	printed := []string{
		fmt.Sprintf("%v", p.exp), fmt.Sprintf("%+v", p.exp), fmt.Sprintf("%#v", p.exp),
		fmt.Sprintf("%v", p.exp.Client()), fmt.Sprintf("%+v", *p.exp.Client()),
		flushErr.Error(), logs.String(),
	}
	for _, s := range printed {
		assert.NotContains(t, s, key)
	}
}

// syncBuffer is a log sink safe for the exporter's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WithPortalURL sends customer lookups to the portal, whatever the backend:
// the events API is asked nothing but the events.
func TestWithPortalURLLooksCustomersUpAtThePortal(t *testing.T) {
	t.Parallel()
	events := newServer(t, litewavetest.WithCustomer("acme", "c-portal"))
	portal := newServer(t, litewavetest.WithCustomer("acme", "c-portal"), litewavetest.WithPortalAPIKey("portal-key"))
	p := newPipeline(t, events, litewavemetric.WithPortalURL(portal.URL), litewavemetric.WithAPIKey("portal-key"))
	p.counter("pages").Add(context.Background(), 3, at("acme", "scanner-1"))
	require.NoError(t, p.flush())
	got := events.Events()
	require.Len(t, got, 1)
	assert.Equal(t, "c-portal", got[0].CustomerID, "the customer the portal knows")
	for _, r := range events.Requests() {
		assert.NotContains(t, r.Path, "customer-accounts", "no lookup at the events API")
	}
	looked := 0
	for _, r := range portal.Requests() {
		if strings.HasPrefix(r.Path, "/metering/v1alpha1/customer-accounts/tenant/acme") {
			looked++
		}
	}
	assert.Equal(t, 1, looked, "one lookup, at the portal")
}
