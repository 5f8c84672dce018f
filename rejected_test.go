package litewavemetric_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// Rejected usage has one shape wherever it shows: the RejectedError a
// flush returns is the one Exporter.Rejected lists, with the backend's
// answer reachable through errors.As, and RetryRejected empties the list.
func TestRejectedUsageHasOneShape(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "cus_1"))
	srv.Script(litewavetest.Fault{Target: "events", Status: http.StatusUnprocessableEntity, Body: `{"detail":"unknown meter"}`})
	p := newPipeline(t, srv)
	p.counter("pages").Add(context.Background(), 4, at("t1", "d1"))

	var fromFlush *litewavemetric.RejectedError
	require.ErrorAs(t, p.flush(), &fromFlush)
	listed := p.exp.Rejected()
	require.Len(t, listed, 1)
	assert.Equal(t, fromFlush.Error(), listed[0].Error(), "the flush and the list say the same")
	assert.Equal(t, litewavemetric.RejectedError{Tenant: "t1", Device: "d1", Meter: "pages", Units: 4, Events: 1,
		StatusCode: http.StatusUnprocessableEntity, Reason: listed[0].Reason, Since: listed[0].Since, Cause: listed[0].Cause}, *listed[0])
	assert.Contains(t, listed[0].Reason, "unknown meter")
	var he *litewavemetric.HTTPError
	require.ErrorAs(t, listed[0], &he, "the listed usage carries the backend's answer")
	assert.Equal(t, http.StatusUnprocessableEntity, he.StatusCode)
	assert.Equal(t, int64(4), p.exp.Stats().RejectedUnits)

	assert.Equal(t, 1, p.exp.RetryRejected())
	require.NoError(t, p.flush())
	assert.Empty(t, p.exp.Rejected())
	assert.Equal(t, int64(4), srv.Total(), "billed once the cause is gone")
}
