package litewavemetric_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric"
)

// A Shutdown that returned nil leaves nothing to replay: the next process
// on the same spool sends no request at all, neither an event nor a lookup,
// even when the last acknowledgements came during Shutdown itself and the
// spool carries fractions of a unit.
func TestRestartAfterCleanShutdownSendsNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := newServer(t, customers(7)...)
	p := newPipeline(t, srv, litewavemetric.WithSpoolDir(dir))
	pages, tokens := p.counter("pages"), p.floatCounter("tokens")
	ctx := context.Background()
	counted := map[string]int64{}
	count := func(round int) {
		for i := range 500 {
			tenant, device := tenantID(i%7), "dev-"+strconv.Itoa(i)
			pages.Add(ctx, int64(round+i%5+1), at(tenant, device))
			tokens.Add(ctx, 1.25, at(tenant, device))
			counted[crashKey(tenant, device, "pages")] += int64(round + i%5 + 1)
		}
	}
	count(0)
	require.NoError(t, p.flush())
	count(1) // delivered by Shutdown's own collection
	require.NoError(t, p.shutdownWithin(20*time.Second))
	for i := range 500 {
		counted[crashKey(tenantID(i%7), "dev-"+strconv.Itoa(i), "tokens")] = 2 // of 2.5: half a unit stays in the spool
	}
	require.Empty(t, mismatches(counted, totalsByKey(srv)), "[counted, billed]")
	before := srv.Stats()

	p2 := newPipeline(t, srv, litewavemetric.WithSpoolDir(dir))
	require.NoError(t, p2.flush())
	require.NoError(t, p2.shutdownWithin(10*time.Second))
	after := srv.Stats()
	assert.Equal(t, before.Requests, after.Requests, "requests after the restart")
	assert.Equal(t, before.Posts, after.Posts, "events posted after the restart")
	assert.Equal(t, before.Lookups, after.Lookups, "customer lookups after the restart")
}
