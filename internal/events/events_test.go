package events

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/usage"
)

func TestAppendBodyIsValidJSONInFixedOrder(t *testing.T) {
	ev := usage.Event{Key: usage.Key{Meter: "pages.processed"}, Units: 24, Customer: "cus_1"}
	assert.Equal(t, `{"meter_id":"pages.processed","total_usage":24,"customer_id":"cus_1"}`, string(AppendBody(nil, &ev)))

	ev = usage.Event{Key: usage.Key{Meter: "a\"b\\c\n\x01"}, Units: math.MaxInt64, Customer: "ü\u2028"}
	var back struct {
		Meter    string `json:"meter_id"`
		Total    int64  `json:"total_usage"`
		Customer string `json:"customer_id"`
	}
	require.NoError(t, json.Unmarshal(AppendBody(nil, &ev), &back))
	assert.Equal(t, "a\"b\\c\n\x01", back.Meter)
	assert.Equal(t, int64(math.MaxInt64), back.Total)
	assert.Equal(t, "ü\u2028", back.Customer)
}
