package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/litewavetest"
)

var postArgs = []string{"post", "--tenant", "acme", "--device", "scanner-1", "--meter", "pages.processed", "--usage", "24"}

var acmePages = litewavetest.Series{Tenant: "acme", Device: "scanner-1", Meter: "pages.processed"}

func TestPostThroughTheEventsAPI(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("acme", "cus_42"))
	res := litewave(t, []string{"LITEWAVE_ENDPOINT=" + srv.URL}, postArgs...)
	require.Equal(t, 0, res.code)

	var answer map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &answer), "the answer is printed as JSON")
	assert.Equal(t, "accepted", answer["status"])
	assert.Equal(t, map[litewavetest.Series]int64{acmePages: 24}, srv.Totals())
	assert.Equal(t, "cus_42", srv.Events()[0].CustomerID)
	assert.Zero(t, srv.Stats().Produces, "nothing went to the REST Proxy path")
}

func TestPostThroughTheKafkaRESTProxy(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("acme", "cus_42"))
	res := litewave(t, []string{"LITEWAVE_BACKEND=kafka-rest", "LITEWAVE_ENDPOINT=" + srv.URL, "LITEWAVE_KAFKA_REST_URL=" + srv.URL}, postArgs...)
	require.Equal(t, 0, res.code)

	var answer map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &answer))
	assert.Equal(t, "usage-events", answer["topic"])
	assert.Contains(t, answer, "offset")
	assert.Equal(t, map[litewavetest.Series]int64{acmePages: 24}, srv.Totals())
	require.Len(t, srv.Records(), 1)
	assert.Zero(t, srv.Stats().Posts, "nothing went to the events API")
}

// A post the backend refuses exits 1 and says what was refused.
func TestPostRefusedByTheBackend(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("acme", "cus_42"))
	srv.Script(litewavetest.Fault{Target: "events", Status: 422, Body: `{"detail":"meter unknown"}`})
	res := litewave(t, []string{"LITEWAVE_ENDPOINT=" + srv.URL}, postArgs...)
	assert.Equal(t, 1, res.code)
	assert.Empty(t, res.stdout)
	assert.Contains(t, res.stderr, "litewave: post of 24 units of pages.processed for tenant acme, device scanner-1, to the events API at "+srv.URL)
	assert.Contains(t, res.stderr, "HTTP 422")
	assert.Contains(t, res.stderr, "meter unknown")
	assert.Empty(t, srv.Totals())
}
