package usage

import (
	"errors"
	"fmt"
)

// ErrInvalidID is wrapped by every error about a tenant, device or meter
// id that cannot be sent; the root package exports it.
var ErrInvalidID = errors.New("invalid id")

// CheckMeterID reports whether id may be used as a meter id: it travels in
// JSON bodies only, so any text of 1 to MaxMeterLength bytes (as
// OpenTelemetry bounds instrument names) is fine.
func CheckMeterID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty meter id", ErrInvalidID)
	case len(id) > MaxMeterLength:
		return fmt.Errorf("%w: meter id of %d bytes, longer than %d", ErrInvalidID, len(id), MaxMeterLength)
	}
	return nil
}
