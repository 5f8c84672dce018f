package litewavemetric_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// A stream goes on being billed to its series after the outbox forgot the
// series to make room at the series cap: the exporter remembers streams it
// has seen, and their series is found again by its key, in memory and with
// a spool.
func TestStreamOfAForgottenSeriesIsBilledAgain(t *testing.T) {
	t.Parallel()
	for name, spooled := range map[string]bool{"memory": false, "spool": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, customers(3)...)
			opts := []litewavemetric.Option{litewavemetric.WithMaxSeries(2)}
			if spooled {
				opts = append(opts, litewavemetric.WithSpoolDir(t.TempDir()))
			}
			p := newPipeline(t, srv, opts...)
			c := p.counter("pages")
			ctx := context.Background()
			c.Add(ctx, 1, at(tenantID(0), "a"))
			c.Add(ctx, 1, at(tenantID(1), "b"))
			require.NoError(t, p.flush())
			c.Add(ctx, 1, at(tenantID(2), "c")) // at the cap: a and b, delivered, are forgotten
			require.NoError(t, p.flush())
			c.Add(ctx, 5, at(tenantID(0), "a"))
			require.NoError(t, p.flush())

			assert.Equal(t, map[litewavetest.Series]int64{
				series(tenantID(0), "a", "pages"): 6,
				series(tenantID(1), "b", "pages"): 1,
				series(tenantID(2), "c", "pages"): 1,
			}, srv.Totals())
			assert.Equal(t, 2, p.exp.Stats().Series, "a is held again, beside c")
		})
	}
}
