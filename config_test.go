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
	"github.com/aiorch/litewavemetric/litewavetest"
)

// Every variable configures what it names; an explicit option beats it.
func TestEnvironmentConfiguresAndOptionsWin(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("acme", "c1"), litewavetest.WithAPIKey("env-key"))
	t.Setenv(litewavemetric.EnvEndpoint, srv.URL)
	t.Setenv(litewavemetric.EnvAPIKey, "env-key")
	t.Setenv(litewavemetric.EnvTenantAttribute, "org")
	t.Setenv(litewavemetric.EnvDeviceAttribute, "node")
	t.Setenv(litewavemetric.EnvTimeout, "150")
	t.Setenv(litewavemetric.EnvConcurrency, "1")
	t.Setenv(litewavemetric.EnvInstanceID, "pod-7")
	spool := t.TempDir()
	t.Setenv(litewavemetric.EnvSpoolDir, spool)

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

func TestInvalidConfigurationIsRefused(t *testing.T) {
	cases := map[string][]litewavemetric.Option{
		"scheme":          {litewavemetric.WithEndpoint("ftp://x")},
		"credentials":     {litewavemetric.WithEndpoint("http://user:pw@host")},
		"query":           {litewavemetric.WithEndpoint("http://host?x=1")},
		"timeout":         {litewavemetric.WithTimeout(0)},
		"concurrency":     {litewavemetric.WithConcurrency(0)},
		"series":          {litewavemetric.WithMaxSeries(0)},
		"tls with client": {litewavemetric.WithTLSConfig(&tls.Config{}), litewavemetric.WithHTTPClient(http.DefaultClient)},
		"empty meter id":  {litewavemetric.WithMeterID("pages", "")},
		"cardinality":     {litewavemetric.WithCardinalityLimit(-1)},
		"empty attribute": {litewavemetric.WithTenantAttribute("")},
		"retry order":     {litewavemetric.WithRetry(litewavemetric.RetryConfig{InitialInterval: time.Hour, MaxInterval: time.Second})},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := litewavemetric.New(context.Background(), opts...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "invalid configuration")
			assert.NotContains(t, err.Error(), "pw", "credentials are redacted")
		})
	}
	t.Setenv(litewavemetric.EnvTimeout, "soon")
	_, err := litewavemetric.NewClient()
	assert.ErrorContains(t, err, "LITEWAVE_TIMEOUT")
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

	t.Setenv(litewavemetric.EnvBackend, "smtp")
	_, err = litewavemetric.New(context.Background())
	assert.ErrorContains(t, err, `LITEWAVE_BACKEND="smtp": unknown backend "smtp"`)
	t.Setenv(litewavemetric.EnvBackend, "")

	t.Setenv(litewavemetric.EnvTimeout, "0")
	_, err = litewavemetric.New(context.Background())
	assert.ErrorContains(t, err, `LITEWAVE_TIMEOUT="0": must be positive`)
	_, err = litewavemetric.New(context.Background(), litewavemetric.WithTimeout(0))
	assert.ErrorContains(t, err, "WithTimeout(0s): must be positive")
	t.Setenv(litewavemetric.EnvTimeout, "")

	t.Setenv(litewavemetric.EnvMaxSeries, "many")
	_, err = litewavemetric.New(context.Background())
	assert.ErrorContains(t, err, `LITEWAVE_MAX_SERIES="many": not an integer`)
	t.Setenv(litewavemetric.EnvMaxSeries, "")

	t.Setenv(litewavemetric.EnvAPIKey, "sk-secret")
	t.Setenv(litewavemetric.EnvEndpoint, "ftp://host")
	_, err = litewavemetric.New(context.Background())
	assert.ErrorContains(t, err, `LITEWAVE_ENDPOINT="ftp://host"`)
	assert.NotContains(t, err.Error(), "sk-secret")
}

// Every setting has its variable: a program configured by the environment
// alone (autoexport's factory has only a context) reaches all of them.
func TestEverySettingHasAVariable(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	for k, v := range map[string]string{
		litewavemetric.EnvEndpoint:           srv.URL,
		litewavemetric.EnvMeterIDs:           "pages=pages.processed.rate.hourly",
		litewavemetric.EnvInstruments:        "pages",
		litewavemetric.EnvMaxSeries:          "10",
		litewavemetric.EnvMaxSpoolBytes:      "1048576",
		litewavemetric.EnvCardinalityLimit:   "50",
		litewavemetric.EnvStaleness:          "1h",
		litewavemetric.EnvRetryInitial:       "10ms",
		litewavemetric.EnvRetryMax:           "20ms",
		litewavemetric.EnvRetryMaxRetryAfter: "1s",
		litewavemetric.EnvCustomerCacheHit:   "1m",
		litewavemetric.EnvCustomerCacheMiss:  "1s",
		litewavemetric.EnvLogLevel:           "error",
	} {
		t.Setenv(k, v)
	}
	exp, err := litewavemetric.New(context.Background())
	require.NoError(t, err)
	defer exp.Shutdown(context.Background())
	limit, _ := exp.CardinalityLimit(sdkmetric.InstrumentKindCounter)
	assert.Equal(t, 50, limit)
	pt := func(name string) *metricdata.ResourceMetrics {
		return sumMetric(name, metricdata.DeltaTemporality, metricdata.DataPoint[int64]{
			Value: 2, Attributes: attribute.NewSet(attribute.String("tenant.id", "t1"), attribute.String("device.id", "d"))})
	}
	require.NoError(t, exp.Export(context.Background(), pt("pages")))
	require.NoError(t, exp.Export(context.Background(), pt("not-listed")))
	assert.Equal(t, map[litewavetest.Series]int64{series("t1", "d", "pages.processed.rate.hourly"): 2}, srv.Totals())
}

// A caller's client is used as given, but never follows redirects, and its
// connections are the caller's to close.
func TestWithHTTPClient(t *testing.T) {
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
