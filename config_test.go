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
	exp.Export(context.Background(), sumMetric("pages", metricdata.DeltaTemporality, metricdata.DataPoint[int64]{
		Value: 2, Attributes: attribute.NewSet(attribute.String("org", "acme"), attribute.String("node", "n1"))}))
	assert.Equal(t, map[litewavetest.Series]int64{series("acme", "n1", "pages"): 2}, srv.Totals(),
		"endpoint, key, tenant and device attributes from the environment")
	assert.FileExists(t, filepath.Join(spool, "outbox.db"))

	// LITEWAVE_TIMEOUT bounds requests and LITEWAVE_CONCURRENCY sends one
	// at a time: two stalled events take two timeouts to be given up on.
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
		return litewavetest.Fault{Target: litewavetest.Events, Delay: time.Hour}
	})
	start := time.Now()
	err = exp.Export(context.Background(), sumMetric("pages", metricdata.DeltaTemporality,
		metricdata.DataPoint[int64]{Value: 1, Attributes: attribute.NewSet(attribute.String("org", "acme"), attribute.String("node", "n2"))},
		metricdata.DataPoint[int64]{Value: 1, Attributes: attribute.NewSet(attribute.String("org", "acme"), attribute.String("node", "n3"))}))
	elapsed := time.Since(start)
	var de *litewavemetric.DeferredError
	require.ErrorAs(t, err, &de)
	assert.GreaterOrEqual(t, elapsed, 300*time.Millisecond, "one request at a time, 150ms each")
	assert.Less(t, elapsed, 5*time.Second, "not the 10s default timeout")
	srv.SetFaultFunc(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, exp.Shutdown(ctx))

	c2, err := litewavemetric.NewClient(litewavemetric.WithAPIKey("option-key"), litewavemetric.WithConcurrency(8))
	require.NoError(t, err)
	defer c2.CloseIdleConnections()
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
	c.CloseIdleConnections()
}

// The instance id is part of every key: two exporters with the same id
// derive the same key for the same event, with different ids different
// keys.
func TestInstanceIDIsPartOfTheKey(t *testing.T) {
	keys := map[string][]string{}
	for _, id := range []string{"pod-a", "pod-a", "pod-b"} {
		srv := newServer(t, customers(1)...)
		exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint(srv.URL), litewavemetric.WithInstanceID(id))
		require.NoError(t, err)
		require.NoError(t, exp.Export(context.Background(), usage(1)))
		require.NoError(t, exp.Shutdown(context.Background()))
		keys[id] = append(keys[id], srv.Events()[0].IdempotencyKey)
	}
	assert.NotEqual(t, keys["pod-a"][0], keys["pod-b"][0])
	assert.NotEqual(t, keys["pod-a"][0], keys["pod-a"][1], "two events of one series never share a key: the window differs")
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
	srv.Script(litewavetest.Fault{Target: litewavetest.Events, Status: 503}, litewavetest.Fault{Target: litewavetest.Events, Status: 400})
	p := newPipeline(t, srv, litewavemetric.WithAPIKey(key), litewavemetric.WithLogger(logger))
	p.counter("pages").Add(context.Background(), 1, at("t1", "d1"))
	exportErr := p.collect()
	flushErr := p.flush()
	require.Error(t, exportErr)
	require.Error(t, flushErr)
	require.Equal(t, int64(1), srv.Stats().Accepted+srv.Stats().Rejected+int64(len(p.exp.Parked())), "the key was sent")
	// Rejections are logged outside the exporter's locks, so possibly just
	// after the flush returns.
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "rejected permanently") },
		10*time.Second, time.Millisecond, "the logger did receive the failures")

	printed := []string{
		fmt.Sprintf("%v", p.exp), fmt.Sprintf("%+v", p.exp), fmt.Sprintf("%#v", p.exp),
		fmt.Sprintf("%v", p.exp.Client()), fmt.Sprintf("%+v", *p.exp.Client()),
		exportErr.Error(), flushErr.Error(), logs.String(),
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
