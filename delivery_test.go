package litewavemetric_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// slowRetry is a backoff no test outlasts: whatever is delivered after a
// failure was brought forward by a flush.
var slowRetry = litewavemetric.WithRetry(litewavemetric.RetryConfig{InitialInterval: time.Hour, MaxInterval: time.Hour})

// deferred returns the DeferredErrors among reports.
func deferred(reports []error) []*litewavemetric.DeferredError {
	var out []*litewavemetric.DeferredError
	for _, err := range reports {
		var de *litewavemetric.DeferredError
		if errors.As(err, &de) {
			out = append(out, de)
		}
	}
	return out
}

// While the backend is down, usage is kept and owed, not a failed export;
// the provider's flush says what is owed; once the backend is back a flush
// delivers everything counted, once.
func TestUsageKeptThroughOutageThenDelivered(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(3)...)
	down := outage(srv)
	p := newPipeline(t, srv)
	c := p.counter("pages")
	counted := map[litewavetest.Series]int64{}
	for round := range 4 {
		for i := range 3 {
			n := int64(round*10 + i + 1)
			c.Add(context.Background(), n, at(tenantID(i), "d1"))
			counted[series(tenantID(i), "d1", "pages")] += n
		}
		err := p.flushWithin(owedWait)
		var ue *litewavemetric.UndeliveredError
		require.ErrorAs(t, err, &ue, "round %d", round)
		var he *litewavemetric.HTTPError
		require.ErrorAs(t, err, &he, "the cause is reachable")
		assert.Equal(t, http.StatusServiceUnavailable, he.StatusCode)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	}
	assert.Zero(t, srv.Total())
	st := p.exp.Stats()
	assert.LessOrEqual(t, st.OwedEvents, int64(3), "at most one frozen event per series however long the outage")
	assert.Equal(t, sum(counted), st.OwedUnits)

	down.Store(false)
	require.NoError(t, p.flush())
	assert.Equal(t, counted, srv.Totals())
	assert.Zero(t, srv.Stats().Duplicates+srv.Stats().Conflicts)
	assert.Zero(t, p.exp.Stats().OwedUnits)
}

// A transient failure, then the provider's ForceFlush: it delivers at once,
// on the short flush backoff, and returns nil, though the normal backoff is
// an hour.
func TestTransientFailureThenFlushDeliversAndReturnsNil(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(2)...)
	srv.Script(
		litewavetest.Fault{Target: "events", Status: http.StatusServiceUnavailable},
		litewavetest.Fault{Target: "events", DropBeforeRead: true},
		litewavetest.Fault{Target: "events", Status: http.StatusBadGateway},
	)
	p := newPipeline(t, srv, slowRetry)
	c := p.counter("pages")
	c.Add(context.Background(), 3, at(tenantID(0), "d"))
	c.Add(context.Background(), 4, at(tenantID(1), "d"))
	require.NoError(t, p.flush())
	assert.Equal(t, int64(7), srv.Total())
	assert.GreaterOrEqual(t, p.exp.Stats().Retries, int64(2))
}

// An outage that ends during Shutdown: the backend comes back while the
// provider shuts down, and everything is delivered before Shutdown returns
// nil, although each failed event waits an hour on the normal backoff. In
// memory and with a spool.
func TestOutageEndingDuringShutdownIsDelivered(t *testing.T) {
	t.Parallel()
	for _, spooled := range []bool{false, true} {
		t.Run(map[bool]string{false: "memory", true: "spool"}[spooled], func(t *testing.T) {
			srv := newServer(t, customers(3)...)
			var shuttingDown atomic.Bool
			var failedDuringShutdown atomic.Int64
			srv.SetFaultFunc(func(r *http.Request, _ int) litewavetest.Fault {
				// Down until Shutdown has failed a few times: the backend
				// comes back during the Shutdown.
				if !shuttingDown.Load() || failedDuringShutdown.Add(1) <= 3 {
					return litewavetest.Fault{Target: "events", Status: http.StatusServiceUnavailable}
				}
				return litewavetest.Fault{}
			})
			opts := []litewavemetric.Option{slowRetry}
			if spooled {
				opts = append(opts, litewavemetric.WithSpoolDir(t.TempDir()))
			}
			p := newPipeline(t, srv, opts...)
			c := p.counter("pages")
			for i := range 3 {
				c.Add(context.Background(), int64(i+1), at(tenantID(i), "d"))
			}
			require.Error(t, p.flushWithin(100*time.Millisecond), "down: the events wait on their hour")
			c.Add(context.Background(), 10, at(tenantID(0), "d")) // the final collection's usage
			shuttingDown.Store(true)
			require.NoError(t, p.shutdownWithin(4*time.Second))
			assert.Equal(t, int64(1+2+3+10), srv.Total())
		})
	}
}

// With the backend down for good, the provider's Shutdown returns the
// exporter's UndeliveredError, and says whether the usage is on disk; it
// does so even when the final collection had usage that cannot be billed.
func TestShutdownWithTheBackendDownTellsTheTruth(t *testing.T) {
	t.Parallel()
	for _, spooled := range []bool{false, true} {
		t.Run(map[bool]string{false: "memory", true: "spool"}[spooled], func(t *testing.T) {
			srv := newServer(t, customers(1)...)
			srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
				return litewavetest.Fault{Status: http.StatusServiceUnavailable}
			})
			var opts []litewavemetric.Option
			if spooled {
				opts = append(opts, litewavemetric.WithSpoolDir(t.TempDir()))
			}
			p := newPipeline(t, srv, opts...)
			c := p.counter("pages")
			c.Add(context.Background(), 6, at(tenantID(0), "d"))
			c.Add(context.Background(), 1, metric.WithAttributes(attribute.String("device.id", "d"))) // no tenant
			err := p.shutdownWithin(300 * time.Millisecond)
			var ue *litewavemetric.UndeliveredError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, int64(6), ue.Units)
			assert.Equal(t, spooled, ue.Spooled)
			var usageErr *litewavemetric.UsageError
			require.ErrorAs(t, err, &usageErr, "the final collection's problem is reported too")
			assert.Equal(t, "unattributed", usageErr.Problem)
			if spooled {
				assert.Contains(t, err.Error(), "kept in the spool")
			} else {
				assert.Contains(t, err.Error(), "lost when the process exits")
			}
		})
	}
}

// A redirect is a configuration problem, not a rejection: it is never
// followed, the usage stays owed and is reported as a configuration
// problem naming the setting, and once the endpoint is right it is
// delivered, without RetryRejected.
func TestRedirectIsConfigurationThenRecovers(t *testing.T) {
	reports := handleErrors(t)
	target := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	var redirecting atomic.Bool
	redirecting.Store(true)
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
		if !redirecting.Load() {
			return litewavetest.Fault{}
		}
		return litewavetest.Fault{Target: "events", Status: http.StatusTemporaryRedirect,
			Header: http.Header{"Location": {target.URL + "/api/v1/events"}}}
	})
	p := newPipeline(t, srv, litewavemetric.WithAPIKey("k"))
	p.counter("pages").Add(context.Background(), 1, at("t1", "d1"))
	err := p.flushWithin(300 * time.Millisecond)
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, int64(1), ue.Units, "owed")
	assert.Zero(t, ue.RejectedUnits, "not kept as rejected")
	var he *litewavemetric.HTTPError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusTemporaryRedirect, he.StatusCode)
	assert.Equal(t, target.URL+"/api/v1/events", he.Location)
	assert.Zero(t, target.Stats().Requests, "neither the key nor the usage went where it pointed")
	ds := deferred(reports.all())
	require.NotEmpty(t, ds)
	assert.Equal(t, "configuration", ds[0].Failure)
	assert.Contains(t, ds[0].Error(), "LITEWAVE_ENDPOINT")

	redirecting.Store(false)
	require.NoError(t, p.flush())
	assert.Equal(t, int64(1), srv.Total())
	assert.Empty(t, p.exp.Rejected())
}

// A refused API key reads as a configuration problem that names the key,
// not as an outage.
func TestRefusedKeyIsReportedAsConfiguration(t *testing.T) {
	reports := handleErrors(t)
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"), litewavetest.WithAPIKey("right"))
	p := newPipeline(t, srv, litewavemetric.WithAPIKey("wrong"))
	p.counter("pages").Add(context.Background(), 2, at("t1", "d1"))
	err := p.flushWithin(300 * time.Millisecond)
	var he *litewavemetric.HTTPError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusUnauthorized, he.StatusCode)
	ds := deferred(reports.all())
	require.Len(t, ds, 1, "one report, not one per attempt")
	assert.Equal(t, "configuration", ds[0].Failure)
	assert.Contains(t, ds[0].Error(), "LITEWAVE_API_KEY")
	assert.ErrorAs(t, ds[0], &he)
	t.Logf("a user sees: %v", ds[0])
}

// A tenant with no customer account is a configuration problem: the usage
// stays owed, and errors.Is finds ErrNoCustomer through the flush.
func TestTenantWithoutAccountIsReportedAsConfiguration(t *testing.T) {
	reports := handleErrors(t)
	srv := newServer(t)
	p := newPipeline(t, srv, litewavemetric.WithCustomerCache(time.Minute, 10*time.Millisecond))
	p.counter("pages").Add(context.Background(), 6, at("late", "d1"))
	err := p.flushWithin(300 * time.Millisecond)
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, int64(6), ue.Units)
	assert.ErrorIs(t, err, litewavemetric.ErrNoCustomer)
	ds := deferred(reports.all())
	require.NotEmpty(t, ds)
	assert.Equal(t, "configuration", ds[0].Failure)
	assert.ErrorIs(t, ds[0], litewavemetric.ErrNoCustomer)
	assert.Contains(t, ds[0].Error(), "customer account")
	assert.GreaterOrEqual(t, p.exp.Stats().Lookups.NoAccount, int64(1))

	srv.SetCustomer("late", "cus_late")
	require.NoError(t, p.flush())
	assert.Equal(t, int64(6), srv.Totals()[series("late", "d1", "pages")])
	assert.Equal(t, "cus_late", srv.Events()[0].CustomerID)
}

// A host that does not resolve (the built-in in-cluster endpoint, outside
// a cluster) is a configuration problem naming the endpoint. The lookup
// failure is made by the dialer: no test reaches a resolver.
func TestUnresolvableHostIsConfiguration(t *testing.T) {
	reports := handleErrors(t)
	warnings := captureDefaultLog(t)
	dns := &net.DNSError{Err: "no such host", Name: "metering.metering.svc.cluster.local", IsNotFound: true}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return nil, dns }}}
	exp, err := litewavemetric.New(context.Background(), litewavemetric.WithHTTPClient(hc), fastRetry)
	require.NoError(t, err)
	assert.Contains(t, warnings.String(), "using the built-in in-cluster endpoint; set LITEWAVE_ENDPOINT",
		"New says so even without a logger: outside a cluster it is why nothing is billed")
	p := pipelineOf(t, exp, pipelineOpts{})
	p.counter("pages").Add(context.Background(), 1, at("t1", "d1"))
	err = p.shutdownWithin(200 * time.Millisecond)
	var de *net.DNSError
	require.ErrorAs(t, err, &de)
	ds := deferred(reports.all())
	require.NotEmpty(t, ds)
	assert.Equal(t, "configuration", ds[0].Failure)
	assert.Contains(t, ds[0].Error(), "does not resolve: check LITEWAVE_ENDPOINT")
}

// Every error wraps its cause: through the provider's ForceFlush and
// Shutdown errors.As reaches the network error and errors.Is the context's.
func TestErrorsWrapNetworkAndContextErrors(t *testing.T) {
	t.Parallel()
	exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint(deadEndpoint(t)), fastRetry)
	require.NoError(t, err)
	p := pipelineOf(t, exp, pipelineOpts{})
	p.counter("pages").Add(context.Background(), 1, at("t1", "d1"))
	err = p.flushWithin(owedWait)
	var op *net.OpError
	require.ErrorAs(t, err, &op, "connection refused is reachable")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.True(t, strings.HasPrefix(err.Error(), "litewavemetric: "))
	err = p.shutdownWithin(owedWait)
	require.ErrorAs(t, err, &op)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// Failing attempts are reported when the outage begins and when it ends,
// never once per event per collection, and every report says where it
// comes from.
func TestOutageReportsAreFewAndPrefixed(t *testing.T) {
	reports := handleErrors(t)
	srv := newServer(t, customers(20)...)
	down := outage(srv)
	p := newPipeline(t, srv)
	c := p.counter("pages")
	for range 5 {
		for i := range 20 {
			c.Add(context.Background(), 1, at(tenantID(i), "d"))
		}
		require.Error(t, p.flushWithin(50*time.Millisecond))
	}
	down.Store(false)
	require.NoError(t, p.flush())
	ds := deferred(reports.all())
	require.Len(t, ds, 2, "began and resolved, for 100 events over 5 collections: %v", ds)
	assert.Equal(t, "outage", ds[0].Failure)
	assert.False(t, ds[0].Resolved)
	assert.True(t, ds[1].Resolved)
	for _, err := range reports.all() {
		assert.True(t, strings.HasPrefix(err.Error(), "litewavemetric: "), "%q", err)
	}
	t.Logf("a user sees: %v", ds[0])
	t.Logf("then: %v", ds[1])
}

// The wait before a retry is what the server's Retry-After asked, even
// during a flush and even though the normal backoff is an hour.
func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	srv.Script(litewavetest.Fault{Target: "events", Status: http.StatusTooManyRequests, RetryAfter: "1"})
	p := newPipeline(t, srv, slowRetry)
	p.counter("pages").Add(context.Background(), 1, at("t1", "d1"))
	require.NoError(t, p.flush())

	var posts []litewavetest.Request
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPost {
			posts = append(posts, r)
		}
	}
	require.Len(t, posts, 2)
	gap := posts[1].Received.Sub(posts[0].Received)
	assert.GreaterOrEqual(t, gap, time.Second, "retried after %v", gap)
	assert.Equal(t, posts[0].Header.Get("Idempotency-Key"), posts[1].Header.Get("Idempotency-Key"))
	assert.Equal(t, int64(1), srv.Total())
}

// A 4xx other than 401, 403, 408, 409 and 429 is a rejection: the event is
// kept and reported by the flush, naming the series and the
// backend's answer; the other series go out, and so does later usage of
// the rejected series. RetryRejected sends the rejected usage again.
func TestRejectionIsHeldAsideAndBlocksNothing(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(2)...)
	var rejected atomic.Bool
	srv.SetFaultFunc(func(r *http.Request, _ int) litewavetest.Fault {
		if r.Method == http.MethodPost && r.Header.Get("x-tenant-id") == tenantID(0) && rejected.CompareAndSwap(false, true) {
			return litewavetest.Fault{Status: http.StatusUnprocessableEntity, Body: `{"detail":"unknown meter"}`}
		}
		return litewavetest.Fault{}
	})
	p := newPipeline(t, srv)
	c := p.counter("pages")
	c.Add(context.Background(), 5, at(tenantID(0), "d1"))
	c.Add(context.Background(), 8, at(tenantID(1), "d1"))
	err := p.flush()
	var re *litewavemetric.RejectedError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, tenantID(0), re.Tenant)
	assert.Equal(t, int64(5), re.Units)
	assert.Equal(t, http.StatusUnprocessableEntity, re.StatusCode)
	assert.Contains(t, re.Error(), "unknown meter")
	var he *litewavemetric.HTTPError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, int64(8), srv.Total(), "the other series is billed")

	c.Add(context.Background(), 2, at(tenantID(0), "d1"))
	err = p.flush()
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, err, &ue, "every flush reports the rejected usage")
	assert.Equal(t, int64(5), ue.RejectedUnits)
	assert.Equal(t, int64(10), srv.Total(), "later usage of the rejected series was delivered")
	kept := p.exp.Rejected()
	require.Len(t, kept, 1)
	assert.Equal(t, int64(5), kept[0].Units)
	assert.Contains(t, kept[0].Reason, "unknown meter")

	assert.Equal(t, 1, p.exp.RetryRejected())
	require.NoError(t, p.flush())
	assert.Equal(t, int64(15), srv.Total())
	assert.Empty(t, srv.Conflicts(), "the retried usage took a new key")
}

// A tenant's account changes: the event bound to the old customer is
// rejected and kept, and the series' next events are bound to the
// new customer and delivered. RetryRejected looks the customer up afresh.
func TestAccountChangeRebindsLaterUsage(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "old"))
	p := newPipeline(t, srv)
	c := p.counter("pages")
	c.Add(context.Background(), 1, at("t1", "d1"))
	require.NoError(t, p.flush())
	srv.SetCustomer("t1", "new")
	c.Add(context.Background(), 2, at("t1", "d1"))
	var re *litewavemetric.RejectedError
	require.ErrorAs(t, p.flush(), &re, "bound to the cached old customer: rejected")
	c.Add(context.Background(), 3, at("t1", "d1"))
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, p.flush(), &ue)
	assert.Equal(t, int64(2), ue.RejectedUnits)
	assert.Equal(t, int64(1+3), srv.Total(), "later usage is bound to the new customer")
	assert.Equal(t, 1, p.exp.RetryRejected())
	require.NoError(t, p.flush())
	assert.Equal(t, int64(6), srv.Total())
	for _, ev := range srv.Events()[1:] {
		assert.Equal(t, "new", ev.CustomerID)
	}
}

// ForceFlush returns when its context ends, counting what is still owed;
// Shutdown does the same, stops every goroutine, and without a spool says
// the usage is lost.
func TestFlushAndShutdownHonourTheirContext(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
		return litewavetest.Fault{Target: "events", Delay: time.Hour}
	})
	p := newPipeline(t, srv, litewavemetric.WithTimeout(100*time.Millisecond))
	p.counter("pages").Add(context.Background(), 3, at("t1", "d1"))
	err := p.flushWithin(150 * time.Millisecond)
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, err, &ue)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, int64(3), ue.Units)

	err = p.shutdownWithin(150 * time.Millisecond)
	require.ErrorAs(t, err, &ue)
	assert.False(t, ue.Spooled)
	assert.Equal(t, int64(3), ue.Units)
	assert.Contains(t, err.Error(), "held in memory only")
}

// Export waits for the first attempt of its events only as long as its
// context allows; the usage is kept either way, and owed usage is no
// failed export.
func TestExportHonoursItsContext(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(1)...)
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
		return litewavetest.Fault{Target: "events", Delay: time.Hour}
	})
	exp := newExporter(t, srv, litewavemetric.WithTimeout(time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.NoError(t, exp.Export(ctx, usage(1)), "the usage is taken and owed")
	assert.Equal(t, int64(1), exp.Stats().OwedUnits)

	srv.SetFaultFunc(nil)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, exp.ForceFlush(ctx), "the stalled attempt times out and the retry delivers")
	assert.Equal(t, int64(1), srv.Total())
}

// A lookup answer that is garbage, or has no id, is a failed lookup: the
// usage stays owed until a good answer comes.
func TestBadLookupAnswersKeepUsageOwed(t *testing.T) {
	t.Parallel()
	answers := []string{`<html>proxy error</html>`, `{"name":"acme"}`, `[]`, `{"id":"c1"}`}
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			fmt.Fprint(w, answers[min(int(n.Add(1)-1), len(answers)-1)])
			return
		}
		b, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(b), `"customer_id":"c1"`) {
			http.Error(w, "bad customer", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint(srv.URL), fastRetry,
		litewavemetric.WithCustomerCache(time.Minute, time.Millisecond), litewavemetric.WithConcurrency(1))
	require.NoError(t, err)
	p := pipelineOf(t, exp, pipelineOpts{})
	p.counter("pages").Add(context.Background(), 1, at(tenantID(0), "d"))
	require.NoError(t, p.flush())
	st := exp.Stats()
	assert.Equal(t, int64(1), st.DeliveredUnits)
	assert.Equal(t, int64(2), st.Lookups.Failures, "garbage and no-id answers are failures")
	assert.Equal(t, int64(1), st.Lookups.NoAccount, "an empty list is a tenant without an account")
}

// deadEndpoint is a loopback address where nothing listens.
func deadEndpoint(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

// captureDefaultLog sends slog's default logger to a buffer for the test.
func captureDefaultLog(t *testing.T) *syncBuffer {
	t.Helper()
	buf := new(syncBuffer)
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return buf
}

// requireMissingTopicReported counts 4 units on p and checks that a flush
// within d leaves them owed, reported as a configuration problem that names
// the topic's variable.
func requireMissingTopicReported(t *testing.T, p *pipeline, reports *handled, d time.Duration) {
	t.Helper()
	p.counter("pages").Add(context.Background(), 4, at(tenantID(0), "d"))
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, p.flushWithin(d), &ue)
	assert.Equal(t, int64(4), ue.Units)
	ds := deferred(reports.all())
	require.NotEmpty(t, ds)
	assert.Equal(t, "configuration", ds[0].Failure)
	assert.Contains(t, ds[0].Error(), "LITEWAVE_KAFKA_TOPIC")
	t.Logf("a user sees: %v", ds[0])
}
