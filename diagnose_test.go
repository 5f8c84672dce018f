package litewavemetric_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// A 404 that is not the API's answer for a tenant without an account is a
// wrong URL: the report names the URL asked and the variable to fix, not a
// missing customer.
func TestWrongPathIsNamedNotTakenForAMissingCustomer(t *testing.T) {
	cases := map[string]struct {
		opts  func(url string) []litewavemetric.Option
		asked string // after the server's URL
		fix   string
	}{
		"endpoint ending in /api": {
			opts: func(url string) []litewavemetric.Option {
				return []litewavemetric.Option{litewavemetric.WithEndpoint(url + "/api")}
			},
			asked: "/api/api/v1/customer-accounts/tenant/acme", fix: "check LITEWAVE_ENDPOINT",
		},
		"endpoint ending in /api/v1/events": {
			opts: func(url string) []litewavemetric.Option {
				return []litewavemetric.Option{litewavemetric.WithEndpoint(url + "/api/v1/events")}
			},
			asked: "/api/v1/events/api/v1/customer-accounts/tenant/acme", fix: "check LITEWAVE_ENDPOINT",
		},
		"portal URL with a path": {
			opts: func(url string) []litewavemetric.Option {
				return []litewavemetric.Option{litewavemetric.WithEndpoint(url), litewavemetric.WithPortalURL(url + "/portal"),
					litewavemetric.WithAPIKey("k")}
			},
			asked: "/portal/metering/v1alpha1/customer-accounts/tenant/acme", fix: "check LITEWAVE_PORTAL_URL",
		},
		"usage posts to a wrong path": {
			opts: func(url string) []litewavemetric.Option {
				return []litewavemetric.Option{litewavemetric.WithEndpoint(url + "/v2"), litewavemetric.WithPortalURL(url),
					litewavemetric.WithAPIKey("k")}
			},
			asked: "/v2/api/v1/events", fix: "check LITEWAVE_ENDPOINT",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			reports := handleErrors(t)
			srv := newServer(t, litewavetest.WithCustomer("acme", "c1"))
			exp, err := litewavemetric.New(context.Background(), tc.opts(srv.URL)...)
			require.NoError(t, err)
			p := pipelineOf(t, exp, pipelineOpts{})
			p.counter("pages").Add(context.Background(), 3, at("acme", "d1"))
			err = p.flushWithin(30 * time.Second)
			want := `nothing serves this API at "` + srv.URL + tc.asked + `": ` + tc.fix
			var ue *litewavemetric.UndeliveredError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, int64(3), ue.Units, "owed, not rejected")
			assert.Contains(t, err.Error(), want)
			assert.NotErrorIs(t, err, litewavemetric.ErrNoCustomer)
			assert.NotContains(t, err.Error(), "no customer account")
			var he *litewavemetric.HTTPError
			require.ErrorAs(t, err, &he)
			assert.Equal(t, http.StatusNotFound, he.StatusCode)
			ds := deferred(reports.all())
			require.NotEmpty(t, ds)
			assert.Equal(t, "configuration", ds[0].Failure)
			assert.Contains(t, ds[0].Error(), want)
			t.Logf("a user sees: %v", ds[0])
		})
	}

	t.Run("the API's own answer is a missing customer", func(t *testing.T) {
		handleErrors(t)
		srv := newServer(t)
		p := newPipeline(t, srv)
		p.counter("pages").Add(context.Background(), 3, at("acme", "d1"))
		err := p.flushWithin(300 * time.Millisecond)
		require.ErrorIs(t, err, litewavemetric.ErrNoCustomer)
		assert.NotContains(t, err.Error(), "nothing serves this API")
	})
}

// A point without the id attributes says which keys were expected and
// which it has. Export returns that at every collection (the provider's
// ForceFlush returns it), while a program whose collections no flush
// returns hears of it once per change, not at every collection.
func TestMissingIDsAreReportedOncePerChange(t *testing.T) {
	reports := handleErrors(t)
	srv := newServer(t)
	exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint(srv.URL))
	require.NoError(t, err)
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(
		litewavemetric.NewPeriodicReader(exp, sdkmetric.WithInterval(5*time.Millisecond))))
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })

	// The application's keys, which it may change; each collection
	// observes one more unit under them.
	var keys atomic.Pointer[[]attribute.KeyValue]
	keys.Store(&[]attribute.KeyValue{attribute.String("tenant_id", "acme"), attribute.String("region", "eu"), attribute.String("device.id", "d1")})
	var n atomic.Int64
	_, err = provider.Meter("app").Int64ObservableCounter("pages", metric.WithInt64Callback(
		func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(n.Add(1), metric.WithAttributes(*keys.Load()...))
			return nil
		}))
	require.NoError(t, err)

	missingIDs := func() []string {
		var out []string
		for _, err := range reports.all() {
			var ue *litewavemetric.UsageError
			if errors.As(err, &ue) && ue.Problem == "unattributed" {
				out = append(out, err.Error())
			}
		}
		return out
	}
	collections := func(more int64) {
		want := exp.Stats().Exports + more
		require.Eventually(t, func() bool { return exp.Stats().Exports >= want }, 10*time.Second, time.Millisecond)
	}

	collections(6)
	require.Len(t, missingIDs(), 1, "one report while the problem lasts: %v", missingIDs())
	assert.Contains(t, missingIDs()[0], `of usage has no "tenant.id" attribute (it has: device.id, region, tenant_id); not billed; e.g. meter pages`)

	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := provider.ForceFlush(ctx)
		cancel()
		var ue *litewavemetric.UsageError
		require.ErrorAs(t, err, &ue, "the provider's flush returns the collection's error, every time")
		assert.Contains(t, ue.Error(), `has no "tenant.id" attribute`)
	}

	keys.Store(&[]attribute.KeyValue{attribute.String("tenant", "acme"), attribute.String("device", "d1")})
	require.Eventually(t, func() bool { return len(missingIDs()) == 2 }, 10*time.Second, time.Millisecond, "a change is reported")
	collections(6)
	require.Len(t, missingIDs(), 2, "once: %v", missingIDs())
	assert.Contains(t, missingIDs()[1], `has no "tenant.id" and no "device.id" attribute (it has: device, tenant)`)
	t.Logf("a user sees: %s", missingIDs()[1])
	t.Logf("%d collections, 2 reports", exp.Stats().Exports)
}

// The five-line program with a misnamed attribute: Shutdown returns the
// error, which the program prints; the exporter does not print it too.
func TestMissingIDIsNotPrintedTwice(t *testing.T) {
	reports := handleErrors(t)
	srv := newServer(t)
	p := newPipeline(t, srv)
	p.counter("pages").Add(context.Background(), 24, metric.WithAttributes(
		attribute.String("tenant_id", "acme"), attribute.String("device.id", "scanner-1")))
	err := p.shutdownWithin(10 * time.Second)
	var ue *litewavemetric.UsageError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, `litewavemetric: 1 point (24 units) of usage has no "tenant.id" attribute (it has: device.id, tenant_id); not billed; e.g. meter pages`, ue.Error())
	assert.Empty(t, reports.all(), "returned, so not reported a second time")
}

// Errors about the spool name the setting to fix: the variable or the
// option, with its value.
func TestSpoolErrorsNameTheSetting(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	dir := filepath.Join(file, "spool") // under a file: cannot be created

	_, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint("http://127.0.0.1:1"), litewavemetric.WithSpoolDir(dir))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `litewavemetric: spool in WithSpoolDir("`+dir+`")`)
	t.Logf("a user sees: %v", err)

	t.Setenv("LITEWAVE_SPOOL_DIR", dir)
	_, err = litewavemetric.New(context.Background(), litewavemetric.WithEndpoint("http://127.0.0.1:1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `litewavemetric: spool in LITEWAVE_SPOOL_DIR="`+dir+`"`)
	t.Logf("a user sees: %v", err)
}

// A Kafka broker that cannot be reached is reported as soon as franz-go
// gives up its dial, not when the records time out (30 s), and a flush
// that ends before then says why.
func TestUnreachableBrokerIsReportedAtOnce(t *testing.T) {
	reports := handleErrors(t)
	srv := newServer(t, litewavetest.WithCustomer("acme", "c1"))
	broker := "127.0.0.1:" + strconv.Itoa(freePort(t))
	start := time.Now()
	p := kafkaPipeline(t, srv, []string{broker})
	p.counter("pages").Add(context.Background(), 24, at("acme", "scanner-1"))
	want := "kafka broker " + broker + " cannot be reached: unable to dial: dial tcp " + broker
	require.Eventually(t, func() bool {
		for _, err := range reports.all() {
			if strings.Contains(err.Error(), want) {
				return true
			}
		}
		return false
	}, 10*time.Second, time.Millisecond)
	t.Logf("reported after %v", time.Since(start))
	for _, err := range reports.all() {
		if strings.Contains(err.Error(), want) {
			assert.Contains(t, err.Error(), "check LITEWAVE_KAFKA_BROKERS")
			assert.Contains(t, err.Error(), "usage is kept and retried")
			t.Logf("a user sees: %v", err)
		}
	}
	err := p.shutdownWithin(500 * time.Millisecond)
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, int64(24), ue.Units)
	assert.Contains(t, err.Error(), want, "the final error says why")
}
