package litewavemetric_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// While the backend is down every collection's usage is kept and each
// Export says so; once it recovers everything counted is received, once.
func TestUsageKeptThroughOutageThenDelivered(t *testing.T) {
	srv := newServer(t, customers(3)...)
	var down atomic.Bool
	down.Store(true)
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
		if down.Load() {
			return litewavetest.Fault{Status: http.StatusServiceUnavailable}
		}
		return litewavetest.Fault{}
	})
	p := newPipeline(t, srv)
	c := p.counter("pages")
	counted := map[litewavetest.Series]int64{}
	for round := range 4 {
		for i := range 3 {
			n := int64(round*10 + i + 1)
			c.Add(context.Background(), n, at(tenantID(i), "d1"))
			counted[series(tenantID(i), "d1", "pages")] += n
		}
		err := p.collect()
		var de *litewavemetric.DeferredError
		require.ErrorAs(t, err, &de, "round %d", round)
		assert.Contains(t, de.Error(), "503")
	}
	assert.Zero(t, srv.Total())
	st := p.exp.Stats()
	assert.Equal(t, int64(3), st.OwedEvents, "one frozen event per series however long the outage")
	assert.Equal(t, sum(counted), st.OwedUnits)

	down.Store(false)
	require.NoError(t, p.flush())
	assert.Equal(t, counted, srv.Totals())
	assert.Zero(t, srv.Stats().Duplicates+srv.Stats().Conflicts)
	assert.Zero(t, p.exp.Stats().OwedUnits)
}

// meter-lib drops usage when the customer lookup fails; here it stays owed
// until the lookup succeeds, and a tenant without an account is retried
// after the miss lifetime.
func TestFailedLookupsKeepUsageOwed(t *testing.T) {
	srv := newServer(t)
	srv.Script(
		litewavetest.Fault{Target: litewavetest.Lookups, Status: http.StatusBadGateway},
		litewavetest.Fault{Target: litewavetest.Lookups, Drop: litewavetest.DropBeforeRead},
	)
	p := newPipeline(t, srv, litewavemetric.WithCustomerCache(time.Minute, 10*time.Millisecond))
	p.counter("pages").Add(context.Background(), 6, at("late", "d1"))
	err := p.collect()
	var de *litewavemetric.DeferredError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, int64(6), de.Units)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = p.exp.ForceFlush(ctx)
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, err, &ue, "no account yet: still owed")
	assert.Equal(t, int64(6), ue.Units)
	assert.GreaterOrEqual(t, p.exp.Stats().Lookups.Misses, int64(1))

	srv.SetCustomer("late", "cus_late")
	require.NoError(t, p.flush())
	assert.Equal(t, int64(6), srv.Totals()[series("late", "d1", "pages")])
	assert.Equal(t, "cus_late", srv.Events()[0].CustomerID)
}

// The wait before a retry is at least what the server's Retry-After asked,
// even though the backoff alone would retry much sooner.
func TestRetryAfterIsHonoured(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	srv.Script(litewavetest.Fault{Target: litewavetest.Events, Status: http.StatusTooManyRequests, RetryAfter: "1"})
	p := newPipeline(t, srv)
	p.counter("pages").Add(context.Background(), 1, at("t1", "d1"))
	var de *litewavemetric.DeferredError
	require.ErrorAs(t, p.collect(), &de)
	require.NoError(t, p.flush())

	var posts []litewavetest.Request
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPost {
			posts = append(posts, r)
		}
	}
	require.Len(t, posts, 2)
	gap := posts[1].Received.Sub(posts[0].Received)
	assert.GreaterOrEqual(t, gap, time.Second, "retried after %v, backoff alone is at most 20ms", gap)
	assert.Equal(t, posts[0].Header.Get("Idempotency-Key"), posts[1].Header.Get("Idempotency-Key"))
	assert.Equal(t, int64(1), srv.Total())
}

// A 4xx other than 408, 409 and 429 is permanent: the event is parked and
// reported by the Export that sent it, naming the series and the backend's
// answer; the other series still go out.
func TestPermanentRejectionIsParkedAndReported(t *testing.T) {
	srv := newServer(t, customers(2)...)
	srv.SetFaultFunc(func(r *http.Request, _ int) litewavetest.Fault {
		if r.Method == http.MethodPost && r.Header.Get("x-tenant-id") == tenantID(0) {
			return litewavetest.Fault{Status: http.StatusUnprocessableEntity, Body: `{"detail":"unknown meter"}`}
		}
		return litewavetest.Fault{}
	})
	p := newPipeline(t, srv)
	c := p.counter("pages")
	c.Add(context.Background(), 5, at(tenantID(0), "d1"))
	c.Add(context.Background(), 8, at(tenantID(1), "d1"))
	err := p.collect()
	var re *litewavemetric.RejectedError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, tenantID(0), re.Tenant)
	assert.Equal(t, int64(5), re.Units)
	assert.Equal(t, http.StatusUnprocessableEntity, re.StatusCode)
	assert.Contains(t, re.Error(), "unknown meter")
	assert.Equal(t, int64(8), srv.Total(), "the other series is billed")

	// Later usage of the rejected series is held behind the parked event;
	// ForceFlush reports the parked usage instead of waiting for it.
	c.Add(context.Background(), 2, at(tenantID(0), "d1"))
	require.NoError(t, p.collect())
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, p.flush(), &ue)
	assert.Equal(t, int64(7), ue.ParkedUnits)
	parked := p.exp.Parked()
	require.Len(t, parked, 1)
	assert.Equal(t, int64(5), parked[0].Units)
	assert.Equal(t, int64(2), parked[0].Held)

	// Once the backend accepts the meter, RetryParked delivers it all.
	srv.SetFaultFunc(nil)
	assert.Equal(t, 1, p.exp.RetryParked())
	require.NoError(t, p.flush())
	assert.Equal(t, int64(15), srv.Total())
}

// Redirects are not followed: the key and the usage stay with the
// configured endpoint, and the redirect is reported with where it pointed.
func TestRedirectsAreNotFollowed(t *testing.T) {
	target := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	redirector := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	redirector.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
		return litewavetest.Fault{Target: litewavetest.Events, Status: http.StatusTemporaryRedirect,
			Header: http.Header{"Location": {target.URL + "/api/v1/events"}}}
	})
	p := newPipeline(t, redirector, litewavemetric.WithAPIKey("k"))
	p.counter("pages").Add(context.Background(), 1, at("t1", "d1"))
	var re *litewavemetric.RejectedError
	require.ErrorAs(t, p.collect(), &re)
	assert.Equal(t, http.StatusTemporaryRedirect, re.StatusCode)
	assert.Contains(t, re.Message, target.URL, "the report says where the redirect pointed")
	assert.Zero(t, target.Stats().Requests, "neither the key nor the usage went there")

	_, err := p.exp.Client().PostMeterUsage(context.Background(), "t1", "d1", "pages", 1)
	var he *litewavemetric.HTTPError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, target.URL+"/api/v1/events", he.Location)
	assert.Zero(t, target.Stats().Requests)
}

// ForceFlush returns when its context ends, counting what is still owed;
// Shutdown does the same, stops every goroutine, and without a spool says
// the usage is lost.
func TestFlushAndShutdownHonourTheirContext(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv, litewavemetric.WithTimeout(100*time.Millisecond))
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
		return litewavetest.Fault{Target: litewavetest.Events, Delay: time.Hour}
	})
	p.counter("pages").Add(context.Background(), 3, at("t1", "d1"))
	var de *litewavemetric.DeferredError
	require.ErrorAs(t, p.collect(), &de, "the request timed out")

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.exp.ForceFlush(ctx)
	assert.Less(t, time.Since(start), 2*time.Second)
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, err, &ue)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, int64(3), ue.Units)

	ctx, cancel = context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start = time.Now()
	err = p.exp.Shutdown(ctx)
	assert.Less(t, time.Since(start), 2*time.Second)
	require.ErrorAs(t, err, &ue)
	assert.False(t, ue.Spooled)
	assert.Equal(t, int64(3), ue.Units)
	assert.Contains(t, err.Error(), "held in memory only")
}

// Export waits for the first attempt of its events only as long as its
// context allows; the usage is kept either way.
func TestExportHonoursItsContext(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
		return litewavetest.Fault{Target: litewavetest.Events, Delay: time.Hour}
	})
	p := newPipeline(t, srv, litewavemetric.WithTimeout(time.Second))
	p.counter("pages").Add(context.Background(), 3, at("t1", "d1"))
	rm := collectOnly(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := p.exp.Export(ctx, rm)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "kept")
	assert.Equal(t, int64(3), p.exp.Stats().OwedUnits)

	srv.SetFaultFunc(nil)
	require.NoError(t, p.flush(), "the stalled attempt times out and the retry delivers")
	assert.Equal(t, int64(3), srv.Total())
}

func sum[K comparable](m map[K]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// A lookup answer that is garbage, or has no id, is a failed lookup: the
// usage stays owed until a good answer comes.
func TestBadLookupAnswersKeepUsageOwed(t *testing.T) {
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
	defer exp.Shutdown(context.Background())
	require.Error(t, exp.Export(context.Background(), usage(1)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, exp.ForceFlush(ctx))
	st := exp.Stats()
	assert.Equal(t, int64(1), st.DeliveredUnits)
	assert.Equal(t, int64(2), st.Lookups.Failures, "garbage and no-id answers are failures")
	assert.Equal(t, int64(1), st.Lookups.Misses, "an empty list is a tenant without an account")
}
