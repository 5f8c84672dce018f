package litewavemetric

import (
	"fmt"
	"log/slog"
)

// secret holds the API key behind a pointer. fmt prints unexported struct
// fields by reflection, without calling their methods, so a string field
// would leak into a %v of the exporter; a pointer prints as an address.
// Printed directly, a secret prints a placeholder.
type secret struct{ p *string }

const redacted = "[REDACTED]"

func newSecret(v string) secret {
	if v == "" {
		return secret{}
	}
	return secret{p: &v}
}

func (s secret) value() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

func (s secret) set() bool { return s.p != nil }

func (s secret) String() string   { return s.mask() }
func (s secret) GoString() string { return s.mask() }
func (s secret) Format(f fmt.State, _ rune) {
	_, _ = f.Write([]byte(s.mask()))
}
func (s secret) LogValue() slog.Value         { return slog.StringValue(s.mask()) }
func (s secret) MarshalText() ([]byte, error) { return []byte(s.mask()), nil }

func (s secret) mask() string {
	if !s.set() {
		return ""
	}
	return redacted
}
