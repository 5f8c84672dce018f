// Package redact keeps secrets (API keys, passwords) out of everything
// that prints.
package redact

import (
	"fmt"
	"log/slog"
)

// Secret holds a secret behind a pointer. fmt prints unexported struct
// fields by reflection, without calling their methods, so a string field
// would leak into a %v of whatever holds it; a pointer prints as an
// address. Printed directly, a Secret prints a placeholder.
type Secret struct{ p *string }

const redacted = "[REDACTED]"

// New keeps v; an empty v is no secret.
func New(v string) Secret {
	if v == "" {
		return Secret{}
	}
	return Secret{p: &v}
}

// Value returns the secret itself, for the one header that carries it.
func (s Secret) Value() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// Set reports whether there is a secret.
func (s Secret) Set() bool { return s.p != nil }

func (s Secret) String() string   { return s.mask() }
func (s Secret) GoString() string { return s.mask() }
func (s Secret) Format(f fmt.State, _ rune) {
	_, _ = f.Write([]byte(s.mask()))
}
func (s Secret) LogValue() slog.Value         { return slog.StringValue(s.mask()) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.mask()), nil }

func (s Secret) mask() string {
	if !s.Set() {
		return ""
	}
	return redacted
}
