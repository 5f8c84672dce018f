package outbox

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A handle whose series was forgotten to make room keeps billing its usage
// to the series of its key, and is bound to that series again once used or
// checked, so that its later points no longer look the key up and the
// mapping does not take its stream for a forgotten one.
func TestHandleOfAForgottenSeriesIsBoundAgain(t *testing.T) {
	o := newTestOutbox(t, &fakeBackend{}, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) { c.MaxSeries = 2 })
	ingest := func(c *Collection) {
		t.Helper()
		r, rep := o.Ingest(c)
		wait(t, r)
		flush(t, o)
		require.Zero(t, rep.OverCapacity.Points)
	}
	var h Handle
	var c Collection
	c.IntKey(k1, &h, 1)
	ingest(&c)
	c.IntKey(key("t1", "d2", "pages"), nil, 1)
	c.IntKey(key("t1", "d4", "pages"), nil, 1) // at the cap: k1's series, delivered, is forgotten
	ingest(&c)
	require.False(t, h.Held())

	c.Int(&h, 2) // k1's series is found again by its key
	ingest(&c)
	c.IntKey(key("t1", "d3", "pages"), nil, 1) // an ingest that does not use the handle
	ingest(&c)
	assert.True(t, c.Held(&h), "unused since, the handle is still a held series': the mapping keeps its stream")
	c.Rebound()
	assert.True(t, h.Held(), "Held bound it to the series found again")
	c.Int(&h, 3)
	assert.Equal(t, k1, h.Key())
	ingest(&c)
	assert.Equal(t, int64(1+2+2+1+3), o.Stats().DeliveredUnits)
}
