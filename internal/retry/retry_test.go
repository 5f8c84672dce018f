package retry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBackoffGrowsWithinBoundsAndJitters(t *testing.T) {
	p := Policy{InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, MaxRetryAfter: time.Minute}
	seen := map[time.Duration]bool{}
	for attempts := 1; attempts <= 10; attempts++ {
		want := min(100*time.Millisecond<<(attempts-1), time.Second)
		for range 50 {
			d := p.Backoff(attempts)
			assert.GreaterOrEqual(t, d, want/2, "attempt %d", attempts)
			assert.LessOrEqual(t, d, want, "attempt %d", attempts)
			seen[d] = true
		}
	}
	assert.Greater(t, len(seen), 20, "backoff must be jittered")
}

// The server's wait replaces the backoff (it is not combined with it), up
// to the cap.
func TestWaitIsTheServersWaitUpToCap(t *testing.T) {
	p := Policy{InitialInterval: time.Minute, MaxInterval: time.Hour, MaxRetryAfter: 30 * time.Second}
	assert.Equal(t, 5*time.Second, p.Wait(10, 5*time.Second), "a short Retry-After is not stretched to the backoff")
	assert.Equal(t, 30*time.Second, p.Wait(1, time.Hour))
	assert.GreaterOrEqual(t, p.Wait(1, 0), 30*time.Second)
}

func TestFlushBackoffStaysShort(t *testing.T) {
	for attempts := 1; attempts < 100; attempts++ {
		d := Flush.Backoff(attempts)
		assert.GreaterOrEqual(t, d, 12*time.Millisecond)
		assert.LessOrEqual(t, d, 400*time.Millisecond)
	}
}
