package litewavemetric_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

func newClient(t *testing.T, srv *litewavetest.Server, opts ...litewavemetric.ClientOption) *litewavemetric.Client {
	t.Helper()
	c, err := litewavemetric.NewClient(append([]litewavemetric.ClientOption{litewavemetric.WithEndpoint(srv.URL)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestLookupCustomerObjectAndListAnswers(t *testing.T) {
	t.Parallel()
	for name, answer := range map[string]litewavetest.Fault{
		"object": {},
		"list":   {Target: "lookups", Answer: []byte(`[{"id":"cus_1","tenant_id":"t1"}]`)},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newServer(t, litewavetest.WithCustomer("t1", "cus_1"))
			srv.Script(answer)
			acct, err := newClient(t, srv).LookupCustomer(context.Background(), "t1")
			require.NoError(t, err)
			assert.Equal(t, "cus_1", acct.ID)
			assert.Contains(t, string(acct.Raw), `"tenant_id":"t1"`)
		})
	}
}

func TestLookupCustomerUnknownTenant(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	_, err := newClient(t, srv).LookupCustomer(context.Background(), "nobody")
	require.ErrorIs(t, err, litewavemetric.ErrNoCustomer)
	assert.Contains(t, err.Error(), "nobody")
}

// Answers the backend could send by mistake each give an error that says
// what was wrong, never a customer id made up of nothing.
func TestLookupCustomerBadAnswers(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		status int
		body   string
		want   string
	}{
		"empty list":     {200, `[]`, "no customer account"},
		"no id":          {200, `{"name":"acme"}`, `no "id"`},
		"garbage":        {200, `<html>gateway</html>`, "bad answer"},
		"huge":           {200, `{"id":"` + strings.Repeat("x", 100_000) + `"}`, "longer than 255"},
		"server error":   {500, `{"detail":"db down"}`, "HTTP 500"},
		"unauthorized":   {401, `{"detail":"bad key"}`, "HTTP 401"},
		"truncated json": {200, `{"id":"c1"`, "bad answer"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			c, err := litewavemetric.NewClient(litewavemetric.WithEndpoint(srv.URL), litewavemetric.WithAPIKey("top-secret-key"))
			require.NoError(t, err)
			defer c.Close()
			acct, err := c.LookupCustomer(context.Background(), "t1")
			require.Error(t, err)
			assert.Nil(t, acct)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "top-secret-key")
			assert.Less(t, len(err.Error()), 1200, "error bodies are quoted, not copied whole")
		})
	}
}

func TestPostMeterUsageReturnsTheBackendAnswer(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("tenant_123", "cus_9"))
	c := newClient(t, srv)
	answer, err := c.PostMeterUsage(context.Background(), "tenant_123", "device_456", "pages.processed.rate.hourly", 24)
	require.NoError(t, err)
	assert.Equal(t, "accepted", answer["status"])
	assert.NotEmpty(t, answer["id"])
	ev := srv.Events()[0]
	assert.Equal(t, "cus_9", ev.CustomerID)
	assert.Equal(t, int64(24), ev.TotalUsage)

	_, err = c.PostMeterUsage(context.Background(), "tenant_123", "device_456", "pages.processed.rate.hourly", 1)
	require.NoError(t, err)
	assert.Equal(t, int64(1), srv.Stats().Lookups, "the customer id is cached between posts")
}

// Where meter-lib returns None, the client returns an error naming the
// failure.
func TestPostMeterUsageErrorsSayWhatFailed(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	c := newClient(t, srv)
	ctx := context.Background()

	_, err := c.PostMeterUsage(ctx, "nobody", "d1", "m", 1)
	assert.ErrorIs(t, err, litewavemetric.ErrNoCustomer)

	_, err = c.PostMeterUsage(ctx, "../admin", "d1", "m", 1)
	assert.ErrorIs(t, err, litewavemetric.ErrInvalidID)
	_, err = c.PostMeterUsage(ctx, "t1", "d\r\n1", "m", 1)
	assert.ErrorIs(t, err, litewavemetric.ErrInvalidID)
	_, err = c.PostMeterUsage(ctx, "t1", "d1", "", 1)
	assert.ErrorContains(t, err, "empty meter id")
	_, err = c.PostMeterUsage(ctx, "t1", "d1", "m", -4)
	assert.ErrorContains(t, err, "negative")

	srv.Script(litewavetest.Fault{Target: "events", Status: 503, RetryAfter: "7"})
	_, err = c.PostMeterUsage(ctx, "t1", "d1", "m", 1)
	var he *litewavemetric.HTTPError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, 503, he.StatusCode)
	assert.Equal(t, 7*time.Second, he.RetryAfter)
	assert.True(t, he.Temporary())

	srv.Close()
	_, err = c.PostMeterUsage(ctx, "t1", "d1", "m", 1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "usage post")
	assert.False(t, errors.As(err, &he), "a network error is not an HTTP answer")
}

func TestClientTimeout(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault { return litewavetest.Fault{Delay: time.Hour} })
	c := newClient(t, srv, litewavemetric.WithTimeout(50*time.Millisecond))
	start := time.Now()
	_, err := c.LookupCustomer(context.Background(), "t1")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)
}
