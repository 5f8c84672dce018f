package accounts

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
		`{"id":"` + strings.Repeat("c", 256) + `"}`: "longer than 255",
	}
	for in, want := range bad {
		_, _, err := CustomerID([]byte(in))
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
}

// FuzzCustomerID: any answer yields an id or an error, never a panic, and
// never an empty or over-long id without an error.
func FuzzCustomerID(f *testing.F) {
	for _, s := range []string{`{"id":"c"}`, `[{"id":1}]`, `[]`, `{}`, `{"id":null}`, `[{"id":"a"},{}]`, `x`, `{"id":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		id, _, err := CustomerID(body)
		if err == nil && (id == "" || len(id) > 255) {
			t.Fatalf("CustomerID(%q) returned id %q without an error", body, id)
		}
	})
}

// Only the API's own 404 says a tenant has no account; a server's or a
// proxy's 404 for a path it does not serve is a wrong URL.
func TestNoAccountAnswer(t *testing.T) {
	for body, want := range map[string]bool{
		`{"detail":"customer account not found"}`:  true,
		`{"detail": "Customer account not found"}`: true,
		`{"detail":"Not Found"}`:                   false,
		`{"detail":"not found"}`:                   false,
		"404 page not found":                       false,
		"<html><body>Not Found</body></html>":      false,
		"":                                         false,
	} {
		assert.Equal(t, want, noAccountAnswer(body), body)
	}
}
