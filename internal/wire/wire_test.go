package wire

import (
	"encoding/json"
	"math"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendEventIsValidJSONInFixedOrder(t *testing.T) {
	got := AppendEvent(nil, "pages.processed", 24, "cus_1")
	assert.Equal(t, `{"meter_id":"pages.processed","total_usage":24,"customer_id":"cus_1"}`, string(got))

	got = AppendEvent(nil, "a\"b\\c\n\x01", math.MaxInt64, "ü\u2028")
	var ev struct {
		Meter    string `json:"meter_id"`
		Total    int64  `json:"total_usage"`
		Customer string `json:"customer_id"`
	}
	require.NoError(t, json.Unmarshal(got, &ev))
	assert.Equal(t, "a\"b\\c\n\x01", ev.Meter)
	assert.Equal(t, int64(math.MaxInt64), ev.Total)
	assert.Equal(t, "ü\u2028", ev.Customer)
}

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

func TestCustomerID(t *testing.T) {
	ok := map[string]string{
		`{"id":"cus_1","tenant_id":"t"}`:  "cus_1",
		`[{"id":"cus_2"},{"id":"cus_3"}]`: "cus_2",
		` {"id": 42} `:                    "42",
		`[{"id":-7.5e3}]`:                 "-7.5e3",
	}
	for in, want := range ok {
		id, acct, err := CustomerID([]byte(in))
		require.NoError(t, err, in)
		assert.Equal(t, want, id, in)
		assert.NotEmpty(t, acct)
	}
	bad := map[string]string{
		``:                  "empty answer",
		`[]`:                "empty list",
		`{"name":"x"}`:      `no "id"`,
		`{"id":null}`:       `no "id"`,
		`{"id":""}`:         "empty",
		`{"id":{"a":1}}`:    "neither",
		`{"id":true}`:       "neither",
		`"cus_1"`:           "not a JSON object",
		`[1]`:               "not a JSON object",
		`<html>oops</html>`: "not a JSON object",
		`{"id":"x"`:         "not valid JSON",
		`[{"id":"x"}`:       "not a JSON list",
	}
	for in, want := range bad {
		_, _, err := CustomerID([]byte(in))
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
}

// FuzzCustomerID: any answer yields an id or an error, never a panic, and
// never an empty id without an error.
func FuzzCustomerID(f *testing.F) {
	for _, s := range []string{`{"id":"c"}`, `[{"id":1}]`, `[]`, `{}`, `{"id":null}`, `[{"id":"a"},{}]`, `x`, `{"id":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		id, _, err := CustomerID(body)
		if err == nil && id == "" {
			t.Fatalf("CustomerID(%q) returned an empty id without an error", body)
		}
	})
}

func TestAnswer(t *testing.T) {
	assert.Equal(t, map[string]any{"id": "evt_1"}, Answer([]byte(`{"id":"evt_1"}`)))
	assert.Equal(t, map[string]any{}, Answer(nil))
	assert.Equal(t, map[string]any{"raw": "accepted"}, Answer([]byte("accepted")))
}
