package redact

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

const key = "tok_live_4f9a/b+c"

func TestScrubberReplacesEveryEncoding(t *testing.T) {
	s := NewScrubber(key, "dev")
	jsonKey, _ := json.Marshal(key)
	cases := map[string]string{
		"raw":                `{"detail":"invalid key tok_live_4f9a/b+c"}`,
		"JSON-escaped":       `{"detail":"invalid key ` + string(jsonKey[1:len(jsonKey)-1]) + `"}`,
		"escaped slash":      `{"detail":"invalid key tok_live_4f9a\/b+c"}`,
		"unicode escapes":    `{"detail":"invalid key \u0074ok_live_4f9a\u002fb\u002bc"}`,
		"percent-encoded":    `GET /check?key=` + url.QueryEscape(key) + `&x=1`,
		"path-escaped":       `/keys/` + url.PathEscape(key) + `/status`,
		"lower-case percent": `key=tok_live_4f9a%2fb%2bc`,
		"twice":              `tok_live_4f9a/b+c and again "tok_live_4f9a/b+c"`,
		"quoted by Go":       `"x-api-key: tok_live_4f9a/b+c"`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			out := s.String(body)
			assert.NotContains(t, out, "4f9a", out)
			assert.Contains(t, out, "[REDACTED]")
		})
	}
}

// A short secret is matched as a whole token only: "dev" stays inside
// "device.id" and "dev-1", and is scrubbed where it stands alone.
func TestScrubberMatchesWholeTokensOnly(t *testing.T) {
	s := NewScrubber("dev")
	assert.Equal(t, `device.id dev-1 devx _dev`, s.String(`device.id dev-1 devx _dev`))
	assert.Equal(t, `key "[REDACTED]" is wrong; [REDACTED].`, s.String(`key "dev" is wrong; dev.`))
	assert.Equal(t, `k=[REDACTED]&v=1`, s.String(`k=dev&v=1`))
	assert.Equal(t, `k%3D[REDACTED]%26`, s.String(`k%3Ddev%26`), "percent-escaped boundaries are boundaries")
}

func TestScrubberWithoutSecretsChangesNothing(t *testing.T) {
	var s *Scrubber
	b := []byte("tok_live_4f9a")
	assert.Equal(t, &b[0], &s.Bytes(b)[0])
	assert.Equal(t, &b[0], &NewScrubber("").Bytes(b)[0])
}

// FuzzScrubber: whatever surrounds a secret, written in whatever mix of
// encodings, what the scrubber returns never holds it raw, and text
// without secrets comes back unchanged. The corpus in testdata seeds
// secrets split across JSON escapes, repeated, and at the buffer's edges.
func FuzzScrubber(f *testing.F) {
	f.Add("k3y-secret", "", "", uint8(0))
	f.Add("k3y-secret", `{"e":"`, `"}`, uint8(0xff))
	f.Add("a/b\"c", "x", "y", uint8(0x5a))
	f.Add("ünï", `"`, `"`, uint8(0x33))
	f.Fuzz(func(t *testing.T, secret, prefix, suffix string, mix uint8) {
		if len(secret) < 3 || !utf8.ValidString(secret) || strings.ContainsAny(secret, "\x00\x01") {
			return
		}
		// The fuzzer picks, per character, raw or one of the escapes.
		var enc strings.Builder
		for i, r := range secret {
			switch (mix >> (i % 8)) & 3 {
			case 0:
				enc.WriteRune(r)
			case 1:
				b, _ := json.Marshal(string(r))
				enc.Write(b[1 : len(b)-1])
			case 2:
				enc.WriteString(url.PathEscape(string(r)))
			default:
				for _, u := range utf16(r) {
					enc.WriteString(`\u`)
					enc.WriteString(hex4s(u))
				}
			}
		}
		s := NewScrubber(secret)
		const sep = "\x01" // never in a secret, and not a token character
		if got := s.String(sep + enc.String() + sep + enc.String() + sep); got != sep+redacted+sep+redacted+sep {
			t.Fatalf("secret %q encoded as %q: got %q", secret, enc.String(), got)
		}
		if got, want := s.String(prefix+sep+enc.String()+sep+suffix), s.String(prefix)+sep+redacted+sep+s.String(suffix); got != want {
			t.Fatalf("in context: got %q, want %q", got, want)
		}
		if plain := prefix + suffix; !strings.Contains(plain, secret) && !strings.ContainsAny(plain, `\%+`) && s.String(plain) != plain {
			t.Fatalf("text without the secret changed: %q", plain)
		}
	})
}

func utf16(r rune) []rune {
	if r < 0x10000 {
		return []rune{r}
	}
	r -= 0x10000
	return []rune{0xd800 + r>>10, 0xdc00 + r&0x3ff}
}

func hex4s(r rune) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[r>>12&15], digits[r>>8&15], digits[r>>4&15], digits[r&15]})
}
