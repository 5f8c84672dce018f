package kafkarest

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// Every body is valid JSON within its limits, holds the events in order,
// and together the bodies hold every event once, however odd the fields.
func TestBodiesSplitWithinLimits(t *testing.T) {
	strs := []string{"", "api_calls", `q"b\s`, "\n\r\t\x00\x1f\x7f", "\xff\xfe", "\u2028\u2029", "ü日本🙂", "<&>"}
	var evs []usage.Event
	for i, s := range strs {
		for j, n := range []int64{0, 1, math.MaxInt64, math.MinInt64} {
			evs = append(evs, usage.Event{ID: usage.ID{byte(i), byte(j)}, Key: usage.Key{Tenant: s, Device: s, Meter: s},
				Customer: s, Units: n, Start: n, End: n})
		}
	}
	for _, maxBytes := range []int{1, 600, 2000, math.MaxInt} {
		seen := 0
		for rest := evs; len(rest) > 0; {
			body, n := appendBody(nil, rest, 5, maxBytes)
			require.Positive(t, n)
			assert.LessOrEqual(t, n, 5)
			if n > 1 {
				assert.LessOrEqual(t, len(body), maxBytes)
			}
			var parsed struct {
				Records []struct {
					Key   string          `json:"key"`
					Value json.RawMessage `json:"value"`
				} `json:"records"`
			}
			require.NoError(t, json.Unmarshal(body, &parsed), "%s", body)
			require.Len(t, parsed.Records, n)
			for i, r := range parsed.Records {
				assert.Equal(t, rest[i].ID.String(), r.Key)
			}
			seen += n
			rest = rest[n:]
		}
		assert.Equal(t, len(evs), seen, "maxBytes %d", maxBytes)
	}
}

// bodyOf is the body of one request holding all of evs.
func bodyOf(evs []usage.Event) []byte {
	b, _ := appendBody(nil, evs, len(evs), math.MaxInt)
	return b
}
