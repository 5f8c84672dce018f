package usage

import (
	"encoding/json"
	"math"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendStringAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "\xff\xfe", "tab\there", "<&>", "\u2029", "日本"} {
		var back string
		require.NoError(t, json.Unmarshal(AppendString(nil, s), &back), "%q", s)
		want := s
		if !utf8.ValidString(s) {
			want = string([]rune(s)) // invalid bytes become U+FFFD
		}
		assert.Equal(t, want, back)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "x", "\"\\", "\x00\x1f", "\xff", "\u2028", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("AppendString(%q) = %s: not valid JSON: %v", s, enc, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("round trip of %q gave %q", s, back)
		}
	})
}

// A record carries every field a consumer needs, since records have no
// headers, in a fixed order: the same event is the same bytes.
func TestAppendRecordIsFixedJSON(t *testing.T) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ev := Event{Key: Key{Tenant: "t1", Device: "d\"1", Meter: "pages"}, Customer: "cus_1", Units: math.MaxInt64,
		Start: start.UnixNano(), End: start.Add(1500 * time.Millisecond).UnixNano()}
	got := AppendRecord(nil, &ev)
	assert.Equal(t, `{"meter_id":"pages","customer_id":"cus_1","total_usage":9223372036854775807,"tenant_id":"t1","device_id":"d\"1",`+
		`"start_time":"2026-12-01T10:00:00Z","end_time":"2026-12-01T10:00:01.5Z"}`, string(got))
	assert.Equal(t, got, AppendRecord(nil, &ev))
	var back map[string]any
	require.NoError(t, json.Unmarshal(got, &back))
}

func TestRecordKeyIsTheQuotedID(t *testing.T) {
	id := DeriveID("i", Session{1}, Key{"t", "d", "m"}, 7)
	assert.Equal(t, `"`+id.String()+`"`, string(AppendRecordKey(nil, id)))
}

// Every input of an id changes it, the session above all: two exporters
// with the same instance id never share a key.
func TestDeriveIDDependsOnEveryInput(t *testing.T) {
	k := Key{"t", "d", "m"}
	base := DeriveID("inst", Session{1}, k, 1)
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, base.String())
	assert.Equal(t, base, DeriveID("inst", Session{1}, k, 1))
	for name, other := range map[string]ID{
		"instance": DeriveID("inst2", Session{1}, k, 1),
		"session":  DeriveID("inst", Session{2}, k, 1),
		"tenant":   DeriveID("inst", Session{1}, Key{"t2", "d", "m"}, 1),
		"device":   DeriveID("inst", Session{1}, Key{"t", "d2", "m"}, 1),
		"meter":    DeriveID("inst", Session{1}, Key{"t", "d", "m2"}, 1),
		"seq":      DeriveID("inst", Session{1}, k, 2),
		"boundary": DeriveID("inst", Session{1}, Key{"td", "", "m"}, 1),
	} {
		assert.NotEqual(t, base, other, name)
	}
}
