package redact

import (
	"bytes"
	"unicode/utf8"
)

// Scrubber replaces the values of secrets with [REDACTED] in text the
// exporter did not write: answer bodies, reasons, header values. A backend
// may echo a secret raw, JSON-escaped or percent-encoded, or mixing them
// (a "\u0074" for one letter), so each character of a secret matches in
// any of those forms. Only whole tokens match: a short secret such as
// "dev" is not replaced inside "device.id".
//
// Scrub before truncating or quoting: a cut could leave half a secret, and
// quoting escapes it again into a form that no longer reads as the body did.
type Scrubber struct {
	secrets []string
}

// NewScrubber scrubs the given secrets; empty ones are skipped.
func NewScrubber(secrets ...string) *Scrubber {
	s := &Scrubber{}
	for _, v := range secrets {
		if v != "" {
			s.secrets = append(s.secrets, v)
		}
	}
	return s
}

// Reach is the most bytes one secret can take in text, each of its bytes
// escaped: read this much past a cut before scrubbing, so that no secret
// straddles it.
func (s *Scrubber) Reach() int {
	n := 0
	if s != nil {
		for _, v := range s.secrets {
			n = max(n, 6*len(v))
		}
	}
	return n
}

// Bytes returns b with every secret replaced. It returns b itself when
// there is nothing to replace.
func (s *Scrubber) Bytes(b []byte) []byte {
	if !s.mayHold(b) {
		return b
	}
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		n := s.matchAt(b, i)
		if n == 0 {
			i++
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(b))
		}
		out = append(out, b[last:i]...)
		out = append(out, redacted...)
		i += n
		last = i
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// mayHold reports whether b may hold a secret: it has the first byte of
// one, or an escape. Most answers have neither, and are not scanned.
func (s *Scrubber) mayHold(b []byte) bool {
	if s == nil || len(s.secrets) == 0 {
		return false
	}
	if bytes.IndexByte(b, '\\') >= 0 || bytes.IndexByte(b, '%') >= 0 {
		return true
	}
	for _, v := range s.secrets {
		if bytes.IndexByte(b, v[0]) >= 0 || v[0] == ' ' && bytes.IndexByte(b, '+') >= 0 {
			return true
		}
	}
	return false
}

// String is Bytes for a string.
func (s *Scrubber) String(text string) string {
	if s == nil || len(s.secrets) == 0 {
		return text
	}
	if out := s.Bytes([]byte(text)); string(out) != text {
		return string(out)
	}
	return text
}

// matchAt returns the length of the longest secret standing as a whole
// token at b[i:], in any encoding, or 0. A secret's edge that is not a
// token character needs no boundary.
func (s *Scrubber) matchAt(b []byte, i int) int {
	tokenBefore := isToken(before(b, i))
	best := 0
	for _, secret := range s.secrets {
		first, _ := utf8.DecodeRuneInString(secret)
		if tokenBefore && isToken(first) {
			continue
		}
		last, _ := utf8.DecodeLastRuneInString(secret)
		encodedMatches(b[i:], secret, func(n int) {
			if n > best && !(isToken(last) && isToken(after(b, i+n))) {
				best = n
			}
		})
	}
	return best
}

// encodedMatches calls found with each length secret can have at the
// start of b, each of its characters raw or escaped. A character may read
// several ways (a backslash raw, or starting an escape), so each way is
// tried, each (position, rest of the secret) once: a body cannot make the
// search blow up.
func encodedMatches(b []byte, secret string, found func(n int)) {
	type state struct{ at, rest int }
	var seen map[state]bool
	var walk func(at, k int)
	walk = func(at, k int) {
		r, size := utf8.DecodeRuneInString(secret[k:])
		for _, n := range charAt(b[at:], r) {
			if k+size == len(secret) {
				found(at + n)
				continue
			}
			st := state{at + n, k + size}
			if seen[st] {
				continue
			}
			if seen == nil {
				seen = map[state]bool{}
			}
			seen[st] = true
			walk(st.at, st.rest)
		}
	}
	walk(0, 0)
}

// charAt returns the lengths r can have at the start of b: raw, a JSON
// escape, or percent-encoded (a space also as '+').
func charAt(b []byte, r rune) []int {
	var ways []int
	var enc [utf8.UTFMax]byte
	raw := enc[:utf8.EncodeRune(enc[:], r)]
	if len(b) >= len(raw) && string(b[:len(raw)]) == string(raw) {
		ways = append(ways, len(raw))
	}
	if got, n := decodeJSONEscape(b); n > 0 && got == r {
		ways = append(ways, n)
	}
	if r == ' ' && len(b) > 0 && b[0] == '+' {
		ways = append(ways, 1)
	}
	j := 0
	for _, c := range raw {
		v, ok := percentByte(b[j:])
		if !ok || v != c {
			return ways
		}
		j += 3
	}
	return append(ways, j)
}

// decodeJSONEscape decodes the JSON string escape at the start of b.
func decodeJSONEscape(b []byte) (rune, int) {
	if len(b) < 2 || b[0] != '\\' {
		return 0, 0
	}
	switch b[1] {
	case '"', '\\', '/':
		return rune(b[1]), 2
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		hi, ok := hex4(b[2:])
		if !ok {
			return 0, 0
		}
		if hi < 0xd800 || hi > 0xdbff {
			return hi, 6
		}
		if len(b) >= 12 && b[6] == '\\' && b[7] == 'u' {
			if lo, ok := hex4(b[8:]); ok && lo >= 0xdc00 && lo <= 0xdfff {
				return 0x10000 + (hi-0xd800)<<10 + (lo - 0xdc00), 12
			}
		}
	}
	return 0, 0
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var v rune
	for _, c := range b[:4] {
		d, ok := hexDigit(c)
		if !ok {
			return 0, false
		}
		v = v<<4 | rune(d)
	}
	return v, true
}

func percentByte(b []byte) (byte, bool) {
	if len(b) < 3 || b[0] != '%' {
		return 0, false
	}
	hi, ok1 := hexDigit(b[1])
	lo, ok2 := hexDigit(b[2])
	return hi<<4 | lo, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// before is the character that ends just before b[i], decoding an escape
// that ends there; -1 at the start.
func before(b []byte, i int) rune {
	if i == 0 {
		return -1
	}
	if i >= 3 {
		if v, ok := percentByte(b[i-3:]); ok {
			return rune(v)
		}
	}
	for _, n := range []int{12, 6, 2} {
		if i >= n {
			if r, m := decodeJSONEscape(b[i-n:]); m == n {
				return r
			}
		}
	}
	r, _ := utf8.DecodeLastRune(b[:i])
	return r
}

// after is the character that starts at b[j], decoding an escape; -1 at
// the end.
func after(b []byte, j int) rune {
	if j >= len(b) {
		return -1
	}
	if v, ok := percentByte(b[j:]); ok {
		return rune(v)
	}
	if r, n := decodeJSONEscape(b[j:]); n > 0 {
		return r
	}
	r, _ := utf8.DecodeRune(b[j:])
	return r
}

// isToken reports whether r would continue a token: a letter, a digit, '-'
// or '_'.
func isToken(r rune) bool {
	return r == '-' || r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r >= utf8.RuneSelf
}
