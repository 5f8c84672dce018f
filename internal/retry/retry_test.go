package retry

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":      0,
		"0":     0,
		"-3":    0,
		"7":     7 * time.Second,
		" 120 ": 2 * time.Minute,
		"soon":  0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		"99999999999999999999":                            0, // does not parse as int64, nor as a date
		"9223372036854775807":                             time.Duration(1 << 62),
	}
	for in, want := range cases {
		assert.Equal(t, want, ParseRetryAfter(in, now), "Retry-After %q", in)
	}
}

func TestBackoffGrowsWithinBoundsAndJitters(t *testing.T) {
	p := Policy{Initial: 100 * time.Millisecond, Max: time.Second, MaxRetryAfter: time.Minute}
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

func TestWaitHonoursRetryAfterUpToCap(t *testing.T) {
	p := Policy{Initial: time.Millisecond, Max: 2 * time.Millisecond, MaxRetryAfter: 30 * time.Second}
	assert.Equal(t, 5*time.Second, p.Wait(1, 5*time.Second))
	assert.Equal(t, 30*time.Second, p.Wait(1, time.Hour))
	assert.LessOrEqual(t, p.Wait(3, 0), 2*time.Millisecond)
}

func TestRetryableStatus(t *testing.T) {
	for _, c := range []int{408, 409, 429, 500, 502, 503, 504, 599} {
		assert.True(t, RetryableStatus(c), "%d", c)
	}
	for _, c := range []int{200, 301, 307, 400, 401, 403, 404, 413, 422} {
		assert.False(t, RetryableStatus(c), "%d", c)
	}
}
