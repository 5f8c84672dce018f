package outbox

import "math"

// maxFloatUsage bounds one float delta so that its whole part fits an int64
// with room to accumulate.
const maxFloatUsage = 1 << 62

// Remainder carries the fractional part of float usage from one collection
// to the next, so that the whole units billed for a series always equal the
// floor of the float total counted, and never exceed it. It is an
// unevaluated sum Hi+Lo kept with compensated (TwoSum) arithmetic, exact
// enough that the carry does not drift however many collections it spans.
type Remainder struct {
	Hi, Lo float64
}

// IsZero reports whether nothing is carried.
func (r Remainder) IsZero() bool { return r.Hi == 0 && r.Lo == 0 }

// Value is the carried amount.
func (r Remainder) Value() float64 { return r.Hi + r.Lo }

// Add adds v (finite, 0 <= v <= maxFloatUsage) and returns the whole units
// that became due; what is left stays carried.
func (r *Remainder) Add(v float64) int64 {
	r.Hi, r.Lo = twoSum(r.Hi, v, r.Lo)
	whole := math.Floor(r.Hi + r.Lo)
	// The floor of the exact sum Hi+Lo: the rounded sum may reach an
	// integer the exact one falls short of. Hi-whole is exact (Sterbenz),
	// and the sign of a rounded sum is the sign of the exact one.
	if (r.Hi-whole)+r.Lo < 0 {
		whole--
	}
	if whole < 1 {
		return 0
	}
	// Hi and whole are within a factor of two of each other, so Hi-whole is
	// exact (Sterbenz) and the carried sum stays exact.
	r.Hi, r.Lo = twoSum(r.Hi-whole, r.Lo, 0)
	return int64(whole)
}

// twoSum returns a+b (+c) as a rounded sum and its exact rounding error.
func twoSum(a, b, c float64) (sum, err float64) {
	sum = a + b
	bv := sum - a
	err = (a - (sum - bv)) + (b - bv) + c
	return sum, err
}
