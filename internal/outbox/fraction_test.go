package outbox

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRemainderBillsFloorOfTotal(t *testing.T) {
	var r Remainder
	var billed int64
	for range 3 {
		billed += r.Add(0.4)
	}
	assert.Equal(t, int64(1), billed, "0.4 three times is 1.2: one unit")
	assert.InDelta(t, 0.2, r.Value(), 1e-12)
}

func TestRemainderAbsorbsRepresentationError(t *testing.T) {
	var r Remainder
	var billed int64
	for range 10 {
		billed += r.Add(0.1)
	}
	assert.Equal(t, int64(1), billed, "ten times 0.1 is one unit, not zero")

	r = Remainder{}
	assert.Equal(t, int64(1), r.Add(0.7)+r.Add(0.2)+r.Add(0.1))
}

func TestRemainderDoesNotDriftOverManyCollections(t *testing.T) {
	var r Remainder
	var billed int64
	const n = 1_000_000
	for range n {
		billed += r.Add(12345.678)
	}
	// The exact total of the float64 nearest 12345.678, a million times.
	exact := math.Floor(12345.678 * n)
	assert.InDelta(t, exact, float64(billed), 1, "billed %d", billed)
	assert.GreaterOrEqual(t, r.Value(), -snap)
	assert.Less(t, r.Value(), 1.0)
}

func TestRemainderLargeValues(t *testing.T) {
	var r Remainder
	assert.Equal(t, int64(1<<52), r.Add(1<<52))
	assert.Equal(t, int64(0), r.Add(0.5))
	assert.Equal(t, int64(1), r.Add(0.5))
	assert.True(t, r.IsZero() || math.Abs(r.Value()) < snap)
}
