package outbox

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

// floorOfExactSum is the floor of the exact (unrounded) sum of vs, which
// are not negative.
func floorOfExactSum(vs []float64) int64 {
	sum := new(big.Float).SetPrec(4000)
	for _, v := range vs {
		sum.Add(sum, new(big.Float).SetFloat64(v))
	}
	i, _ := sum.Int(nil) // truncation is the floor of a sum that is not negative
	return i.Int64()
}

// After every addition the billed total is exactly the floor of the exact
// sum counted: never more, never less.
func TestRemainderBillsExactlyTheFloor(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		var r Remainder
		var billed int64
		var added []float64
		for range 50 {
			v := []float64{0.1, 0.2, 0.7, 0.3, 1e-10, 0.9999999995, rng.Float64() * 3, float64(rng.IntN(5)) / 10}[rng.IntN(8)]
			added = append(added, v)
			billed += r.Add(v)
			if want := floorOfExactSum(added); billed != want {
				t.Fatalf("trial %d: after %v billed %d, floor of the exact sum is %d", trial, added, billed, want)
			}
		}
	}
}

func TestRemainderNeverRoundsUp(t *testing.T) {
	var r Remainder
	assert.Equal(t, int64(0), r.Add(0.9999999995), "just under one unit is no unit")
	assert.Equal(t, int64(1), r.Add(0.5))
	assert.InDelta(t, 0.4999999995, r.Value(), 1e-15)

	r = Remainder{}
	var billed int64
	for range 10 {
		billed += r.Add(0.1)
	}
	assert.Equal(t, int64(1), billed, "ten float64 0.1s sum to just over one: one unit")

	r = Remainder{}
	assert.Equal(t, int64(0), r.Add(0.7)+r.Add(0.2)+r.Add(0.1), "float64 0.7+0.2+0.1 is just under one")
}

func TestRemainderDoesNotDriftOverManyCollections(t *testing.T) {
	var r Remainder
	var billed int64
	const n = 1_000_000
	for range n {
		billed += r.Add(12345.678)
	}
	exact := new(big.Float).SetPrec(200).Mul(new(big.Float).SetFloat64(12345.678), big.NewFloat(n))
	want, _ := exact.Int64()
	assert.Equal(t, want, billed)
	assert.GreaterOrEqual(t, r.Value(), 0.0)
	assert.Less(t, r.Value(), 1.0)
}

func TestRemainderLargeValues(t *testing.T) {
	var r Remainder
	assert.Equal(t, int64(1<<52), r.Add(1<<52))
	assert.Equal(t, int64(0), r.Add(0.5))
	assert.Equal(t, int64(1), r.Add(0.5))
	assert.True(t, r.IsZero() || math.Abs(r.Value()) < 1e-9)
}
