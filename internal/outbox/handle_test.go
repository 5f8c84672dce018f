package outbox

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A handle whose series was forgotten to make room keeps billing its usage
// to the series of its key, and is bound to that series again once used,
// so that its later points no longer look the key up.
func TestHandleOfAForgottenSeriesIsBoundAgain(t *testing.T) {
	o := newTestOutbox(t, &fakeBackend{}, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) { c.MaxSeries = 1 })
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
	c.IntKey(key("t1", "d2", "pages"), nil, 1) // at the cap: k1's series, delivered, is forgotten
	ingest(&c)
	require.False(t, h.Held())

	c.Int(&h, 2) // k1's series is found again by its key
	ingest(&c)
	c.Int(&h, 3)
	assert.True(t, h.Held(), "the handle is bound to the series found again")
	assert.Equal(t, k1, h.Key())
	ingest(&c)
	assert.Equal(t, int64(1+1+2+3), o.Stats().DeliveredUnits)
}
